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
