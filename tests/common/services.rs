//! Helpers for the tests of labs with Services (`gen --services`).

use super::verify::verify;
use super::*;
use cnilab::family::{Family, IpFamily};
use cnilab::lab::Lab;
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

/// The row of one Service, kind of client and family (`ipv4`, `ipv6`).
pub fn row_in<'a>(report: &'a Value, service: &str, client: &str, family: &str) -> &'a Value {
    rows(report)
        .iter()
        .find(|r| r["service"] == service && r["client"] == client && r["family"] == family)
        .unwrap_or_else(|| panic!("no {service}/{client} row in {family}: {report:#}"))
}

/// A healthy IPv4 lab: see [`healthy_in`].
pub fn healthy(prefix: &str, mode: &[&str], kube_proxy: &str) {
    healthy_in(prefix, mode, kube_proxy, IpFamily::Ipv4);
}

/// A healthy lab of `ip_family`: verify passes, and in each family the lab carries every
/// endpoint is reached from pods and from outside, and each endpoint saw the source the data
/// plane gives it in that family.
pub fn healthy_in(prefix: &str, mode: &[&str], kube_proxy: &str, ip_family: IpFamily) {
    let mut args = mode.to_vec();
    args.extend([
        "--hosts",
        "3",
        "--services",
        "2",
        "--kube-proxy",
        kube_proxy,
        "--ip-family",
        ip_family.as_str(),
    ]);
    let lab = services_lab(prefix, &args);
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    let families = ip_family.families();
    assert_eq!(
        rows(&report).len(),
        5 * families.len(),
        "2 Services × pod, outside, and egress, in each family"
    );
    let lab_plan = lab.lab();
    for family in families {
        every_row_passes_in(&report, &lab_plan, family);
    }
}

fn every_row_passes_in(report: &Value, lab_plan: &Lab, family: Family) {
    let f = family.as_str();
    let services = lab_plan.services.as_ref().unwrap();
    for svc in ["svc1", "svc2"] {
        for client in ["pod", "outside"] {
            let r = row_in(report, svc, client, f);
            assert_eq!(r["passed"], true, "{r:#}");
            let vip = r["cluster_ip"].as_str().unwrap();
            assert_eq!(vip.contains(':'), family == Family::Ipv6, "{r:#}");
            let endpoints = names(&r["endpoints"], "pod");
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
        let r = row_in(report, svc, "pod", f);
        let hairpins: Vec<&str> = r["hairpins"]
            .as_array()
            .expect("hairpins")
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert_eq!(hairpins, names(&r["endpoints"], "pod"), "{r:#}");
        // From pods, a remote endpoint sees the client pod's own address in this family.
        let pods: Vec<String> = lab_plan
            .pods
            .iter()
            .map(|p| p.addr(family).to_string())
            .collect();
        let seen = sources(&row_in(report, svc, "pod", f)["sources_seen"]);
        assert!(seen.iter().any(|s| pods.contains(s)), "{seen:?}");
        // From outside under the cluster policy, never outside's own address.
        let outside = services.outside.addr(family).unwrap().to_string();
        let seen = sources(&row_in(report, svc, "outside", f)["sources_seen"]);
        assert!(seen.iter().all(|s| *s != outside), "{seen:?}");
    }
    let hosts: Vec<String> = lab_plan
        .hosts
        .iter()
        .map(|h| h.underlay(family).to_string())
        .collect();
    let egress = row_in(report, "egress", "egress", f);
    for s in sources(&egress["sources_seen"]) {
        assert!(hosts.contains(&s), "{egress:#}");
    }
}

fn names<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e[key].as_str().unwrap())
        .collect()
}

fn sources(seen: &Value) -> Vec<String> {
    names(seen, "source")
        .into_iter()
        .map(String::from)
        .collect()
}
