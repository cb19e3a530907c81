//! At the article's sizes the generated labs are the article's labs: the same nodes,
//! addresses, tunnel, route and FDB commands, with only the documented fixes on top.
//! The rendered examples in topologies/ are the golden files.

use cnilab::plan::{Mode, Plan};
use cnilab::render::{render, Templates};
use cnilab::topology::Topology;
use std::path::PathBuf;

fn lab(mode: Mode, hosts: usize) -> Topology {
    let text = render(&Plan::new(mode, hosts, None).unwrap(), Templates::Embedded).unwrap();
    Topology::parse(&text).unwrap()
}

fn assert_node_runs(topo: &Topology, node: &str, lines: &[&str]) {
    let exec = &topo
        .node(node)
        .unwrap_or_else(|| panic!("no node {node}"))
        .exec;
    for line in lines {
        assert!(
            exec.iter().any(|l| l == line),
            "{node} lacks `{line}`:\n{exec:#?}"
        );
    }
}

fn links(topo: &Topology) -> Vec<Vec<String>> {
    topo.topology
        .links
        .iter()
        .map(|l| l.endpoints.clone())
        .collect()
}

fn names(topo: &Topology) -> Vec<&str> {
    topo.nodes().map(|(n, _)| n).collect()
}

#[test]
fn host_gw_matches_the_article() {
    let t = lab(Mode::HostGw, 2);
    assert_eq!(t.name, "host-gw-lab");
    assert_eq!(names(&t), ["host1", "host2", "pod1", "pod2", "switch"]);
    assert_eq!(t.node("switch").unwrap().kind.as_deref(), Some("bridge"));
    assert_node_runs(
        &t,
        "host1",
        &[
            "sysctl -w net.ipv4.ip_forward=1",
            "ip addr add 192.168.0.100/24 dev eth1",
            "ip link set eth1 up",
            "ip addr add 10.0.1.1/24 dev cni0",
            "ip route add 10.0.2.0/24 via 192.168.0.200",
            "iptables -t nat -A POSTROUTING -s 10.0.0.0/16 ! -d 10.0.0.0/16 -j MASQUERADE",
        ],
    );
    assert_node_runs(&t, "host2", &["ip route add 10.0.1.0/24 via 192.168.0.100"]);
    assert_node_runs(
        &t,
        "pod2",
        &[
            // Stated even at 1500: a link's own MTU (9500 under containerlab) is not the plan's.
            "ip link set dev eth1 mtu 1500",
            "ip addr add 10.0.2.2/24 dev eth1",
            "ip link set eth1 up",
        ],
    );
    assert!(links(&t).contains(&vec!["host1:pod1-veth".into(), "pod1:eth1".into()]));
}

#[test]
fn vxlan_matches_the_article_with_forwarding_fixed() {
    let t = lab(Mode::Vxlan, 2);
    assert_eq!(t.name, "flannel-vxlan");
    assert_eq!(names(&t), ["gw1", "gw2", "host1", "host2", "pod1", "pod2"]);
    assert_node_runs(
        &t,
        "gw1",
        &[
            "sysctl -w net.ipv4.ip_forward=1",
            "ip addr add 192.168.0.100/24 dev eth1",
            "ip addr add 10.0.1.1/24 dev eth2",
            "ip route add 10.0.2.0/24 via 192.168.0.200",
            "iptables -t nat -A POSTROUTING -s 10.0.0.0/16 ! -d 10.0.0.0/16 -j MASQUERADE",
        ],
    );
    assert_node_runs(
        &t,
        "host1",
        &[
            // The article sets proxy_arp here while its comment says "enable forwarding".
            "sysctl -w net.ipv4.ip_forward=1",
            "ip addr add 10.0.1.2/24 dev eth1",
            "ip route replace default via 10.0.1.1 dev eth1",
            "ip link add flannel.1 type vxlan id 1 dev eth1 local 10.0.1.2 dstport 4789",
            "ip link set dev flannel.1 up",
            "ip addr add 172.16.0.1/24 dev cni0",
            "ip addr add 172.16.0.0/32 dev flannel.1",
            "ip route add 172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink",
            "bridge fdb append to 00:00:00:00:00:00 dst 10.0.2.2 dev flannel.1",
        ],
    );
    assert_node_runs(
        &t,
        "host2",
        &[
            "ip route add 172.16.0.0/24 via 172.16.0.0 dev flannel.1 onlink",
            "bridge fdb append to 00:00:00:00:00:00 dst 10.0.1.2 dev flannel.1",
        ],
    );
    assert_node_runs(
        &t,
        "pod2",
        &[
            "ip addr add 172.16.1.2/24 dev eth1",
            "ip route replace default via 172.16.1.1 dev eth1",
        ],
    );
    let host1 = &t.node("host1").unwrap().exec;
    assert!(!host1.iter().any(|l| l.contains("proxy_arp")));
    assert_eq!(
        links(&t)[..3],
        [
            vec!["gw1:eth1".to_string(), "gw2:eth1".into()],
            vec!["gw1:eth2".into(), "host1:eth1".into()],
            vec!["gw2:eth2".into(), "host2:eth1".into()],
        ]
    );
}

#[test]
fn ipip_matches_the_article_with_host3_forwarding() {
    let t = lab(Mode::Ipip, 3);
    assert_eq!(t.name, "ipip-demo");
    assert_eq!(
        names(&t),
        ["gw", "host1", "host2", "host3", "pod1", "pod2", "pod3"]
    );
    assert_node_runs(
        &t,
        "gw",
        &[
            "ip addr add 10.0.1.1/24 dev eth1",
            "ip addr add 10.0.2.1/24 dev eth2",
            "ip addr add 10.0.3.1/24 dev eth3",
        ],
    );
    assert_node_runs(
        &t,
        "host1",
        &[
            "ip tunnel add tunl1 mode ipip local 10.0.1.2",
            "ip link set tunl1 up",
            "ip route add 172.16.1.0/24 via 10.0.2.2 dev tunl1 onlink",
            "ip route add 172.16.2.0/24 via 10.0.3.2 dev tunl1 onlink",
        ],
    );
    // The article's host3 never enables forwarding.
    assert_node_runs(
        &t,
        "host3",
        &[
            "sysctl -w net.ipv4.ip_forward=1",
            "ip route add 172.16.0.0/24 via 10.0.1.2 dev tunl1 onlink",
            "ip route add 172.16.1.0/24 via 10.0.2.2 dev tunl1 onlink",
        ],
    );
    assert!(links(&t).contains(&vec!["gw:eth3".into(), "host3:eth1".into()]));
}

#[test]
fn every_forwarding_node_says_so_and_ipv6_is_off_everywhere() {
    for mode in Mode::ALL {
        let t = lab(mode, 4);
        for (name, node) in t.nodes() {
            if node.kind.as_deref() == Some("bridge") {
                continue;
            }
            let has = |line: &str| node.exec.iter().any(|l| l == line);
            assert!(
                has("sysctl -w net.ipv6.conf.all.disable_ipv6=1"),
                "{mode} {name}"
            );
            let forwards = !name.starts_with("pod");
            assert_eq!(
                has("sysctl -w net.ipv4.ip_forward=1"),
                forwards,
                "{mode} {name}"
            );
        }
    }
}

#[test]
fn overlay_mtus_leave_room_for_the_header() {
    let vx = lab(Mode::Vxlan, 2);
    assert_node_runs(&vx, "host1", &["ip link set dev flannel.1 mtu 1450"]);
    assert_node_runs(&vx, "pod1", &["ip link set dev eth1 mtu 1450"]);
    let ip = lab(Mode::Ipip, 3);
    assert_node_runs(&ip, "host1", &["ip link set dev tunl1 mtu 1480"]);
    assert_node_runs(&ip, "pod1", &["ip link set dev eth1 mtu 1480"]);
}

#[test]
fn larger_vxlan_labs_share_a_wan_switch() {
    let t = lab(Mode::Vxlan, 4);
    assert_eq!(t.node("wan").unwrap().kind.as_deref(), Some("bridge"));
    assert!(links(&t).contains(&vec!["gw4:eth1".into(), "wan:gw4-eth1".into()]));
    assert_node_runs(
        &t,
        "gw1",
        &[
            "ip addr add 192.168.0.50/24 dev eth1",
            "ip route add 10.0.4.0/24 via 192.168.0.200",
        ],
    );
    assert_node_runs(
        &t,
        "host1",
        &[
            "bridge fdb append to 00:00:00:00:00:00 dst 10.0.4.2 dev flannel.1",
            "ip route add 172.16.3.0/24 via 172.16.3.0 dev flannel.1 onlink",
        ],
    );
}

/// The examples in topologies/ are what `make topologies` writes: fail when they are stale.
#[test]
fn topologies_folder_is_up_to_date() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies");
    for (mode, hosts) in [
        (Mode::HostGw, 2),
        (Mode::Vxlan, 2),
        (Mode::Ipip, 3),
        (Mode::Vxlan, 4),
    ] {
        let path = dir.join(format!("{mode}-{hosts}.yaml"));
        let expected = render(&Plan::new(mode, hosts, None).unwrap(), Templates::Embedded).unwrap();
        let actual = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run `make topologies`", path.display()));
        assert!(
            actual == expected,
            "{} is stale; run `make topologies`",
            path.display()
        );
    }
}
