//! The article's own lab files, verbatim but for their names, verified without cnilab labels:
//! the plan inferred from their links and exec lines, the VXLAN lab's forwarding bug named at
//! host1 with the exec line that only looks like it turns forwarding on, and `cnilab label`
//! writing the same plan into a copy that containerlab's schema accepts. Root for the labs.

mod common;

use common::verify::{pair, verify, verify_healthy};
use common::*;
use serde_json::Value;

const HOST_GW: &str = include_str!("../examples/article/host-gw.clab.yaml");
const VXLAN: &str = include_str!("../examples/article/vxlan.clab.yaml");
const IPIP: &str = include_str!("../examples/article/ipip.clab.yaml");

/// The article's file under a name of this test's own, so runs in parallel do not meet.
fn article(text: &str, prefix: &str) -> LabGuard {
    let name = unique(prefix);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("name: "), "{first}");
    let renamed = text.replacen(first, &format!("name: {name}"), 1);
    LabGuard::from_yaml(&name, &renamed)
}

fn deployed(text: &str, prefix: &str) -> LabGuard {
    require_root();
    let lab = article(text, prefix);
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    lab
}

fn sysctl(lab: &LabGuard, node: &str, setting: &str) {
    let ns = format!("clab-{}-{node}", lab.name);
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns, "sysctl", "-qw", setting])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sysctl {setting} in {node}: {}",
        stderr(&out)
    );
}

fn reasons(p: &Value) -> String {
    p["reasons"].to_string()
}

#[test]
fn the_article_host_gw_lab_passes_on_an_inferred_plan() {
    let lab = deployed(HOST_GW, "ahg");
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["inferred"], "host-gw, 2 hosts, 2 pods, 0 routers");
    assert_eq!(report["pairs"].as_array().unwrap().len(), 2);
    let p = pair(&report, "pod1", "pod2");
    assert!(
        p["wire"]
            .as_str()
            .unwrap()
            .starts_with("plain IPv4 10.0.1.2 > 10.0.2.2"),
        "{p:#}"
    );
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
}

#[test]
fn the_article_vxlan_lab_fails_at_host1_until_it_forwards() {
    let lab = deployed(VXLAN, "avx");
    // As on a machine whose root namespace does not forward: the lab itself never turns
    // forwarding on in host1, so this is what host1 has wherever nothing else does.
    sysctl(&lab, "host1", "net.ipv4.ip_forward=0");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    for (from, to) in [("pod1", "pod2"), ("pod2", "pod1")] {
        let p = pair(&report, from, to);
        assert_eq!(p["passed"], false, "{p:#}");
        let why = reasons(p);
        assert!(
            why.contains("host1 does not forward IPv4 (net.ipv4.ip_forward = 0); the lab sets net.ipv4.conf.all.proxy_arp=1 on host1's exec line 4, which does not enable forwarding"),
            "{from} -> {to}: {why}"
        );
    }

    sysctl(&lab, "host1", "net.ipv4.ip_forward=1");
    sysctl(&lab, "host2", "net.ipv4.ip_forward=1");
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["inferred"],
        "vxlan (VNI 1, UDP 4789), 2 hosts, 2 pods, 2 routers"
    );
    let p = pair(&report, "pod1", "pod2");
    assert!(
        p["wire"]
            .as_str()
            .unwrap()
            .starts_with("VXLAN vni 1 10.0.1.2>10.0.2.2"),
        "{p:#}"
    );
    // The pods keep the links' MTU, above what flannel.1 carries, and host1 forwards by
    // something other than its lab: said, not failed.
    let warnings = report["warnings"].as_array().unwrap();
    let kinds: Vec<&str> = warnings
        .iter()
        .map(|w| w["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["pod_mtu", "pod_mtu", "inherited_forwarding"],
        "{report:#}"
    );
    assert_eq!(warnings[2]["node"], "host1");
    assert!(
        warnings[2]["message"]
            .as_str()
            .unwrap()
            .contains("proxy_arp=1 on host1's exec line 4"),
        "{report:#}"
    );

    // The labelled copy is judged as the inferred plan was.
    let labelled = lab.dir.path().join("labelled.yaml");
    let out = cnilab()
        .args(["label", "-t"])
        .arg(&lab.file)
        .arg("-o")
        .arg(&labelled)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cnilab()
        .args(["verify", "--json", "-t"])
        .arg(&labelled)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(again.get("inferred").is_none(), "{again:#}");
    let wires = |r: &Value| -> Vec<String> {
        r["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("{} {}", p["passed"], p["wire"]))
            .collect()
    };
    assert_eq!(wires(&again), wires(&report));
    assert_eq!(again["warnings"].as_array().unwrap().len(), 3);

    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
}

/// A node configured by hand after deploy, its exec lines setting nothing, is read from the
/// running lab; the file still wins for every node it configures.
#[test]
fn a_pod_configured_by_hand_is_read_from_the_running_lab() {
    let by_hand = [
        "ip addr add 172.16.1.2/24 dev eth1",
        "ip link set eth1 up",
        "ip route replace default via 172.16.1.1 dev eth1",
    ];
    let mut text = VXLAN.to_string();
    for line in by_hand {
        let at = text
            .rfind(&format!("        - {line}\n"))
            .expect("pod2's line");
        text.replace_range(at..at + line.len() + 11, "");
    }
    let lab = deployed(&text, "avh");
    for line in by_hand {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &format!("clab-{}-pod2", lab.name)])
            .args(line.split_whitespace())
            .output()
            .unwrap();
        assert!(out.status.success(), "{line}: {}", stderr(&out));
    }
    sysctl(&lab, "host1", "net.ipv4.ip_forward=1");
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["inferred"],
        "vxlan (VNI 1, UDP 4789), 2 hosts, 2 pods, 2 routers; read from the running lab: pod2"
    );
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
}

fn schema() -> jsonschema::Validator {
    let text = include_str!("schema/clab.schema.json");
    jsonschema::validator_for(&serde_json::from_str(text).unwrap()).unwrap()
}

#[test]
fn every_article_file_labelled_validates_and_keeps_its_lines() {
    let validator = schema();
    for (text, prefix) in [(HOST_GW, "lhg"), (VXLAN, "lvx"), (IPIP, "lip")] {
        let lab = article(text, prefix);
        let out = cnilab()
            .args(["label", "-t"])
            .arg(&lab.file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{prefix}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("plan inferred: "),
            "{}",
            stderr(&out)
        );
        let labelled = String::from_utf8(out.stdout).unwrap();
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&labelled).unwrap();
        let json = serde_json::to_value(yaml).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{prefix}: {errors:#?}");
        let original = std::fs::read_to_string(&lab.file).unwrap();
        let kept: Vec<&str> = labelled
            .lines()
            .filter(|l| !l.trim_start().starts_with("cnilab.") && l.trim() != "labels:")
            .collect();
        assert_eq!(kept, original.lines().collect::<Vec<_>>(), "{prefix}");

        // A file that carries labels is not labelled again.
        std::fs::write(&lab.file, &labelled).unwrap();
        let out = cnilab()
            .args(["label", "-t"])
            .arg(&lab.file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("carries cnilab labels already"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_lab_that_is_none_of_the_three_is_exit_2_naming_what_is_missing() {
    let lab = LabGuard::from_yaml(
        "flat",
        "name: flat\ntopology:\n  nodes:\n    br:\n      kind: bridge\n    a:\n      kind: linux\n      exec:\n      - ip addr add 10.1.0.1/24 dev eth1\n    b:\n      kind: linux\n      exec:\n      - ip addr add 10.1.0.2/24 dev eth1\n  links:\n  - endpoints: [\"a:eth1\", \"br:p1\"]\n  - endpoints: [\"b:eth1\", \"br:p2\"]\n",
    );
    for command in ["verify", "label", "graph"] {
        let out = lab.run(&[command]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("its plan cannot be inferred") && err.contains("no node carries pods"),
            "{command}: {err}"
        );
    }
}
