//! Hand-made labs of the three data planes in shapes the article does not use, verified
//! without cnilab labels: three hosts on a `kind: bridge` switch with two pods each, pods
//! routed per /32 without a bridge (Calico), VXLAN on the kernel's default port and with
//! static per-peer FDB and neighbour entries (flannel), nodes named without numbers, a
//! management node that leads nowhere, and a damaged file. Root for the labs.

mod common;

use common::verify::{exec, pair, verify, verify_healthy};
use common::*;
use serde_json::Value;

const HOST_GW: &str = include_str!("fixtures/handmade/hostgw-three-hosts.clab.yaml");
const CALICO: &str = include_str!("fixtures/handmade/calico-routed.clab.yaml");
const VXLAN_8472: &str = include_str!("fixtures/handmade/vxlan-default-port.clab.yaml");
const VXLAN_FDB: &str = include_str!("fixtures/handmade/vxlan-static-fdb.clab.yaml");

/// The fixture under a name of this test's own, so runs in parallel do not meet.
fn handmade(text: &str, prefix: &str) -> LabGuard {
    let name = unique(prefix);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("name: "), "{first}");
    LabGuard::from_yaml(&name, &text.replacen(first, &format!("name: {name}"), 1))
}

/// Deploys `text`, verifies it under the loss rule, destroys it; returns the report.
fn verified(text: &str, prefix: &str) -> Value {
    require_root();
    let lab = handmade(text, prefix);
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
    report
}

fn wire(report: &Value, from: &str, to: &str) -> String {
    pair(report, from, to)["wire"].as_str().unwrap().to_string()
}

#[test]
fn three_hosts_on_a_bridge_with_two_pods_each_pass_every_pair() {
    let report = verified(HOST_GW, "hm3");
    assert_eq!(report["inferred"], "host-gw, 3 hosts, 6 pods, 0 routers");
    // carol turns forwarding on with `sysctl -qw` and addresses eth1 with `ip -4 a add`:
    // both read, so no warning that carol forwards only by inheritance.
    assert_eq!(
        report["warnings"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    assert_eq!(report["pairs"].as_array().unwrap().len(), 30);
    assert!(
        wire(&report, "cow", "ant").starts_with("plain IPv4 10.9.3.11 > 10.9.1.10"),
        "{report:#}"
    );
}

#[test]
fn pods_routed_without_a_bridge_pass_on_the_subnet_their_peers_route() {
    let report = verified(CALICO, "hmc");
    assert_eq!(report["inferred"], "host-gw, 2 hosts, 4 pods, 0 routers");
    assert_eq!(report["pairs"].as_array().unwrap().len(), 12);
    assert!(
        wire(&report, "ant", "bee").starts_with("plain IPv4 10.8.1.10 > 10.8.2.10"),
        "{report:#}"
    );
}

#[test]
fn vxlan_without_dstport_is_judged_on_the_kernels_8472() {
    let report = verified(VXLAN_8472, "hmv");
    assert_eq!(
        report["inferred"],
        "vxlan (VNI 7, UDP 8472), 2 hosts, 2 pods, 0 routers"
    );
    assert!(
        wire(&report, "bee", "ant").starts_with("VXLAN UDP/8472 vni 7 192.168.9.2>192.168.9.1"),
        "{report:#}"
    );
}

/// bob's device is `ip link add dev vx0 … type vxlan … dev eth1`: read as one key, its name
/// was `dev`, and bob was planned to reach alice plain.
#[test]
fn vxlan_with_static_fdb_and_neighbours_passes_both_ways() {
    let report = verified(VXLAN_FDB, "hmf");
    assert_eq!(
        report["inferred"],
        "vxlan (VNI 7, UDP 4789), 2 hosts, 2 pods, 0 routers"
    );
    for (from, to) in [("ant", "bee"), ("bee", "ant")] {
        assert!(
            wire(&report, from, to).starts_with("VXLAN vni 7"),
            "{report:#}"
        );
    }
}

/// The VTEP MACs that the file fixes and each peer programs become the plan, so a missing
/// entry is named as the one the lab programs, not as a flood entry it never meant to have.
#[test]
fn a_missing_static_fdb_entry_is_named_as_the_lab_programs_it() {
    require_root();
    let lab = handmade(VXLAN_FDB, "hmx");
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    exec(
        &lab,
        "bob",
        "bridge fdb del aa:bb:cc:00:00:01 dev vx0 dst 192.168.9.1",
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    for (from, to) in [("ant", "bee"), ("bee", "ant")] {
        let p = pair(&report, from, to);
        let why = p["reasons"].to_string();
        assert!(
            why.contains(
                "bob has no permanent FDB entry for aa:bb:cc:00:00:01 dst 192.168.9.1 on vx0"
            ),
            "{from} -> {to}: {why}"
        );
        assert!(!why.contains("flood entry"), "{from} -> {to}: {why}");
    }
}

/// A node with no address on a host's second link is a management box: no router, no
/// underlay, and not read from the running lab for its loopback.
#[test]
fn a_management_node_that_leads_nowhere_takes_no_role() {
    let text = HOST_GW.replacen("  links:\n", "    mgmt:\n      kind: linux\n  links:\n", 1)
        + "  - endpoints: [\"alice:eth9\", \"mgmt:eth1\"]\n";
    let report = verified(&text, "hmm");
    assert_eq!(report["inferred"], "host-gw, 3 hosts, 6 pods, 0 routers");
}

#[test]
fn a_route_out_of_a_device_nothing_makes_is_refused_with_its_line() {
    let text = VXLAN_8472.replacen("via 172.20.1.0 dev vx0", "via 172.20.1.0 dev vx1", 1);
    let lab = handmade(&text, "hmd");
    let out = cnilab()
        .args(["label", "-t"])
        .arg(&lab.file)
        .arg("-o")
        .arg(lab.dir.path().join("labelled.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "node `bob`, exec line 13 `ip route add 172.20.1.0/24 via 172.20.1.0 dev vx1 \
             onlink`: no link and no exec line of `bob` makes `vx1`"
        ),
        "{}",
        stderr(&out)
    );
}
