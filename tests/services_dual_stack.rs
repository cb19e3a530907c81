//! `gen --services` in dual-stack and IPv6 labs, end to end (netns runtime): every Service has
//! a ClusterIP per family, kube-proxy's rules per family (ip6tables, nft's `ip6 kube-proxy`),
//! and verify proves each family on the wire; a fault in the IPv6 rules fails the IPv6 rows
//! and names the ip6 rule while the IPv4 rows still pass; trace walks an IPv6 ClusterIP. Root
//! only; without root these tests fail loudly rather than pass.

mod common;

use cnilab::family::IpFamily;
use common::services::*;
use common::verify::verify;
use common::*;
use serde_json::Value;

#[test]
fn dual_host_gw_iptables_services_pass_in_both_families() {
    healthy_in("s6-dhi", &["--mode", "host-gw"], "iptables", IpFamily::Dual);
}

#[test]
fn dual_flannel_vxlan_nftables_services_pass_in_both_families() {
    let mode = ["--mode", "vxlan", "--flavor", "flannel"];
    healthy_in("s6-dfn", &mode, "nftables", IpFamily::Dual);
}

#[test]
fn ipv6_vxlan_iptables_services_pass() {
    healthy_in("s6-6vi", &["--mode", "vxlan"], "iptables", IpFamily::Ipv6);
}

#[test]
fn ipv6_host_gw_nftables_services_pass() {
    healthy_in("s6-6hn", &["--mode", "host-gw"], "nftables", IpFamily::Ipv6);
}

/// A dual vxlan lab with 2 Services (svc1 on pod1 and pod2), deployed, broken by `fault`,
/// then verified: it must fail.
fn broken_dual(prefix: &str, kube_proxy: &str, fault: impl Fn(&LabGuard)) -> (LabGuard, Value) {
    let lab = services_lab(
        prefix,
        &[
            "--mode",
            "vxlan",
            "--hosts",
            "3",
            "--services",
            "2",
            "--ip-family",
            "dual",
            "--kube-proxy",
            kube_proxy,
        ],
    );
    fault(&lab);
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "a broken lab must fail: {report:#}");
    (lab, report)
}

/// Every IPv4 row passed, and the summary says IPv4's passed and IPv6's did not.
fn ipv4_rows_still_pass(report: &Value) {
    let v4: Vec<&Value> = rows(report)
        .iter()
        .filter(|r| r["family"] == "ipv4")
        .collect();
    assert_eq!(v4.len(), 5, "{report:#}");
    assert!(v4.iter().all(|r| r["passed"] == true), "{report:#}");
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.contains("Service checks passed (IPv4 5/5, IPv6 "),
        "{summary}"
    );
    assert!(!summary.contains("IPv6 5/5"), "{summary}");
}

/// The ip6tables KUBE-SEP chain on `host` that DNATs svc1's TCP to `endpoint`.
fn sep6_of(lab: &LabGuard, host: &str, endpoint: &str) -> String {
    let path = format!("{}.cnilab/kube-proxy/{host}/rules.v6", lab.name);
    let rules = std::fs::read_to_string(lab.dir.path().join(path)).unwrap();
    let dnat = format!("-j DNAT --to-destination [{endpoint}]:8001");
    let line = rules
        .lines()
        .find(|l| l.contains(&dnat) && l.contains("-p tcp"))
        .unwrap_or_else(|| panic!("no {dnat} in {host}'s rules.v6"));
    line.split_whitespace().nth(1).unwrap().to_string()
}

const POD1_V6: &str = "fd00:172:16::2";
const POD2_V6: &str = "fd00:172:16:1::2";

/// host2's ip6tables DNAT for pod1 deleted: its KUBE-SEP returns and KUBE-SVC goes on to
/// pod2, so pod1 is never reached from host2's pods in IPv6; IPv4 is untouched.
#[test]
fn a_missing_kube_sep_dnat_in_ip6tables_is_caught_while_ipv4_passes() {
    let (lab, report) = broken_dual("s6-dn", "iptables", |lab| {
        let sep = sep6_of(lab, "host2", POD1_V6);
        exec(lab, "host2", &format!("ip6tables -t nat -F {sep}"));
    });
    ipv4_rows_still_pass(&report);
    assert_eq!(row_in(&report, "svc1", "pod", "ipv6")["passed"], false);
    assert_eq!(row_in(&report, "svc2", "pod", "ipv6")["passed"], true);
    let sep = sep6_of(&lab, "host2", POD1_V6);
    let text = messages(&report);
    assert!(
        text.contains(&format!("svc1 ([fd00:10:96::11]:80)/tcp: pod1 never answered host2's pods over 55 probes: check host2's ip6tables {sep} DNAT to [{POD1_V6}]:8001")),
        "{text}"
    );
}

/// host3's ip6tables DNAT for pod1 rewritten to pod2's address: host3's pods always land on
/// pod2, which verify names by the rule that should reach pod1.
#[test]
fn an_ip6tables_dnat_to_the_wrong_endpoint_is_caught_while_ipv4_passes() {
    let (lab, report) = broken_dual("s6-we", "iptables", |lab| {
        let sep = sep6_of(lab, "host3", POD1_V6);
        for (proto, chain) in [("tcp", sep.clone()), ("udp", sep6_udp(lab, "host3"))] {
            exec(lab, "host3", &format!("ip6tables -t nat -R {chain} 2 -m comment --comment default/svc1:{proto} -p {proto} -m {proto} -j DNAT --to-destination [{POD2_V6}]:8001"));
        }
    });
    ipv4_rows_still_pass(&report);
    let r = row_in(&report, "svc1", "pod", "ipv6");
    assert_eq!(r["passed"], false, "{r:#}");
    let sep = sep6_of(&lab, "host3", POD1_V6);
    let text = messages(&report);
    assert!(
        text.contains(&format!("pod1 never answered host3's pods over 55 probes: check host3's ip6tables {sep} DNAT to [{POD1_V6}]:8001")),
        "{text}"
    );
}

/// host3's ip6tables KUBE-SEP chain for svc1's UDP to pod1.
fn sep6_udp(lab: &LabGuard, host: &str) -> String {
    let path = format!("{}.cnilab/kube-proxy/{host}/rules.v6", lab.name);
    let rules = std::fs::read_to_string(lab.dir.path().join(path)).unwrap();
    let dnat = format!("-j DNAT --to-destination [{POD1_V6}]:8001");
    let line = rules
        .lines()
        .find(|l| l.contains(&dnat) && l.contains("-p udp") && l.contains("svc1"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().to_string()
}

/// The IPv6 masquerade for pods leaving the cluster removed on every host: the pods' own
/// IPv6 addresses leave the cluster, `outside` has no route back to them, and only the IPv6
/// egress row fails.
#[test]
fn egress_without_the_ipv6_masquerade_is_caught_while_ipv4_passes() {
    let (_lab, report) = broken_dual("s6-eg", "nftables", |lab| {
        for host in ["host1", "host2", "host3"] {
            exec(lab, host, "ip6tables -t nat -F POSTROUTING");
        }
    });
    ipv4_rows_still_pass(&report);
    let r = row_in(&report, "egress", "egress", "ipv6");
    assert_eq!(r["passed"], false, "{r:#}");
    let text = messages(&report);
    assert!(text.contains("outside/tcp from pod1: no answer"), "{text}");
    let ok = row_in(&report, "svc1", "pod", "ipv6");
    assert_eq!(
        ok["passed"], true,
        "ClusterIP traffic needs no egress NAT: {ok:#}"
    );
}

/// The text report names each Service row's family, and trace walks the ClusterIP of either
/// family with the rule of that family's table and its conntrack entry.
#[test]
fn the_table_names_the_family_and_trace_walks_either_family() {
    let lab = services_lab(
        "s6-tb",
        &[
            "--mode",
            "host-gw",
            "--hosts",
            "2",
            "--services",
            "1",
            "--ip-family",
            "dual",
        ],
    );
    let out = lab.run(&["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("SERVICE  CLIENT   FAMILY")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" ipv6 ") && l.contains("[fd00:10:96::11]:80")),
        "{text}"
    );
    // Each ClusterIP is walked in its family; --family picks the other one.
    let walk = |args: &[&str]| {
        let out = lab.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let v4 = walk(&["trace", "pod2", "10.96.0.11:80"]);
    assert!(
        v4.contains("rule: host2: iptables -t nat -A KUBE-SEP-"),
        "{v4}"
    );
    let v6 = walk(&["trace", "pod2", "10.96.0.11:80", "--family", "ipv6"]);
    assert!(
        v6.starts_with("trace pod2 → svc1 [fd00:10:96::11]:80 (UDP): answered by"),
        "{v6}"
    );
    assert!(
        v6.contains("(DNAT: destination [fd00:10:96::11]:80 → [fd00:10:0:"),
        "{v6}"
    );
    assert!(
        v6.contains("rule: host2: ip6tables -t nat -A KUBE-SEP-"),
        "{v6}"
    );
    assert!(v6.contains("conntrack: udp 17"), "{v6}");
    assert!(v6.contains("dst=fd00:10:96::11"), "{v6}");
}

/// An IPv6 lab's Service is walked in IPv6 through nft's `ip6 kube-proxy` table; asking for
/// its IPv4 ClusterIP, which it has none of, is refused with the reason.
#[test]
fn trace_walks_an_ipv6_lab_service_through_the_ip6_table() {
    let lab = services_lab(
        "s6-tr",
        &[
            "--mode",
            "host-gw",
            "--hosts",
            "2",
            "--services",
            "1",
            "--ip-family",
            "ipv6",
            "--kube-proxy",
            "nftables",
        ],
    );
    let out = lab.run(&["trace", "pod1", "[fd00:10:96::11]:80"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("rule: host1: nft table ip6 kube-proxy chain endpoint-"),
        "{text}"
    );
    assert!(text.contains("dnat to [fd00:10:0:"), "{text}");
    let out = lab.run(&["trace", "pod1", "[fd00:10:96::11]:80", "--family", "ipv4"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("svc1 has no IPv4 ClusterIP in this lab"),
        "{}",
        stderr(&out)
    );
}

/// externalTrafficPolicy: Local in both families: a node without a local endpoint must not
/// answer its NodePort in either, and outside's own address reaches the endpoint in each.
#[test]
fn dual_local_policy_keeps_outsides_address_in_both_families() {
    let lab = services_lab(
        "s6-lp",
        &[
            "--mode",
            "vxlan",
            "--hosts",
            "3",
            "--services",
            "1",
            "--ip-family",
            "dual",
            "--external-traffic-policy",
            "local",
        ],
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    let outside = lab.lab().services.unwrap().outside;
    for (family, ip) in [
        ("ipv4", outside.ip.unwrap().to_string()),
        ("ipv6", outside.ip6.unwrap().to_string()),
    ] {
        let r = row_in(&report, "svc1", "outside", family);
        assert_eq!(r["passed"], true, "{r:#}");
        let failures = r["expected_failures"].as_array().unwrap();
        assert_eq!(failures.len(), 2, "host3's NodePort, TCP and UDP: {r:#}");
        let seen = r["sources_seen"].as_array().unwrap();
        assert!(seen.iter().all(|s| s["source"] == ip.as_str()), "{r:#}");
    }
}

/// host2's `ip6 kube-proxy` endpoint chain to pod1 emptied: the share numgen sends there
/// leaves host2 undNATed, and the IPv6 VIP crosses the underlay, named with the host.
#[test]
fn an_emptied_ip6_endpoint_chain_lets_the_ipv6_vip_cross_the_underlay_while_ipv4_passes() {
    let (_lab, report) = broken_dual("s6-nd", "nftables", |lab| {
        let path = format!("{}.cnilab/kube-proxy/host2/rules6.nft", lab.name);
        let rules = std::fs::read_to_string(lab.dir.path().join(path)).unwrap();
        let dnat = format!("meta l4proto tcp dnat to [{POD1_V6}]:8001");
        let line = rules.lines().find(|l| l.ends_with(&dnat)).unwrap();
        let chain = line.split_whitespace().nth(4).unwrap();
        exec(
            lab,
            "host2",
            &format!("nft flush chain ip6 kube-proxy {chain}"),
        );
    });
    ipv4_rows_still_pass(&report);
    assert_eq!(row_in(&report, "svc1", "pod", "ipv6")["passed"], false);
    let text = messages(&report);
    assert!(
        text.lines().any(|l| l.starts_with("svc1 ([fd00:10:96::11]:80)/tcp from pod2: host2 did not DNAT it; the VIP crossed the underlay")),
        "{text}"
    );
}
