//! `cnilab trace` in dual-stack and ipv6-only labs (root): an ICMPv6 echo walked hop by hop,
//! NDP in ARP's place, and at each hop the IPv6 route, NDP neighbour or FDB entry that moved it
//! on.

mod common;

use common::walk::*;
use common::*;
use serde_json::Value;

/// A dual-stack lab of 3 hosts generated with `args` besides, deployed.
fn deployed_dual(prefix: &str, args: &[&str]) -> LabGuard {
    require_root();
    let mut all = vec!["--ip-family", "dual", "--hosts", "3"];
    all.extend_from_slice(args);
    LabGuard::deployed_with(prefix, &all)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Every step of `leg` carries the pod packet between these two pods' IPv6 addresses.
fn assert_leg_is_icmpv6(walk: &Value, leg: &str, (src, dst): (&str, &str)) {
    let echo = format!("IP6 {src} > {dst}: ICMP6, echo {leg}");
    for s in steps(walk, leg) {
        let packet = s["packet"].as_str().unwrap();
        assert!(packet.contains(&echo), "{echo} not in {packet}");
    }
}

#[test]
fn host_gw_ipv6_walk_is_routed_by_the_peers_ipv6_route_and_resolved_by_ndp() {
    let lab = deployed_dual("t41h", &["--mode", "host-gw"]);
    let (code, walk) = trace_json(&lab, &["--cold", "--family", "ipv6", "pod1", "pod3"]);
    assert_eq!(code, 0, "{walk:#}");
    assert_eq!(walk["to_ip"], "fd00:10:0:3::2");
    assert_time_ordered(&walk);
    assert_eq!(
        hops(&walk, "request"),
        strs(&[
            "pod1 eth1 out",
            "host1 pod1-veth in",
            "host1 cni0 in",
            "host1 eth1 out",
            "switch host1-eth1 in",
            "switch host3-eth1 out",
            "host3 eth1 in",
            "host3 cni0 out",
            "host3 pod3-veth out",
            "pod3 eth1 in",
        ]),
        "{walk:#}"
    );
    assert_eq!(hops(&walk, "reply").last().unwrap(), "pod1 eth1 in");
    assert_leg_is_icmpv6(&walk, "request", ("fd00:10:0:1::2", "fd00:10:0:3::2"));
    assert_leg_is_icmpv6(&walk, "reply", ("fd00:10:0:3::2", "fd00:10:0:1::2"));
    // A cold IPv6 walk resolves its next hops by NDP, never ARP.
    assert!(steps(&walk, "arp").is_empty(), "{walk:#}");
    assert!(
        steps(&walk, "ndp").iter().any(|s| s["node"] == "pod1"
            && s["direction"] == "out"
            && s["decision"] == "no neighbour entry for the next hop yet: NDP solicits"),
        "pod1 solicits its gateway: {walk:#}"
    );
    // Each hop names the IPv6 route and the NDP neighbour that decided it.
    assert!(decision(&walk, "request", "pod1 eth1 out")
        .starts_with("route default via fd00:10:0:1::1 dev eth1; neighbour fd00:10:0:1::1 lladdr"));
    assert!(decision(&walk, "request", "host1 cni0 in").starts_with(
        "route fd00:10:0:3::/64 via fd00:192:168::150 dev eth1; neighbour fd00:192:168::150 lladdr"
    ));
    assert_eq!(
        decision(&walk, "request", "pod3 eth1 in"),
        "fd00:10:0:3::2 is local: delivered"
    );

    // TO's IPv6 address alone picks IPv6; a pod name alone walks IPv4 in the same lab.
    let out = lab.run(&["trace", "pod1", "fd00:10:0:2::2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.starts_with("trace pod1 -> pod2 (fd00:10:0:2::2)"),
        "{text}"
    );
    assert!(text.contains("ICMP6, echo reply"), "{text}");
    // IPv6 addresses draw as Mermaid reads them.
    let out = lab.run(&[
        "trace", "--family", "ipv6", "pod2", "pod1", "--format", "mermaid",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    merman_core::Engine::new()
        .parse_diagram_sync(&text, merman_core::ParseOptions::strict())
        .unwrap_or_else(|e| panic!("mermaid rejects the IPv6 walk: {e}\n{text}"))
        .unwrap();
    assert!(text.contains("fd00:10:0:1::2"), "{text}");
    let (code, walk) = trace_json(&lab, &["pod1", "pod3"]);
    assert_eq!((code, &walk["to_ip"]), (0, &Value::from("10.0.3.2")));
    let first = step(&walk, "request", "pod1 eth1 out");
    assert!(first["packet"]
        .as_str()
        .unwrap()
        .starts_with("IP 10.0.1.2 > 10.0.3.2: ICMP echo request"));
}

#[test]
fn vxlan_ipv6_walk_goes_through_the_ipv6_vtep_in_ipv6_vxlan_over_the_ipv6_underlay() {
    let lab = deployed_dual("t41v", &["--mode", "vxlan"]);
    let (code, walk) = trace_json(&lab, &["--family", "ipv6", "pod1", "pod2"]);
    assert_eq!(code, 0, "{walk:#}");
    assert_time_ordered(&walk);
    assert_eq!(
        hops(&walk, "request"),
        strs(&[
            "pod1 eth1 out",
            "host1 pod1-veth in",
            "host1 cni0 in",
            "host1 flannel-v6.1 out",
            "host1 eth1 out",
            "gw1 eth2 in",
            "gw1 eth1 out",
            "wan gw1-eth1 in",
            "wan gw2-eth1 out",
            "gw2 eth1 in",
            "gw2 eth2 out",
            "host2 eth1 in",
            "host2 flannel-v6.1 in",
            "host2 cni0 out",
            "host2 pod2-veth out",
            "pod2 eth1 in",
        ]),
        "{walk:#}"
    );
    assert_eq!(hops(&walk, "reply").last().unwrap(), "pod1 eth1 in");
    assert_leg_is_icmpv6(&walk, "request", ("fd00:172:16::2", "fd00:172:16:1::2"));

    // On the underlay: outer IPv6, UDP 4789, VXLAN vni 1, and the pod's IPv6 packet inside.
    let out = step(&walk, "request", "host1 eth1 out");
    assert_eq!(out["encap"]["kind"], "vxlan", "{out:#}");
    assert_eq!(
        (&out["encap"]["vni"], &out["encap"]["port"]),
        (&1.into(), &4789.into())
    );
    assert_eq!(out["encap"]["outer_src"], "fd00:10:0:1::2");
    assert_eq!(out["encap"]["outer_dst"], "fd00:10:0:2::2");
    let packet = out["packet"].as_str().unwrap();
    assert!(
        packet.starts_with("IP6 fd00:10:0:1::2.")
            && packet.contains(" > fd00:10:0:2::2.4789: UDP, VXLAN")
            && packet.contains("vni 1 | IP6 fd00:172:16::2 > fd00:172:16:1::2: ICMP6"),
        "{packet}"
    );
    assert!(decision(&walk, "request", "host1 eth1 out").starts_with(
        "encapsulated by flannel-v6.1; outer route default via fd00:10:0:1::1 dev eth1"
    ));

    // The IPv6 route, the VTEP's NDP neighbour and the FDB entry that sent it in.
    let vtep = step(&walk, "request", "host1 flannel-v6.1 out");
    assert_eq!(vtep["wrap"], "encap");
    let why = vtep["decision"].as_str().unwrap();
    assert!(
        why.starts_with(
            "route fd00:172:16:1::/64 via fd00:172:16:1:: dev flannel-v6.1 onlink; \
             neighbour fd00:172:16:1:: lladdr"
        ) && why.contains("; FDB ")
            && why.contains("fd00:10:0:2::2"),
        "{why}"
    );
    assert!(decision(&walk, "request", "gw1 eth2 in")
        .starts_with("route fd00:10:0:2::/64 via fd00:192:168::100 dev eth1"));
    let decap = step(&walk, "request", "host2 eth1 in");
    assert_eq!(decap["wrap"], "decap");
    assert_eq!(
        decap["decision"],
        "outer fd00:10:0:2::2 is local: flannel-v6.1 decapsulates (UDP 4789 vni 1)"
    );
    assert!(decision(&walk, "request", "host2 flannel-v6.1 in")
        .starts_with("route fd00:172:16:1::/64 dev cni0; neighbour fd00:172:16:1::2 lladdr"));
    assert!(
        decision(&walk, "reply", "host2 flannel-v6.1 out").contains("fd00:10:0:1::2"),
        "the reply goes to host1's IPv6 VTEP: {walk:#}"
    );
}

#[test]
fn without_host1s_ipv6_route_to_host2s_pods_the_ipv6_walk_stops_at_host1_and_says_why() {
    let lab = deployed_dual("t41f", &["--mode", "host-gw"]);
    let ns = format!("clab-{}-host1", lab.name);
    let del = std::process::Command::new("ip")
        .args(["-n", &ns, "-6", "route", "del", "fd00:10:0:2::/64"])
        .status()
        .unwrap();
    assert!(del.success(), "cannot delete host1's IPv6 route");
    let (code, walk) = trace_json(&lab, &["--family", "ipv6", "pod1", "pod2"]);
    assert_eq!(code, 1, "{walk:#}");
    assert_eq!(walk["replied"], false);
    assert_eq!(
        hops(&walk, "request").last().unwrap(),
        "host1 cni0 in",
        "{walk:#}"
    );
    assert_eq!(walk["stopped"]["node"], "host1", "{walk:#}");
    assert_eq!(walk["stopped"]["lacks"], "no route to fd00:10:0:2::2");
    let out = lab.run(&["trace", "--family", "ipv6", "pod1", "pod2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("stopped: last seen at host1 cni0 (in): no route to fd00:10:0:2::2"),
        "{text}"
    );
    // IPv4 still goes through: only the IPv6 route is gone.
    let (code, walk) = trace_json(&lab, &["pod1", "pod2"]);
    assert_eq!(code, 0, "the IPv4 walk is untouched: {walk:#}");
}

#[test]
fn an_ipv6_walk_of_an_ipv4_lab_is_refused_naming_the_flag() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("t41r"));
    for args in [
        &["trace", "--family", "ipv6", "pod1", "pod2"][..],
        &["trace", "pod1", "fd00:10:0:2::2"][..],
    ] {
        let out = lab.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("has no IPv6") && err.contains("--family ipv6"),
            "{args:?}: {err}"
        );
        assert!(err.contains("--ip-family dual"), "{err}");
    }
}

#[test]
fn an_ipv6_only_vxlan_lab_is_walked_in_ipv6_without_the_flag_and_refuses_ipv4() {
    require_root();
    let lab = LabGuard::deployed_with(
        "t41s",
        &["--mode", "vxlan", "--ip-family", "ipv6", "--hosts", "3"],
    );
    let (code, walk) = trace_json(&lab, &["pod1", "pod3"]);
    assert_eq!(code, 0, "{walk:#}");
    assert_eq!(walk["to_ip"], "fd00:172:16:2::2");
    assert_leg_is_icmpv6(&walk, "request", ("fd00:172:16::2", "fd00:172:16:2::2"));
    let out = step(&walk, "request", "host1 eth1 out");
    assert_eq!(out["encap"]["outer_dst"], "fd00:10:0:3::2", "{out:#}");
    assert_eq!(out["encap"]["port"], 4789);
    assert_eq!(
        step(&walk, "request", "host1 flannel-v6.1 out")["wrap"],
        "encap"
    );
    let out = lab.run(&["trace", "--family", "ipv4", "pod1", "pod3"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no IPv4") && stderr(&out).contains("--family ipv4"),
        "{}",
        stderr(&out)
    );
}
