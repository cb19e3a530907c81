//! verify on Cilium's VXLAN in dual stack: one flow-based device, `cilium_vxlan`, carries both
//! families over the IPv4 underlay (Cilium's `underlay-protocol`, ipv4 by default), so an IPv6
//! pod packet crosses as VXLAN vni 256 on UDP 8472 between the hosts' IPv4 addresses. Proven
//! pair by pair in each family, and an IPv6 route deleted fails the IPv6 pairs it carries while
//! IPv4 passes. Root only.

mod common;

use common::verify::{exec, pair_in, reasons, rows_in as rows, verify, verify_healthy};
use common::walk::{hops, step, trace_json};
use common::*;

/// Cilium's VXLAN lab of 3 hosts in dual stack, deployed.
fn deployed_cilium_dual(prefix: &str) -> LabGuard {
    require_root();
    LabGuard::deployed_with(
        prefix,
        &[
            "--mode",
            "vxlan",
            "--flavor",
            "cilium",
            "--hosts",
            "3",
            "--ip-family",
            "dual",
        ],
    )
}

#[test]
fn cilium_dual_carries_ipv6_pods_in_vxlan_over_the_ipv4_underlay_and_trace_walks_both() {
    let lab = deployed_cilium_dual("c29cd-");
    let (code, report) = verify_healthy(&lab, &[]);
    for family in ["ipv4", "ipv6"] {
        let rows = rows(&report, family);
        assert_eq!(rows.len(), 6, "{family}: 6 ordered pairs of 3 pods");
        for p in rows {
            let (from, to) = (&p["from"], &p["to"]);
            assert_eq!(p["passed"], true, "{family} {from}->{to}: {:?}", reasons(p));
            let wire = p["wire"].as_str().unwrap();
            // The outer header is IPv4 in both families; the pod packet inside is the pair's.
            assert!(
                wire.starts_with("VXLAN UDP/8472 vni 256 10.0."),
                "{family} {from}->{to}: {wire}"
            );
            assert_eq!(wire.contains("[fd00:172:16:"), family == "ipv6", "{wire}");
        }
    }
    let proven = report["families"].as_array().unwrap();
    assert!(proven.iter().all(|f| f["proven"] == true), "{report:#}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    // trace walks either family through the one device, the outer header IPv4 in both.
    for family in ["ipv4", "ipv6"] {
        let (code, walk) = trace_json(&lab, &["--family", family, "pod1", "pod2"]);
        assert_eq!(code, 0, "{family}: {walk:#}");
        let request = hops(&walk, "request");
        for hop in ["host1 cilium_vxlan out", "host2 cilium_vxlan in"] {
            assert!(
                request.iter().any(|h| h == hop),
                "{family} {hop}: {request:?}"
            );
        }
        let out = step(&walk, "request", "host1 eth1 out");
        assert_eq!(out["encap"]["outer_dst"], "10.0.2.2", "{family}: {out:#}");
        assert_eq!(hops(&walk, "reply").last().unwrap(), "pod1 eth1 in");
    }
}

/// host1 loses its IPv6 route to host2's pods: its IPv6 packets to pod2 leave in plain IPv6
/// by the default route, named by the route verify reads back; every IPv4 pair passes.
#[test]
fn a_missing_ipv6_route_fails_the_ipv6_pairs_it_carries_and_ipv4_passes() {
    let lab = deployed_cilium_dual("c29cr-");
    exec(&lab, "host1", "ip -6 route del fd00:172:16:1::/64");
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    for p in rows(&report, "ipv4") {
        assert_eq!(p["passed"], true, "IPv4 is untouched: {:?}", reasons(p));
    }
    let why = reasons(pair_in(&report, "pod1", "pod2", "ipv6")).join("\n");
    assert!(
        why.contains("host1 has no route fd00:172:16:1::/64 via fd00:172:16:1:: dev cilium_vxlan"),
        "{why}"
    );
    assert!(
        why.contains(
            "expected UDP/8472 VXLAN vni 256 between 10.0.1.2 and 10.0.2.2, saw plain IPv6"
        ),
        "{why}"
    );
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("IPv4 6/6, IPv6 4/6: IPv4 proven, IPv6 not"),
        "{summary}"
    );
}
