//! The flavors proven on the wire by `cnilab verify` (netns runtime, one pod per host): each
//! healthy flavor passes with its own encapsulation on the underlay, and breaking a flavor its
//! characteristic way fails exactly the pairs that cross the break. Root only.

mod common;

use common::verify::{exec, verify, verify_healthy};
use common::*;
use serde_json::Value;

fn deployed(mode: &str, flavor: &str, hosts: usize) -> LabGuard {
    deployed_k(mode, flavor, hosts, 1)
}

fn deployed_k(mode: &str, flavor: &str, hosts: usize, pods: usize) -> LabGuard {
    let (hosts, pods) = (hosts.to_string(), pods.to_string());
    LabGuard::deployed_with(
        "fvv",
        &[
            "--mode",
            mode,
            "--flavor",
            flavor,
            "--hosts",
            &hosts,
            "--pods-per-host",
            &pods,
        ],
    )
}

/// Which ordered pairs failed, as "from>to", sorted.
fn failed_pairs(report: &Value) -> Vec<String> {
    let mut v: Vec<String> = report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["passed"] == false)
        .map(|p| {
            format!(
                "{}>{}",
                p["from"].as_str().unwrap(),
                p["to"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

fn reasons_of(report: &Value, from: &str, to: &str) -> String {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from"] == from && p["to"] == to)
        .map(|p| p["reasons"].to_string())
        .unwrap_or_default()
}

/// The pair's first reason names the cause, as verify read it from the host.
fn assert_first_reason(report: &Value, from: &str, to: &str, cause: &str) {
    let pair = report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from"] == from && p["to"] == to)
        .unwrap_or_else(|| panic!("no pair {from}>{to}: {report:#}"));
    let first = pair["reasons"][0]["message"].as_str().unwrap_or_default();
    assert!(
        first.contains(cause),
        "{from}>{to}: expected the first reason to name `{cause}`, got {}",
        pair["reasons"]
    );
}

fn assert_passes_with_wire(mode: &str, flavor: &str, wire: &str) {
    let lab = deployed(mode, flavor, 3);
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{mode}/{flavor} must pass: {report:#}");
    for p in report["pairs"].as_array().unwrap() {
        let seen = p["wire"].as_str().unwrap();
        assert!(
            seen.contains(wire),
            "{mode}/{flavor}: expected `{wire}` in `{seen}`"
        );
    }
}

#[test]
fn flannel_vxlan_passes_on_8472_vni_1() {
    assert_passes_with_wire("vxlan", "flannel", "VXLAN UDP/8472 vni 1 ");
}

#[test]
fn calico_vxlan_passes_with_vni_4096() {
    assert_passes_with_wire("vxlan", "calico", "VXLAN vni 4096 ");
}

#[test]
fn cilium_vxlan_passes_with_the_routes_tunnel_key() {
    assert_passes_with_wire("vxlan", "cilium", "VXLAN UDP/8472 vni 256 ");
}

#[test]
fn flannel_host_gw_passes_in_plain_ipv4() {
    assert_passes_with_wire("host-gw", "flannel", "plain IPv4");
}

/// Both directions between pod1 and pod2 fail, and nothing else does.
fn assert_only_pod1_pod2_fail(report: &Value) {
    assert_eq!(
        failed_pairs(report),
        ["pod1>pod2", "pod2>pod1"],
        "{report:#}"
    );
}

#[test]
fn flannel_without_a_permanent_fdb_entry_fails_that_peer_only() {
    let lab = deployed("vxlan", "flannel", 3);
    exec(
        &lab,
        "host1",
        "bridge fdb del 02:cb:00:00:00:02 dev flannel.1 self",
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1);
    assert_only_pod1_pod2_fail(&report);
    let cause = "host1 has no permanent FDB entry for 02:cb:00:00:00:02 dst 10.0.2.2 on flannel.1";
    assert_first_reason(&report, "pod1", "pod2", cause);
    assert_first_reason(&report, "pod2", "pod1", cause);
}

#[test]
fn flannel_without_a_permanent_neighbour_fails_that_peer_only() {
    // No all-zeros FDB entry: the ARP the kernel now sends for 172.16.1.0 goes nowhere.
    let lab = deployed("vxlan", "flannel", 3);
    exec(&lab, "host1", "ip neigh del 172.16.1.0 dev flannel.1");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1);
    assert_only_pod1_pod2_fail(&report);
    let cause = "host1 has no permanent neighbour entry for 172.16.1.0 on flannel.1";
    assert_first_reason(&report, "pod1", "pod2", cause);
}

#[test]
fn flannel_with_the_port_changed_on_one_host_is_named() {
    let lab = deployed("vxlan", "flannel", 2);
    for line in [
        "ip link del flannel.1",
        "ip link add flannel.1 type vxlan id 1 dev eth1 local 10.0.2.2 dstport 4789 nolearning",
        "ip link set dev flannel.1 address 02:cb:00:00:00:02",
        "ip link set dev flannel.1 mtu 1450",
        "ip link set dev flannel.1 up",
        "ip addr add 172.16.1.0/32 dev flannel.1",
        "ip route add 172.16.0.0/24 via 172.16.0.0 dev flannel.1 onlink",
        "ip neigh add 172.16.0.0 lladdr 02:cb:00:00:00:01 dev flannel.1 nud permanent",
        "bridge fdb add 02:cb:00:00:00:01 dst 10.0.1.2 dev flannel.1 self permanent",
    ] {
        exec(&lab, "host2", line);
    }
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1);
    // host2 now sends on the IANA port, which the report leaves unwritten; the expected one is named.
    let reasons = reasons_of(&report, "pod2", "pod1");
    assert!(
        reasons.contains("expected UDP/8472 VXLAN vni 1")
            && !reasons.contains("saw VXLAN UDP/8472"),
        "the wrong port is named: {reasons}"
    );
    let cause = "host2's flannel.1 has UDP port 4789, the lab plans 8472 (cnilab.vxlan-port)";
    assert_first_reason(&report, "pod2", "pod1", cause);
    assert_first_reason(&report, "pod1", "pod2", cause);
}

#[test]
fn cilium_without_a_permanent_neighbour_names_it() {
    // The external device has no FDB: the neighbour entry is all that gives the inner frame
    // the peer's MAC, and an ARP it sends instead carries no tunnel key.
    let lab = deployed("vxlan", "cilium", 3);
    exec(&lab, "host1", "ip neigh del 172.16.1.0 dev cilium_vxlan");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1);
    assert_only_pod1_pod2_fail(&report);
    let cause = "host1 has no permanent neighbour entry for 172.16.1.0 on cilium_vxlan";
    assert_first_reason(&report, "pod2", "pod1", cause);
}

#[test]
fn calico_with_proxy_arp_off_on_a_cali_veth_fails_that_pods_pairs() {
    let lab = deployed("vxlan", "calico", 3);
    exec(
        &lab,
        "host1",
        "sysctl -w net.ipv4.conf.calipod1.proxy_arp=0",
    );
    // Whatever pod1 learnt about 169.254.1.1 before must not hide the break.
    exec(&lab, "pod1", "ip neigh flush dev eth1");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        failed_pairs(&report),
        ["pod1>pod2", "pod1>pod3", "pod2>pod1", "pod3>pod1"],
        "{report:#}"
    );
    assert_first_reason(
        &report,
        "pod3",
        "pod1",
        "host1 has proxy_arp off on calipod1",
    );
}

#[test]
fn calico_without_a_pod_route_blackholes_that_pod() {
    let lab = deployed("vxlan", "calico", 3);
    exec(&lab, "host2", "ip route del 172.16.1.2/32 dev calipod2");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        failed_pairs(&report),
        ["pod1>pod2", "pod2>pod1", "pod2>pod3", "pod3>pod2"],
        "{report:#}"
    );
    assert_first_reason(
        &report,
        "pod2",
        "pod3",
        "host2 has no route 172.16.1.2/32 dev calipod2",
    );
}

#[test]
fn same_host_pairs_pass_off_the_underlay_and_fail_on_it() {
    let lab = deployed_k("vxlan", "calico", 2, 2);
    let (code, report) = verify(&lab, &[]);
    assert_eq!(
        code, 0,
        "every pair, same-host ones included, must pass: {report:#}"
    );
    assert_eq!(report["pairs"].as_array().unwrap().len(), 12);
    // Send pod1-2's traffic through the tunnel: host2 routes it straight back, so the
    // same-host pair now crosses the underlay.
    exec(
        &lab,
        "host1",
        "ip route replace 172.16.0.3/32 via 172.16.1.0 dev vxlan.calico onlink",
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1);
    let reasons = reasons_of(&report, "pod1-1", "pod1-2");
    assert!(
        reasons.contains("request seen on host1-eth1 (host underlay): pods on the same host must talk over host1's bridge or veths"),
        "{reasons}"
    );
}

#[test]
fn one_pair_per_host_pair_is_a_choice_and_reported() {
    let lab = deployed_k("vxlan", "flannel", 3, 3);
    let out = lab.run(&["verify", "--json", "--pairs", "per-host-pair"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut pairs: Vec<String> = report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}>{}",
                p["from"].as_str().unwrap(),
                p["to"].as_str().unwrap()
            )
        })
        .collect();
    pairs.sort();
    // Six host pairs and, on each of the three hosts, one same-host pair.
    assert_eq!(
        pairs,
        [
            "pod1-1>pod1-2",
            "pod1-1>pod2-1",
            "pod1-1>pod3-1",
            "pod2-1>pod1-1",
            "pod2-1>pod2-2",
            "pod2-1>pod3-1",
            "pod3-1>pod1-1",
            "pod3-1>pod2-1",
            "pod3-1>pod3-2",
        ]
    );
    assert_eq!(report["probed"], "per-host-pair");
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.contains("one pod pair per host pair"), "{summary}");
    // The default stays every ordered pair: 9 pods, 72 pairs.
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0);
    assert_eq!(report["pairs"].as_array().unwrap().len(), 72);
    assert_eq!(report["probed"], "all");
}
