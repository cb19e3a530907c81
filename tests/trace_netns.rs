//! `cnilab trace` on real labs in network namespaces (root): the walk of one probe, hop by
//! hop, in kernel-timestamp order, with the entry that decided each step.

mod common;

use common::walk::*;
use common::*;

fn deployed(mode: &str, hosts: usize, prefix: &str) -> LabGuard {
    require_root();
    let lab = LabGuard::gen(mode, hosts, &unique(prefix));
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    lab
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn vxlan_walk_goes_through_the_vtep_the_fdb_picked_and_back() {
    let lab = deployed("vxlan", 3, "trv");
    // Cold: the walk shows the ARP that resolves the VTEP's MAC, flooded head-end to both peers.
    let (code, walk) = trace_json(&lab, &["--cold", "pod1", "pod2"]);
    assert_eq!(code, 0, "{walk:#}");
    let arp = steps(&walk, "arp");
    assert!(
        arp.iter()
            .any(|s| s["node"] == "host1" && s["iface"] == "eth1" && s["encap"]["vni"] == 1),
        "a cold walk shows the VXLAN-carried ARP leaving host1: {walk:#}"
    );
    for peer in ["10.0.2.2", "10.0.3.2"] {
        assert!(
            decision(&walk, "arp", "host1 flannel.1 out").contains(peer),
            "head-end replication to {peer}"
        );
    }

    let (code, walk) = trace_json(&lab, &["pod1", "172.16.1.2"]);
    assert_eq!(code, 0, "{walk:#}");
    assert_eq!(walk["replied"], true);
    assert_time_ordered(&walk);
    assert_eq!(
        hops(&walk, "request"),
        strs(&[
            "pod1 eth1 out",
            "host1 pod1-veth in",
            "host1 cni0 in",
            "host1 flannel.1 out",
            "host1 eth1 out",
            "gw1 eth2 in",
            "gw1 eth1 out",
            "wan gw1-eth1 in",
            "wan gw2-eth1 out",
            "gw2 eth1 in",
            "gw2 eth2 out",
            "host2 eth1 in",
            "host2 flannel.1 in",
            "host2 cni0 out",
            "host2 pod2-veth out",
            "pod2 eth1 in",
        ]),
        "{walk:#}"
    );
    assert_eq!(
        hops(&walk, "reply"),
        strs(&[
            "pod2 eth1 out",
            "host2 pod2-veth in",
            "host2 cni0 in",
            "host2 flannel.1 out",
            "host2 eth1 out",
            "gw2 eth2 in",
            "gw2 eth1 out",
            "wan gw2-eth1 in",
            "wan gw1-eth1 out",
            "gw1 eth1 in",
            "gw1 eth2 out",
            "host1 eth1 in",
            "host1 flannel.1 in",
            "host1 cni0 out",
            "host1 pod1-veth out",
            "pod1 eth1 in",
        ])
    );
    let out = step(&walk, "request", "host1 eth1 out");
    assert_eq!(out["encap"]["kind"], "vxlan");
    assert_eq!(out["encap"]["vni"], 1);
    assert_eq!(out["encap"]["port"], 4789);
    assert!(out["packet"]
        .as_str()
        .unwrap()
        .contains("10.0.2.2.4789: UDP, VXLAN"));
    assert_eq!(
        step(&walk, "request", "host1 flannel.1 out")["wrap"],
        "encap"
    );
    assert_eq!(step(&walk, "request", "host2 eth1 in")["wrap"], "decap");
    // Each step names what decided it.
    assert!(decision(&walk, "request", "pod1 eth1 out")
        .contains("route default via 172.16.0.1 dev eth1; neighbour 172.16.0.1 lladdr"));
    assert!(decision(&walk, "request", "host1 cni0 in")
        .contains("route 172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink"));
    assert!(
        decision(&walk, "request", "host1 flannel.1 out").contains("dst 10.0.2.2 (remote VTEP)")
    );
    assert!(decision(&walk, "request", "gw1 eth2 in")
        .contains("route 10.0.2.0/24 via 192.168.0.100 dev eth1"));
    assert!(
        decision(&walk, "request", "host2 flannel.1 in").contains("route 172.16.1.0/24 dev cni0")
    );
    assert!(decision(&walk, "request", "host2 pod2-veth out").contains("bridge cni0"));
    assert!(decision(&walk, "reply", "host2 flannel.1 out").contains("dst 10.0.1.2 (remote VTEP)"));
}

#[test]
fn with_host1s_tunnel_route_gone_the_request_leaves_in_plain_and_the_walk_stops() {
    let lab = deployed("vxlan", 3, "trb");
    let ns = format!("clab-{}-host1", lab.name);
    let del = std::process::Command::new("ip")
        .args(["-n", &ns, "route", "del", "172.16.1.0/24"])
        .status()
        .unwrap();
    assert!(del.success());
    let (code, walk) = trace_json(&lab, &["pod1", "pod2"]);
    assert_eq!(code, 1, "{walk:#}");
    assert_eq!(walk["replied"], false);
    let out = step(&walk, "request", "host1 eth1 out");
    assert!(
        out["encap"].is_null(),
        "the request left host1 in plain: {out:#}"
    );
    assert!(out["decision"]
        .as_str()
        .unwrap()
        .contains("route default via 10.0.1.1 dev eth1"));
    assert_eq!(walk["stopped"]["node"], "gw1", "{walk:#}");
    assert!(walk["stopped"]["lacks"]
        .as_str()
        .unwrap()
        .contains("no route to 172.16.1.2"));
    let findings = walk["findings"].to_string();
    assert!(
        findings.contains("left host1 on eth1 in plain") && findings.contains("172.16.1.0/24"),
        "trace names the missing route: {findings}"
    );
    let text = lab.run(&["trace", "pod1", "pod2"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("stopped: last seen at gw1 eth2 (in): no route to 172.16.1.2"),
        "{text}"
    );
}

#[test]
fn host_gw_walk_is_routed_by_the_peer_hosts_route() {
    let lab = deployed("host-gw", 2, "trh");
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("frames");
    let (code, walk) = trace_json(
        &lab,
        &["--cold", "pod1", "pod2", "--pcap", pcap.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{walk:#}");
    assert_time_ordered(&walk);
    assert_eq!(
        hops(&walk, "request"),
        strs(&[
            "pod1 eth1 out",
            "host1 pod1-veth in",
            "host1 cni0 in",
            "host1 eth1 out",
            "switch host1-eth1 in",
            "switch host2-eth1 out",
            "host2 eth1 in",
            "host2 cni0 out",
            "host2 pod2-veth out",
            "pod2 eth1 in",
        ]),
        "{walk:#}"
    );
    assert!(decision(&walk, "request", "host1 cni0 in")
        .contains("route 10.0.2.0/24 via 192.168.0.200 dev eth1"));
    assert!(steps(&walk, "request").iter().all(|s| s["encap"].is_null()));
    assert!(
        !steps(&walk, "arp").is_empty(),
        "a cold walk resolves neighbours"
    );
    assert_eq!(hops(&walk, "reply").last().unwrap(), "pod1 eth1 in");

    // One pcapng, one interface per capture point named node:interface, kernel-ordered frames.
    let file = std::fs::File::open(pcap.join("trace.pcapng")).unwrap();
    let mut reader = pcap_file::pcapng::PcapNgReader::new(file).unwrap();
    let (mut names, mut times, mut comments) = (Vec::new(), Vec::new(), 0);
    while let Some(block) = reader.next_block() {
        match block.unwrap() {
            pcap_file::pcapng::Block::InterfaceDescription(i) => {
                for o in i.options {
                    if let pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption::IfName(n) = o {
                        names.push(n.to_string());
                    }
                }
            }
            pcap_file::pcapng::Block::EnhancedPacket(p) => {
                times.push(p.timestamp);
                comments += usize::from(!p.options.is_empty());
            }
            _ => {}
        }
    }
    for point in ["pod1:eth1", "host1:cni0", "switch:host2-eth1", "host2:eth1"] {
        assert!(
            names.contains(&point.to_string()),
            "{point} missing from {names:?}"
        );
    }
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(comments, walk["steps"].as_array().unwrap().len());
}

#[test]
fn the_walk_draws_as_a_sequence_diagram() {
    let lab = deployed("vxlan", 2, "trd");
    let out = lab.run(&["trace", "pod2", "pod1", "--format", "mermaid"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let parsed = merman_core::Engine::new()
        .parse_diagram_sync(&text, merman_core::ParseOptions::strict())
        .unwrap_or_else(|e| panic!("mermaid rejects the walk: {e}\n{text}"))
        .unwrap();
    assert_eq!(parsed.meta.diagram_type, "sequence");
    for node in ["pod2", "host2", "gw1", "host1", "pod1"] {
        assert!(
            text.contains(&format!(" as {node}\n")),
            "no lifeline for {node}"
        );
    }
    let out = lab.run(&["trace", "pod1", "pod2", "--format", "svg"]);
    let svg = String::from_utf8(out.stdout).unwrap();
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert!(svg.contains("&gt;&gt; ENCAP") && svg.contains("&lt;&lt; DECAP"));
}

#[test]
fn unknown_pods_and_labs_that_are_not_up_are_usage_errors() {
    require_root();
    let lab = LabGuard::gen("vxlan", 2, &unique("tru"));
    let out = lab.run(&["trace", "pod1", "pod2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not deployed"), "{}", stderr(&out));
    let out = lab.run(&["trace", "pod1", "pod9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no pod is `pod9`"));
}

/// The kernel stamps a frame once for every socket: a tcpdump on the same interface at the
/// same time must carry the same time for every frame both saw.
#[test]
fn frame_times_are_the_kernels_as_tcpdump_sees_them() {
    let lab = deployed("vxlan", 2, "trt");
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("tcpdump.pcap");
    let ns = format!("clab-{}-host1", lab.name);
    let tcpdump = common::captures::Tcpdump::start(&ns, "eth1", &theirs);
    let mine = dir.path().join("mine");
    let (code, walk) = trace_json(
        &lab,
        &["--cold", "pod1", "pod2", "--pcap", mine.to_str().unwrap()],
    );
    let tcpdump_frames = tcpdump.stop();
    assert_eq!(code, 0, "{walk:#}");

    let ours = common::captures::pcapng_frames(&mine.join("trace.pcapng"), "host1:eth1");
    assert!(
        ours.len() >= 4,
        "host1 eth1 saw ARP, request and reply: {}",
        ours.len()
    );
    let compared = common::captures::assert_same_times(
        &ours,
        &tcpdump_frames,
        std::time::Duration::from_micros(20),
        "host1:eth1",
    );
    assert!(
        compared >= 4,
        "only {compared} frames in common with tcpdump"
    );
}
