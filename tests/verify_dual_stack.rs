//! verify on dual-stack labs: every pod pair probed in IPv4 and in IPv6, each family judged on
//! the wire on its own, and the faults of one family caught while the other passes. Root only.

mod common;

use common::verify::{
    exec, pair, pair_in, reasons, rebuild_ipv6_vtep, rows_in as rows, verify, verify_healthy,
};
use common::*;
use serde_json::Value;

/// A dual-stack lab generated with `args` (beside `--ip-family dual`, and `--hosts 3` unless
/// they say otherwise), deployed.
fn deployed_dual(prefix: &str, args: &[&str]) -> LabGuard {
    require_root();
    let mut all = vec!["--ip-family", "dual"];
    if !args.contains(&"--hosts") {
        all.extend(["--hosts", "3"]);
    }
    all.extend_from_slice(args);
    LabGuard::deployed_with(prefix, &all)
}

/// Every pair of both families passed, each with its family's addresses and the wire `shape`
/// promises, and the summary and `families` say both were proven.
fn assert_every_pair_of_both_families_passes(lab: &LabGuard, shape: &str) {
    let (code, report) = verify_healthy(lab, &[]);
    for family in ["ipv4", "ipv6"] {
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
            assert_eq!(six, family == "ipv6", "{family}: {p:#}");
            let wire = p["wire"].as_str().unwrap();
            assert!(wire.starts_with(shape), "{family} {from} -> {to}: {wire}");
            assert_eq!(wire.contains("fd00:"), family == "ipv6", "{wire}");
        }
    }
    // What the hosts hold matches what the file programs, in both families.
    assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
    let families = report["families"].as_array().unwrap();
    assert_eq!(families.len(), 2, "{report:#}");
    assert!(families.iter().all(|f| f["proven"] == true), "{report:#}");
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("IPv4 6/6, IPv6 6/6: IPv4 and IPv6 proven"),
        "{summary}"
    );
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn host_gw_dual_passes_every_pair_in_both_families() {
    let lab = deployed_dual("d29hg-", &["--mode", "host-gw"]);
    assert_every_pair_of_both_families_passes(&lab, "plain IPv");
    // The table names each row's family, and the summary what was proven.
    let out = lab.run(&["verify", "--max-loss", "0.25"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().next().unwrap().contains("FAMILY"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("pass pod1 pod2 ipv6") && l.contains("fd00:10:0:1::2")),
        "{text}"
    );
}

#[test]
fn vxlan_dual_passes_every_pair_in_both_families() {
    let lab = deployed_dual("d29vx-", &["--mode", "vxlan"]);
    assert_every_pair_of_both_families_passes(&lab, "VXLAN vni 1");
}

#[test]
fn flannel_vxlan_dual_passes_every_pair_in_both_families() {
    let lab = deployed_dual("d29fl-", &["--mode", "vxlan", "--flavor", "flannel"]);
    assert_every_pair_of_both_families_passes(&lab, "VXLAN UDP/8472 vni 1");
}

/// host1 forgets its IPv6 route to host2's pods: the IPv6 pairs between them fail and name
/// host2's pod prefix, every IPv4 pair still passes, and the summary says IPv4 alone is
/// proven.
#[test]
fn a_missing_ipv6_route_fails_the_ipv6_pairs_only() {
    let lab = deployed_dual("d29rt-", &["--mode", "host-gw"]);
    exec(&lab, "host1", "ip -6 route del fd00:10:0:2::/64");
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    for (from, to) in [("pod1", "pod2"), ("pod2", "pod1")] {
        let p = pair_in(&report, from, to, "ipv6");
        assert_eq!(p["passed"], false, "{p:#}");
        let why = reasons(p).join("\n");
        assert!(
            why.contains("host1 has no route to fd00:10:0:2::/64"),
            "{from} -> {to}: {why}"
        );
    }
    for p in rows(&report, "ipv4") {
        assert_eq!(p["passed"], true, "IPv4 is untouched: {p:#}");
    }
    assert_eq!(pair_in(&report, "pod1", "pod3", "ipv6")["passed"], true);
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("IPv4 6/6, IPv6 4/6: IPv4 proven, IPv6 not"),
        "{summary}"
    );
    let families = &report["families"];
    assert_eq!(families[0]["proven"], true, "{families:#}");
    assert_eq!(families[1]["proven"], false, "{families:#}");
}

/// pod1 without its IPv6 default route: its IPv6 probes never leave it, and the reason says
/// so from pod1's own IPv6 table; its IPv4 pairs pass.
#[test]
fn a_pod_without_an_ipv6_route_is_named_as_never_sending() {
    let lab = deployed_dual("d29un-", &["--mode", "host-gw"]);
    exec(&lab, "pod1", "ip -6 route del default");
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    let why = reasons(pair_in(&report, "pod1", "pod2", "ipv6")).join("\n");
    assert!(why.contains("pod1 has no route to fd00:10:0:2::2"), "{why}");
    assert_eq!(pair_in(&report, "pod1", "pod2", "ipv4")["passed"], true);
}

/// host1's IPv6 neighbour entry for host2 points at host3's MAC: host3 relays every packet,
/// so the pings pass and every IP header is right, but the frame host1 sends goes to the
/// wrong host. The IPv6 pairs from host1 to host2 fail, the IPv4 ones pass.
#[test]
fn an_ipv6_neighbour_pointing_at_a_third_host_fails_the_next_hop_check() {
    let lab = deployed_dual("d29nd-", &["--mode", "host-gw"]);
    let l = lab.lab();
    let host3_mac = mac_of(&lab, "host3", "eth1");
    let host2 = l.hosts[1].v6.as_ref().unwrap().underlay_ip;
    exec(
        &lab,
        "host1",
        &format!("ip -6 neigh replace {host2} lladdr {host3_mac} dev eth1 nud permanent"),
    );
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    let p = pair_in(&report, "pod1", "pod2", "ipv6");
    let why = reasons(p).join("\n");
    assert!(
        why.contains("host1") && why.contains(&host3_mac) && why.contains("host3"),
        "{why}"
    );
    assert!(
        p["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "next_hop"),
        "{p:#}"
    );
    assert_eq!(pair_in(&report, "pod1", "pod2", "ipv4")["passed"], true);
    assert_eq!(pair(&report, "pod1", "pod3")["passed"], true);
}

/// pod1 left at MTU 1500 on a dual-stack VXLAN overlay: its IPv6 full-size probe does not fit
/// the 70 bytes of VXLAN over IPv6, and fails.
#[test]
fn a_pod_left_at_1500_fails_its_ipv6_full_size_probe() {
    let lab = deployed_dual("d29mt-", &["--mode", "vxlan"]);
    exec(&lab, "pod1", "ip link set dev eth1 mtu 1500");
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    let p = pair_in(&report, "pod1", "pod2", "ipv6");
    assert_eq!(p["passed"], false, "{p:#}");
    let why = reasons(p).join("\n");
    assert!(why.contains("full-size") && why.contains("1500"), "{why}");
    assert_eq!(pair_in(&report, "pod2", "pod3", "ipv6")["passed"], true);
}

/// host1's IPv6 VTEP sends to UDP 8472 where the lab's VXLAN is on 4789: its IPv6 pairs fail,
/// the frames it sent are named with the port they carry, its IPv4 pairs (another VTEP) pass.
#[test]
fn an_ipv6_vtep_on_the_wrong_port_fails_its_ipv6_pairs() {
    let lab = deployed_dual("d29pt-", &["--mode", "vxlan"]);
    rebuild_ipv6_vtep(&lab, 0, 8472);
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    // Its NDP for the peer VTEPs goes out on 8472 and is never answered: the probes never
    // leave host1, and the frames that did are named lab-wide.
    assert_eq!(pair_in(&report, "pod1", "pod2", "ipv6")["passed"], false);
    assert_eq!(pair_in(&report, "pod3", "pod1", "ipv6")["passed"], false);
    let findings: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("VXLAN UDP/8472 vni 1 fd00:10:0:1::2>")
                && f.contains("neighbor solicitation")
                && f.ends_with("on host1-eth1: expected UDP/4789 VXLAN vni 1")),
        "{findings:#?}"
    );
    for p in rows(&report, "ipv4") {
        assert_eq!(p["passed"], true, "the IPv4 VTEP is untouched: {p:#}");
    }
    assert_eq!(pair_in(&report, "pod2", "pod3", "ipv6")["passed"], true);
}

/// The MAC of `node`'s `iface`.
fn mac_of(lab: &LabGuard, node: &str, iface: &str) -> String {
    let out = std::process::Command::new("ip")
        .args([
            "-n",
            &format!("clab-{}-{node}", lab.name),
            "-j",
            "link",
            "show",
            iface,
        ])
        .output()
        .unwrap();
    let links: Value = serde_json::from_slice(&out.stdout).unwrap();
    links[0]["address"].as_str().unwrap().to_string()
}

/// A racked host-gw lab in dual stack (`--underlay racks:2`): rack mates pass in both families,
/// and every cross-rack pair fails as the lab declares it will, in IPv6 as in IPv4, at the
/// rack router that has no route to another rack's pods.
#[test]
fn racked_host_gw_dual_passes_rack_mates_and_fails_cross_rack_pairs_as_declared() {
    let lab = deployed_dual("d29rk-", &["--mode", "host-gw", "--underlay", "racks:2"]);
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    for family in ["ipv4", "ipv6"] {
        let mates = pair_in(&report, "pod1", "pod2", family);
        assert_eq!(mates["passed"], true, "{family}: {:?}", reasons(mates));
        assert!(reasons(mates).is_empty(), "{family}: {mates:#}");
        for (from, to) in [("pod1", "pod3"), ("pod3", "pod2")] {
            let p = pair_in(&report, from, to, family);
            let said = p["expected_failure"].as_str().unwrap_or_default();
            assert!(
                said.contains("dies at gw") && said.contains("as expected"),
                "{family} {from} -> {to} must fail where the lab says: {p:#}"
            );
        }
    }
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.contains("IPv4 and IPv6 proven"), "{summary}");
    assert!(
        summary.contains("8 of them failed as the lab expects"),
        "{summary}"
    );
}

/// flannel's VXLAN on two racks with DirectRouting, in dual stack: rack mates go plain in both
/// families (flannel routes a peer on its own subnet directly, IPv6 as IPv4), every pair
/// across the racks in VXLAN, and nothing the hosts hold differs from what the file programs.
#[test]
fn flannel_direct_routing_on_racks_goes_plain_to_rack_mates_in_both_families() {
    let lab = deployed_dual(
        "d29dr-",
        &[
            "--mode",
            "vxlan",
            "--flavor",
            "flannel",
            "--underlay",
            "racks:2",
            "--direct-routing",
            "--hosts",
            "4",
        ],
    );
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
    for family in ["ipv4", "ipv6"] {
        let mates = pair_in(&report, "pod1", "pod2", family)["wire"]
            .as_str()
            .unwrap();
        assert!(mates.starts_with("plain IPv"), "{family}: {mates}");
        let across = pair_in(&report, "pod1", "pod3", family)["wire"]
            .as_str()
            .unwrap();
        assert!(across.starts_with("VXLAN UDP/8472"), "{family}: {across}");
    }
    // host1 sends its rack mate's IPv6 pods into the tunnel after all: the pair fails on the
    // wire, and the route host1 holds is named against the one the lab plans.
    let l = lab.lab();
    let mate = l.hosts[1].v6.as_ref().unwrap();
    let (net, vtep, mac) = (
        mate.pod_subnet,
        mate.vtep_ip.unwrap(),
        mate.vtep_mac.clone().unwrap(),
    );
    for line in [
        // Deleted first: the kernel checks an onlink gateway against the routes it holds.
        format!("ip -6 route del {net}"),
        format!("ip -6 route add {net} via {vtep} dev flannel-v6.1 onlink"),
        format!("ip -6 neigh replace {vtep} lladdr {mac} dev flannel-v6.1 nud permanent"),
        format!(
            "bridge fdb replace {mac} dst {} dev flannel-v6.1 self permanent",
            mate.underlay_ip
        ),
    ] {
        exec(&lab, "host1", &line);
    }
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    let p = pair_in(&report, "pod1", "pod2", "ipv6");
    assert_eq!(p["passed"], false, "{p:#}");
    let why = reasons(p).join("\n");
    assert!(
        why.contains(&format!("host1 routes {net} via {vtep} dev flannel-v6.1"))
            && why.contains(&format!(
                "the lab plans {net} via {} dev eth1",
                mate.underlay_ip
            )),
        "{why}"
    );
    assert_eq!(pair_in(&report, "pod1", "pod2", "ipv4")["passed"], true);
}
