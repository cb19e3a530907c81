//! verify on Calico's VXLAN in dual stack and IPv6: felix's second VTEP, `vxlan-v6.calico`,
//! with the same VNI (4096) and port (4789) as `vxlan.calico`, proven pair by pair in each
//! family, and a fault of its static peers caught in IPv6 while IPv4 passes. Root only.

mod common;

use common::verify::{exec, pair_in, reasons, rows_in as rows, verify, verify_healthy};
use common::*;

/// Calico's VXLAN lab of 3 hosts in `family`, deployed.
fn deployed_calico(prefix: &str, family: &str) -> LabGuard {
    require_root();
    let args = ["--mode", "vxlan", "--flavor", "calico", "--hosts", "3"];
    let mut all = args.to_vec();
    all.extend_from_slice(&["--ip-family", family]);
    LabGuard::deployed_with(prefix, &all)
}

/// Every pair of each of `families` passed between that family's pod addresses, in Calico's
/// VXLAN (`VXLAN vni 4096`, outer headers of the same family), with no warning, and every
/// family proven.
fn assert_every_pair_passes(lab: &LabGuard, families: &[&str]) {
    let (code, report) = verify_healthy(lab, &[]);
    for family in families {
        let rows = rows(&report, family);
        assert_eq!(
            rows.len(),
            6,
            "{family}: 3 hosts of one pod, 6 ordered pairs"
        );
        for p in rows {
            let (from, to) = (&p["from"], &p["to"]);
            assert_eq!(
                p["passed"],
                true,
                "{family} {from} -> {to}: {:?}",
                reasons(p)
            );
            let six = p["to_ip"].as_str().unwrap().contains(':');
            assert_eq!(six, *family == "ipv6", "{family}: {p:#}");
            let wire = p["wire"].as_str().unwrap();
            assert!(
                wire.starts_with("VXLAN vni 4096"),
                "{family} {from} -> {to}: {wire}"
            );
            // The outer header is of the pair's family: IPv6 underlay addresses for IPv6.
            assert_eq!(wire.contains("fd00:10:0:"), *family == "ipv6", "{wire}");
        }
    }
    assert_eq!(
        rows(&report, "ipv4").len() + rows(&report, "ipv6").len(),
        6 * families.len()
    );
    let proven = report["families"].as_array().unwrap();
    assert_eq!(proven.len(), families.len(), "{report:#}");
    assert!(proven.iter().all(|f| f["proven"] == true), "{report:#}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn calico_vxlan_dual_passes_every_pair_in_both_families() {
    let lab = deployed_calico("c43cd-", "dual");
    assert_every_pair_passes(&lab, &["ipv4", "ipv6"]);
}

/// An IPv6-only Calico lab has `vxlan-v6.calico` alone: verify reads back that device and its
/// peers, not the IPv4 `vxlan.calico` the lab does not make.
#[test]
fn calico_vxlan_ipv6_passes_every_pair() {
    let lab = deployed_calico("c43c6-", "ipv6");
    assert_every_pair_passes(&lab, &["ipv6"]);
}

/// host1 loses its permanent IPv6 neighbour entry for host2's IPv6 VTEP: felix's VTEPs do not
/// learn, so host1 cannot resolve that next hop and its IPv6 packets to host2's pods die on
/// host1 (the replies from host1 too); every IPv4 pair and the IPv6 pairs with host3 pass.
#[test]
fn a_missing_ipv6_vtep_neighbour_fails_the_ipv6_pairs_between_those_hosts_only() {
    let lab = deployed_calico("c43cn-", "dual");
    let l = lab.lab();
    let host2_vtep = l.hosts[1].v6.as_ref().unwrap().vtep_ip.unwrap();
    exec(
        &lab,
        "host1",
        &format!("ip -6 neigh del {host2_vtep} dev vxlan-v6.calico"),
    );
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    for (from, to) in [("pod1", "pod2"), ("pod2", "pod1")] {
        let p = pair_in(&report, from, to, "ipv6");
        assert_eq!(p["passed"], false, "{from} -> {to}: {p:#}");
    }
    // pod1's requests to pod2 never leave host1 in VXLAN.
    let why = reasons(pair_in(&report, "pod1", "pod2", "ipv6")).join("\n");
    assert!(why.contains("not seen on host1-eth1"), "{why}");
    // verify's notes say when the machine's backlog dropped frames (other labs' load).
    let notes = &report["notes"];
    for p in rows(&report, "ipv4") {
        assert_eq!(
            p["passed"], true,
            "IPv4 is untouched: {p:#}; notes: {notes:#}"
        );
    }
    for (from, to) in [("pod1", "pod3"), ("pod3", "pod2"), ("pod2", "pod3")] {
        let p = pair_in(&report, from, to, "ipv6");
        assert_eq!(p["passed"], true, "{from} -> {to}: {:?}", reasons(p));
    }
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("IPv4 6/6, IPv6 4/6: IPv4 proven, IPv6 not"),
        "{summary}"
    );
}

/// Calico's VXLAN on two racks of two hosts in `family`, with CrossSubnet or without.
fn deployed_racked(prefix: &str, family: &str, cross_subnet: bool) -> LabGuard {
    require_root();
    let mut args = vec![
        "--mode",
        "vxlan",
        "--flavor",
        "calico",
        "--underlay",
        "racks:2",
        "--hosts",
        "4",
        "--ip-family",
        family,
    ];
    if cross_subnet {
        args.push("--cross-subnet");
    }
    LabGuard::deployed_with(prefix, &args)
}

/// Whether pods `a` and `b` (1-based) sit in one rack of racks:2 over 4 hosts.
fn rack_mates(a: usize, b: usize) -> bool {
    (a - 1) / 2 == (b - 1) / 2
}

/// Every ordered pair of every family passes on its declared wire: plain between rack mates
/// under CrossSubnet, in each family's own VXLAN across the racks (and everywhere without it).
fn assert_racked_wires(report: &serde_json::Value, families: &[&str], cross_subnet: bool) {
    for family in families {
        let rows = rows(report, family);
        assert_eq!(rows.len(), 12, "{family}: 4 hosts, 12 ordered pairs");
        for p in rows {
            let (from, to) = (p["from"].as_str().unwrap(), p["to"].as_str().unwrap());
            assert_eq!(
                p["passed"],
                true,
                "{family} {from} -> {to}: {:?}",
                reasons(p)
            );
            let index = |pod: &str| pod.trim_start_matches("pod").parse::<usize>().unwrap();
            let wire = p["wire"].as_str().unwrap();
            let plain = format!("plain {}", if *family == "ipv6" { "IPv6" } else { "IPv4" });
            match cross_subnet && rack_mates(index(from), index(to)) {
                true => assert!(wire.starts_with(&plain), "{family} {from} -> {to}: {wire}"),
                false => assert!(
                    wire.starts_with("VXLAN vni 4096") && wire.contains(':') == (*family == "ipv6"),
                    "{family} {from} -> {to}: {wire}"
                ),
            }
        }
    }
}

#[test]
fn calico_cross_subnet_in_dual_routes_rack_mates_plain_in_both_families() {
    let lab = deployed_racked("c29xd-", "dual", true);
    let (code, report) = verify_healthy(&lab, &[]);
    assert_racked_wires(&report, &["ipv4", "ipv6"], true);
    assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn calico_vxlan_on_racks_in_ipv6_tunnels_every_pair_across_the_rack_routers() {
    let lab = deployed_racked("c29r6-", "ipv6", false);
    let (code, report) = verify_healthy(&lab, &[]);
    assert_racked_wires(&report, &["ipv6"], false);
    assert_eq!(code, 0, "{report:#}");
}

/// host1 sends its IPv6 rack mate host2 through `vxlan-v6.calico` (Calico keeps the VTEP's
/// neighbour and FDB entries, so one route is all it takes): the packets arrive, but not as
/// CrossSubnet declares, and verify fails that IPv6 direction while IPv4 still passes.
#[test]
fn an_ipv6_rack_mate_sent_through_the_tunnel_is_caught_while_ipv4_passes() {
    let lab = deployed_racked("c29xf-", "dual", true);
    let l = lab.lab();
    let host2 = l.hosts[1].v6.as_ref().unwrap();
    let (subnet, vtep) = (host2.pod_subnet, host2.vtep_ip.unwrap());
    // Deleted and added: the kernel refuses an IPv6 `route replace` onto another device here.
    exec(&lab, "host1", &format!("ip -6 route del {subnet}"));
    exec(
        &lab,
        "host1",
        &format!("ip -6 route add {subnet} via {vtep} dev vxlan-v6.calico onlink"),
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    let p = pair_in(&report, "pod1", "pod2", "ipv6");
    assert_eq!(p["passed"], false, "{p:#}");
    let why = reasons(p).join("\n");
    assert!(why.contains("expected plain IPv6"), "{why}");
    assert!(why.contains("VXLAN"), "{why}");
    let route = format!("host1 routes {subnet} via {vtep} dev vxlan-v6.calico");
    assert!(why.contains(&route), "{why}");
    assert_eq!(pair_in(&report, "pod1", "pod2", "ipv4")["passed"], true);
    assert_eq!(pair_in(&report, "pod3", "pod4", "ipv6")["passed"], true);
}
