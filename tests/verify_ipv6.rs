//! verify on IPv6-only labs: every pod pair probed and judged in IPv6 alone (no IPv4 side to
//! fall back on), and the faults of an IPv6 lab named. Root only.

mod common;

use common::verify::{exec, pair, reasons, rebuild_ipv6_vtep, verify, verify_healthy};
use common::*;
use serde_json::Value;

/// An IPv6-only lab of 3 hosts generated with `args` (beside `--ip-family ipv6 --hosts 3`),
/// deployed.
fn deployed_ipv6(prefix: &str, args: &[&str]) -> LabGuard {
    require_root();
    let mut all = vec!["--ip-family", "ipv6", "--hosts", "3"];
    all.extend_from_slice(args);
    LabGuard::deployed_with(prefix, &all)
}

fn rows(report: &Value) -> &Vec<Value> {
    report["pairs"].as_array().unwrap()
}

/// Every pair is an IPv6 one between the pods' IPv6 addresses, passed with the wire `shape`
/// promises; the summary and `families` say IPv6 alone was proven. Returns the report.
fn assert_every_pair_passes_in_ipv6(lab: &LabGuard, shape: &str) -> Value {
    let (code, report) = verify_healthy(lab, &[]);
    assert_eq!(rows(&report).len(), 6, "3 hosts of one pod: {report:#}");
    for p in rows(&report) {
        let (from, to) = (&p["from"], &p["to"]);
        assert_eq!(p["family"], "ipv6", "{p:#}");
        assert_eq!(p["passed"], true, "{from} -> {to}: {:?}", reasons(p));
        for end in ["from_ip", "to_ip"] {
            let ip = p[end].as_str().unwrap();
            assert!(ip.starts_with("fd00:"), "{from} -> {to}: {end} {ip}");
        }
        let wire = p["wire"].as_str().unwrap();
        assert!(wire.starts_with(shape), "{from} -> {to}: {wire}");
        assert!(!wire.contains('.'), "no IPv4 address on the wire: {wire}");
    }
    assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
    let families = report["families"].as_array().unwrap();
    assert_eq!(families.len(), 1, "{report:#}");
    assert_eq!(families[0]["family"], "ipv6");
    assert_eq!(families[0]["proven"], true);
    let summary = report["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        "6/6 pairs passed (vxlan, 3 hosts; IPv6 only)"
            .replace("vxlan", report["mode"].as_str().unwrap())
    );
    assert_eq!(code, 0, "{report:#}");
    report
}

#[test]
fn host_gw_ipv6_passes_every_pair() {
    let lab = deployed_ipv6("v6hg-", &["--mode", "host-gw"]);
    assert_every_pair_passes_in_ipv6(&lab, "plain IPv6");
}

/// The article's VXLAN over its routed underlay, in IPv6: the outer header is IPv6 too.
#[test]
fn vxlan_ipv6_over_its_routed_underlay_passes_every_pair() {
    let lab = deployed_ipv6("v6vx-", &["--mode", "vxlan"]);
    let report = assert_every_pair_passes_in_ipv6(&lab, "VXLAN vni 1 fd00:10:0:");
    let wire = pair(&report, "pod1", "pod3")["wire"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(wire.contains("fd00:10:0:1::2>fd00:10:0:3::2"), "{wire}");
}

/// flannel's lab in IPv6 has only its IPv6 VTEP (`flannel-v6.1`): what verify reads back of
/// the programmed state asks for that device, not for the IPv4 one the lab does not make (no
/// warning, as every healthy lab here).
#[test]
fn flannel_vxlan_ipv6_passes_every_pair_without_a_warning() {
    let lab = deployed_ipv6("v6fl-", &["--mode", "vxlan", "--flavor", "flannel"]);
    assert_every_pair_passes_in_ipv6(&lab, "VXLAN UDP/8472 vni 1");
}

/// host-gw on two racks in IPv6: rack mates pass, and every pair across the racks dies where
/// the lab declares it will (static routing teaches the rack routers no pod prefix).
#[test]
fn racked_host_gw_ipv6_passes_rack_mates_and_fails_across_racks_as_declared() {
    let lab = deployed_ipv6("v6rk-", &["--mode", "host-gw", "--underlay", "racks:2"]);
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 0, "{report:#}");
    let declared: Vec<&Value> = rows(&report)
        .iter()
        .filter(|p| !p["expected_failure"].is_null())
        .collect();
    assert!(
        !declared.is_empty(),
        "a cross-rack pair is declared broken: {report:#}"
    );
    for p in rows(&report) {
        assert_eq!(p["family"], "ipv6", "{p:#}");
        assert_eq!(p["passed"], true, "{p:#}");
    }
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("IPv6 only") && summary.contains("failed as the lab expects"),
        "{summary}"
    );
}

/// host1 loses its route to host3's pod prefix: the pairs between pod1 and pod3 fail (the
/// request leaves by the default route, in plain), named first by the route host1 lacks; the
/// others pass.
#[test]
fn a_missing_ipv6_route_in_an_ipv6_lab_fails_those_pairs_only() {
    let lab = deployed_ipv6("v6rt-", &["--mode", "vxlan", "--flavor", "flannel"]);
    exec(&lab, "host1", "ip -6 route del fd00:172:16:2::/64");
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    for (from, to) in [("pod1", "pod3"), ("pod3", "pod1")] {
        let p = pair(&report, from, to);
        assert_eq!(p["passed"], false, "{p:#}");
        let why = reasons(p).join("\n");
        assert!(why.contains("plain"), "{from} -> {to}: {why}");
        assert!(
            why.contains(
                "host1 has no route fd00:172:16:2::/64 via fd00:172:16:2:: dev flannel-v6.1"
            ),
            "{from} -> {to}: {why}"
        );
    }
    for (from, to) in [("pod1", "pod2"), ("pod2", "pod3"), ("pod3", "pod2")] {
        assert_eq!(pair(&report, from, to)["passed"], true, "{from} -> {to}");
    }
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.starts_with("4/6 pairs passed"), "{summary}");
}

/// host2's IPv6 VTEP rebuilt on the wrong UDP port: its pairs fail on the wire, and the
/// programmed state names the device and the port the lab plans.
#[test]
fn an_ipv6_vtep_on_the_wrong_port_is_named_from_the_host() {
    let lab = deployed_ipv6("v6pt-", &["--mode", "vxlan"]);
    rebuild_ipv6_vtep(&lab, 1, 8472);
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    let why = reasons(pair(&report, "pod1", "pod2")).join("\n");
    assert!(
        why.contains("host2's flannel-v6.1 has UDP port 8472, the lab plans 4789"),
        "{why}"
    );
    assert_eq!(pair(&report, "pod1", "pod3")["passed"], true);
}

/// The article's flood-and-learn VXLAN in IPv6, host1 without its flood entry for host3's
/// IPv6 VTEP: the gap is named with host3's IPv6 underlay address.
#[test]
fn a_missing_ipv6_flood_entry_is_named_with_the_peers_ipv6_address() {
    let lab = deployed_ipv6("v6fd-", &["--mode", "vxlan"]);
    let l = lab.lab();
    let host3 = l.hosts[2].v6.as_ref().unwrap().underlay_ip;
    let dev = l.hosts[0].v6.as_ref().unwrap().tunnel_dev.clone().unwrap();
    exec(
        &lab,
        "host1",
        &format!("bridge fdb del 00:00:00:00:00:00 dst {host3} dev {dev}"),
    );
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    let why = reasons(pair(&report, "pod1", "pod3")).join("\n");
    assert!(
        why.contains(&format!("host1 has no flood entry for {host3}")),
        "{why}"
    );
    assert_eq!(pair(&report, "pod1", "pod2")["passed"], true);
}

/// flannel's VXLAN on two racks in IPv6: the VTEPs reach each other across the rack routers,
/// which route the racks' /64s, and every pair passes.
#[test]
fn flannel_vxlan_on_racks_in_ipv6_passes_every_pair() {
    let lab = deployed_ipv6(
        "v6fr-",
        &[
            "--mode",
            "vxlan",
            "--flavor",
            "flannel",
            "--underlay",
            "racks:2",
        ],
    );
    assert_every_pair_passes_in_ipv6(&lab, "VXLAN UDP/8472 vni 1");
}
