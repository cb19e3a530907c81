//! `cnilab up` and `cnilab down`: the whole job in one command, driven through the binary.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn up_generates_deploys_and_verifies_then_down_removes_everything() {
    require_root();
    // The guard owns the file `up` writes, so the lab is destroyed even if an assert fails.
    let lab = LabGuard::from_yaml(&unique("upvx"), "");
    std::fs::remove_file(&lab.file).unwrap();
    let out = cnilab()
        .args([
            "up", "--mode", "vxlan", "--hosts", "3", "--name", &lab.name, "--json", "-o",
        ])
        .arg(&lab.file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["pairs"].as_array().unwrap().len(), 6, "{report:#}");
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["summary"], "6/6 pairs passed (vxlan, 3 hosts)");
    assert_eq!(
        lab.namespaces().len(),
        3 * 3 + 1,
        "gw, host and pod per host, and the WAN switch, stay up"
    );

    let out = lab.run(&["down"]);
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
}

#[test]
fn up_needs_a_mode_and_hosts_or_a_file() {
    cnilab()
        .args(["up", "--hosts", "3"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--mode"));
}

/// up takes gen's hybrid flags (one definition, flattened into both): flannel's DirectRouting
/// reaches the file, and verify sees rack mates plain and the rest in VXLAN.
#[test]
fn up_takes_direct_routing_and_builds_the_hybrid_lab() {
    require_root();
    let lab = LabGuard::from_yaml(&unique("updr"), "");
    std::fs::remove_file(&lab.file).unwrap();
    let out = cnilab()
        .args([
            "up",
            "--mode",
            "vxlan",
            "--flavor",
            "flannel",
            "--direct-routing",
        ])
        .args(["--underlay", "racks:2", "--hosts", "4", "--name", &lab.name])
        .args(["--proto", "icmp", "--json", "-o"])
        .arg(&lab.file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&lab.file).unwrap();
    assert!(text.contains("cnilab.direct-to: \"2\""), "{text}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["passed"], true, "{report:#}");
    let wire = |from: &str, to: &str| {
        let p = common::verify::pair(&report, from, to);
        p["wire"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(wire("pod1", "pod2"), "plain IPv4 172.16.0.2 > 172.16.1.2");
    assert!(wire("pod1", "pod3").starts_with("VXLAN UDP/8472 vni 1"));
    let out = lab.run(&["down"]);
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
}

/// The hybrid flags go with --mode, as in gen; a hybrid flag where it does not apply is the
/// plan's refusal, exit 2, and nothing is written.
#[test]
fn up_refuses_the_hybrid_flags_without_a_mode_or_where_they_do_not_apply() {
    for flag in ["--direct-routing", "--cross-subnet"] {
        cnilab()
            .args(["up", "-t", "clab.yaml", flag])
            .assert()
            .code(2)
            .stderr(predicates::str::contains("--mode"));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    cnilab()
        .args([
            "up",
            "--mode",
            "ipip",
            "--flavor",
            "calico",
            "--cross-subnet",
        ])
        .args(["--hosts", "4", "-o"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--cross-subnet is calico's option on racks of hosts",
        ));
    assert!(!file.exists());
}
