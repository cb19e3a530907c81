//! Helpers for the tests of labs with Services (`gen --services`).

use super::verify::verify;
use super::*;
use serde_json::Value;

/// `gen` with these flags into a folder of its own (the rules files go beside the topology),
/// then deploy; the guard destroys the lab.
pub fn services_lab(prefix: &str, args: &[&str]) -> LabGuard {
    require_root();
    let name = unique(prefix);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    let out = cnilab()
        .arg("gen")
        .args(args)
        .args(["--name", &name, "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "gen {args:?}: {}", stderr(&out));
    let lab = LabGuard {
        name,
        file,
        dir,
        env: Vec::new(),
    };
    let out = lab.deploy();
    assert!(out.status.success(), "deploy {args:?}: {}", stderr(&out));
    lab
}

pub fn exec(lab: &LabGuard, node: &str, line: &str) {
    let ns = format!("clab-{}-{node}", lab.name);
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns])
        .args(line.split_whitespace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{node}: {line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn rows(report: &Value) -> &Vec<Value> {
    report["services"].as_array().expect("a services array")
}

pub fn row<'a>(report: &'a Value, service: &str, client: &str) -> &'a Value {
    rows(report)
        .iter()
        .find(|r| r["service"] == service && r["client"] == client)
        .unwrap_or_else(|| panic!("no {service}/{client} row: {report:#}"))
}

pub fn messages(report: &Value) -> String {
    rows(report)
        .iter()
        .flat_map(|r| r["reasons"].as_array().unwrap().iter())
        .map(|r| r["message"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A healthy lab: verify passes, every endpoint is reached from pods and from outside, and
/// each endpoint saw the source the data plane gives it.
pub fn healthy(prefix: &str, mode: &[&str], kube_proxy: &str) {
    let mut args = mode.to_vec();
    args.extend([
        "--hosts",
        "3",
        "--services",
        "2",
        "--kube-proxy",
        kube_proxy,
    ]);
    let lab = services_lab(prefix, &args);
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        rows(&report).len(),
        5,
        "2 Services × pod, outside, and egress"
    );
    let lab_plan = lab.lab();
    for svc in ["svc1", "svc2"] {
        for client in ["pod", "outside"] {
            let r = row(&report, svc, client);
            assert_eq!(r["passed"], true, "{r:#}");
            let endpoints: Vec<&str> = r["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["pod"].as_str().unwrap())
                .collect();
            let reached: Vec<&str> = r["endpoints_reached"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap())
                .collect();
            assert_eq!(endpoints.len(), 2);
            assert_eq!(reached, endpoints, "{r:#}");
            assert!(!r["sources_seen"].as_array().unwrap().is_empty());
        }
        // Each endpoint reaches itself through the Service (hairpin), masqueraded to its host.
        let r = row(&report, svc, "pod");
        let hairpins: Vec<&str> = r["hairpins"]
            .as_array()
            .expect("hairpins")
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        let endpoints: Vec<&str> = r["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pod"].as_str().unwrap())
            .collect();
        assert_eq!(hairpins, endpoints, "{r:#}");
        // From pods, a remote endpoint sees the client pod's own address.
        let pods: Vec<String> = lab_plan.pods.iter().map(|p| p.v4().to_string()).collect();
        let seen = row(&report, svc, "pod")["sources_seen"]
            .as_array()
            .unwrap()
            .clone();
        assert!(
            seen.iter()
                .any(|s| pods.contains(&s["source"].as_str().unwrap().to_string())),
            "{seen:?}"
        );
        // From outside under the cluster policy, never outside's own address.
        let seen = row(&report, svc, "outside")["sources_seen"]
            .as_array()
            .unwrap()
            .clone();
        assert!(
            seen.iter().all(|s| s["source"] != "192.168.0.254"),
            "{seen:?}"
        );
    }
    let egress = row(&report, "egress", "egress");
    let hosts: Vec<String> = lab_plan
        .hosts
        .iter()
        .map(|h| h.v4_underlay().to_string())
        .collect();
    for s in egress["sources_seen"].as_array().unwrap() {
        assert!(
            hosts.contains(&s["source"].as_str().unwrap().to_string()),
            "{egress:#}"
        );
    }
}
