//! verify on IPIP labs. This machine's kernel has no IPIP, so these run with `--ignored` inside
//! the stock-kernel VM (`make test-vm`); there, a kernel without IPIP fails them loudly.

mod common;

use common::*;
use serde_json::Value;

fn verify_json(lab: &LabGuard) -> (i32, Value) {
    let out = lab.run(&["verify", "--json"]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}; {}): {}", out.status, stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn a_healthy_ipip_lab_passes_and_plain_routing_through_the_router_fails() {
    require_ipip();
    let lab = LabGuard::gen("ipip", 3, &unique("vip"));
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let (code, report) = verify_json(&lab);
    assert_eq!(code, 0, "{report:#}");
    let p = report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from"] == "pod1" && p["to"] == "pod2")
        .unwrap();
    assert_eq!(p["wire"], "IPIP 10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]");

    // The router learns the pod routes and host1 stops tunnelling: pings pass, verify must not.
    let ns = |node: &str| format!("clab-{}-{node}", lab.name);
    for (node, line) in [
        ("gw", "ip route add 172.16.0.0/24 via 10.0.1.2"),
        ("gw", "ip route add 172.16.1.0/24 via 10.0.2.2"),
        (
            "host1",
            "ip route replace 172.16.1.0/24 via 10.0.1.1 dev eth1",
        ),
    ] {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &ns(node)])
            .args(line.split_whitespace())
            .output()
            .unwrap();
        assert!(out.status.success(), "{node}: {line}: {}", stderr(&out));
    }
    let (code, report) = verify_json(&lab);
    assert_eq!(code, 1, "{report:#}");
    let text = report.to_string();
    assert!(
        text.contains("expected IPIP (protocol 4) between 10.0.1.2 and 10.0.2.2, saw plain IPv4 172.16.0.2 > 172.16.1.2 on host1-eth1"),
        "{report:#}"
    );
}

/// The article's IPIP file, verbatim but for its name: its host3 never turns forwarding on
/// (the article's second bug), so on a machine whose root namespace does not forward, pod3's
/// traffic dies at host3, and verify says so on the inferred plan.
#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn the_article_ipip_lab_fails_at_host3_until_it_forwards() {
    require_ipip();
    let name = unique("aip");
    let text = include_str!("../examples/article/ipip.clab.yaml").replacen(
        "name: ipip-demo",
        &format!("name: {name}"),
        1,
    );
    let lab = LabGuard::from_yaml(&name, &text);
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let host3 = format!("clab-{name}-host3");
    let sysctl = |value: &str| {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &host3, "sysctl", "-qw"])
            .arg(format!("net.ipv4.ip_forward={value}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    sysctl("0");
    let (code, report) = verify_json(&lab);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["inferred"], "ipip, 3 hosts, 3 pods, 1 routers");
    for p in report["pairs"].as_array().unwrap() {
        let through_host3 = p["from"] == "pod3" || p["to"] == "pod3";
        assert_eq!(p["passed"], !through_host3, "{p:#}");
        if through_host3 {
            let why = p["reasons"].to_string();
            assert!(
                why.contains("host3 does not forward IPv4 (net.ipv4.ip_forward = 0); host3's exec lines never set net.ipv4.ip_forward=1"),
                "{why}"
            );
        }
    }
    sysctl("1");
    let (code, report) = verify_json(&lab);
    assert_eq!(code, 0, "{report:#}");
    let p = common::verify::pair(&report, "pod1", "pod3");
    assert_eq!(p["wire"], "IPIP 10.0.1.2>10.0.3.2 [172.16.0.2>172.16.2.2]");
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
}

/// An ipip lab of 3 hosts in dual stack, `flavor` (article or calico), deployed: IPv4 in IPIP,
/// IPv6 in `vxlan-v6.calico`, as Calico's dual-stack sends them.
fn deployed_dual_ipip(prefix: &str, flavor: &str) -> LabGuard {
    require_ipip();
    let args = ["--mode", "ipip", "--flavor", flavor, "--hosts", "3"];
    let mut all = args.to_vec();
    all.extend_from_slice(&["--ip-family", "dual"]);
    LabGuard::deployed_with(prefix, &all)
}

/// Every pair passed in both families, each in its own shape on the wire: IPv4 in IPIP between
/// the hosts' IPv4 underlay addresses, IPv6 in VXLAN vni 4096 between their IPv6 ones; both
/// families proven, no warning.
fn assert_dual_ipip_passes(lab: &LabGuard) {
    use common::verify::{reasons, rows_in, verify_healthy};
    let (code, report) = verify_healthy(lab, &[]);
    for (family, shape, outer) in [
        ("ipv4", "IPIP 10.0.", "10.0."),
        ("ipv6", "VXLAN vni 4096 fd00:10:0:", "fd00:10:0:"),
    ] {
        let rows = rows_in(&report, family);
        assert_eq!(rows.len(), 6, "{family}: 6 ordered pairs of 3 pods");
        for p in rows {
            let (from, to) = (&p["from"], &p["to"]);
            assert_eq!(p["passed"], true, "{family} {from}->{to}: {:?}", reasons(p));
            let wire = p["wire"].as_str().unwrap();
            assert!(wire.starts_with(shape), "{family} {from}->{to}: {wire}");
            assert!(wire.contains(outer), "{wire}");
        }
    }
    let proven = report["families"].as_array().unwrap();
    assert_eq!(proven.len(), 2, "{report:#}");
    assert!(proven.iter().all(|f| f["proven"] == true), "{report:#}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
}

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn dual_ipip_article_sends_ipv4_in_ipip_and_ipv6_in_vxlan_and_passes_every_pair() {
    let lab = deployed_dual_ipip("vipd-a", "article");
    assert_dual_ipip_passes(&lab);
}

/// Calico's dual-stack IPIP: tunl0 for IPv4, vxlan-v6.calico for IPv6; trace walks an IPv6
/// echo through the IPv6 VTEP.
#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn dual_ipip_calico_passes_every_pair_and_trace_walks_ipv6_through_vxlan_v6_calico() {
    use common::walk::{hops, trace_json};
    let lab = deployed_dual_ipip("vipd-c", "calico");
    assert_dual_ipip_passes(&lab);
    let (code, walk) = trace_json(&lab, &["--family", "ipv6", "pod1", "pod2"]);
    assert_eq!(code, 0, "{walk:#}");
    let request = hops(&walk, "request");
    for hop in ["host1 vxlan-v6.calico out", "host2 vxlan-v6.calico in"] {
        assert!(request.iter().any(|h| h == hop), "{hop}: {request:?}");
    }
    assert_eq!(hops(&walk, "reply").last().unwrap(), "pod1 eth1 in");
}

/// host1 loses its IPv6 route to host2's pods: the IPv6 pairs between pod1 and pod2 fail,
/// named by the route verify reads back; every IPv4 pair, in IPIP, still passes, and the
/// summary says IPv4 was proven and IPv6 not.
#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn dual_ipip_without_an_ipv6_route_fails_ipv6_only_and_ipv4_passes() {
    use common::verify::{exec, pair_in, reasons, rows_in, verify};
    let lab = deployed_dual_ipip("vipd-r", "article");
    exec(&lab, "host1", "ip -6 route del fd00:172:16:1::/64");
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    for p in rows_in(&report, "ipv4") {
        assert_eq!(p["passed"], true, "IPv4 is untouched: {p:#}");
    }
    for (from, to) in [("pod1", "pod2"), ("pod2", "pod1")] {
        let p = pair_in(&report, from, to, "ipv6");
        assert_eq!(p["passed"], false, "{from} -> {to}: {p:#}");
        let why = reasons(p).join("\n");
        assert!(
            why.contains(
                "host1 has no route fd00:172:16:1::/64 via fd00:172:16:1:: dev vxlan-v6.calico"
            ),
            "{from} -> {to}: {why}"
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

/// host1's IPIP route to host2's pods goes: pod1's IPv4 packets to pod2 leave host1 in plain
/// by its default route, and verify names the missing tunl0 route; every IPv6 pair, in VXLAN,
/// still passes.
#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn dual_ipip_calico_without_an_ipip_route_fails_ipv4_only_and_ipv6_passes() {
    use common::verify::{exec, pair_in, reasons, rows_in, verify};
    let lab = deployed_dual_ipip("vipd-4", "calico");
    exec(&lab, "host1", "ip route del 172.16.1.0/24");
    let (code, report) = verify(&lab, &["--max-loss", "0.25"]);
    assert_eq!(code, 1, "{report:#}");
    for p in rows_in(&report, "ipv6") {
        assert_eq!(p["passed"], true, "IPv6 is untouched: {:?}", reasons(p));
    }
    let p = pair_in(&report, "pod1", "pod2", "ipv4");
    assert_eq!(p["passed"], false, "{p:#}");
    let why = reasons(p).join("\n");
    assert!(
        why.contains("host1 has no route 172.16.1.0/24 via 10.0.2.2 dev tunl0"),
        "{why}"
    );
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("IPv4 4/6, IPv6 6/6: IPv6 proven, IPv4 not"),
        "{summary}"
    );
}
