//! Classes of fault that leave every frame the right shape, on the netns runtime: a path that
//! delivers each request twice, a pod bridge that floods unicast frames to every pod port (no
//! fault), and a router that drops a packet for want of a route (named at that router).
//! Root only.

mod common;

use common::captures::read_pcap;
use common::verify::{exec, kinds, pair, reasons, verify, verify_healthy};
use common::*;
use std::net::Ipv4Addr;

#[test]
fn a_path_that_delivers_every_request_twice_fails_and_names_where_the_copy_was_made() {
    let lab = common::verify::deployed("host-gw", 2, "vcd");
    let l = lab.lab();
    let (pod2, host2) = (l.pods[1].v4(), l.hosts[1].v4_underlay());
    // host1 sends every echo request for pod2 twice: once routed, once cloned to host2.
    exec(&lab, "host1", "nft add table ip dupl");
    exec(
        &lab,
        "host1",
        "nft add chain ip dupl post { type filter hook postrouting priority 0 ; }",
    );
    exec(
        &lab,
        "host1",
        &format!(
            "nft add rule ip dupl post ip daddr {pod2} icmp type echo-request dup to {host2} device eth1"
        ),
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    let p = pair(&report, "pod1", "pod2");
    assert!(kinds(p).contains(&"duplicated".to_string()), "{p:#}");
    let why = reasons(p).join("\n");
    assert!(
        why.contains("ping request reached pod2-eth1 (pod) 2 times")
            && why.contains("first seen twice on host1-eth1 (host underlay)"),
        "{why}"
    );
    let dup = p["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "duplicated")
        .unwrap();
    assert_eq!(dup["made_at"]["node"], "host1", "{dup:#}");
    assert_eq!(dup["point"]["role"], "pod", "{dup:#}");
    // The other way only replies go to pod2: nothing is copied.
    assert_eq!(pair(&report, "pod2", "pod1")["passed"], true, "{report:#}");

    exec(&lab, "host1", "nft delete table ip dupl");
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    drop(lab);
}

/// The probe frames a capture file holds that are addressed to another pod than `own`.
fn others_frames(path: &std::path::Path, own: Ipv4Addr) -> usize {
    read_pcap(path)
        .iter()
        .filter(|(_, f)| f.len() >= 34 && f[12..14] == [0x08, 0x00])
        .filter(|(_, f)| Ipv4Addr::new(f[30], f[31], f[32], f[33]) != own && f[23] == 1)
        .count()
}

#[test]
fn a_pod_bridge_that_floods_unicast_to_every_pod_port_is_no_fault() {
    let lab = LabGuard::deployed_with(
        "vcf",
        &["--mode", "vxlan", "--hosts", "2", "--pods-per-host", "3"],
    );
    // A bridge that forgets every MAC at once floods every unicast frame to all its ports: a
    // pod's frames reach its siblings on the same host, and pods of the other host too.
    for host in ["host1", "host2"] {
        exec(&lab, host, "ip link set cni0 type bridge ageing_time 0");
    }
    let pcaps = tempfile::tempdir().unwrap();
    let dir = pcaps.path().to_str().unwrap();
    let (code, report) = verify_healthy(&lab, &["--pcap", dir]);
    assert_eq!(code, 0, "{report:#}");
    // The floods happened: each sibling pod's interface saw probes for the others.
    let l = lab.lab();
    for pod in &l.pods {
        let file = pcaps
            .path()
            .join(format!("{}-{}.pcap", pod.node, pod.pod_if));
        assert!(
            others_frames(&file, pod.v4()) > 0,
            "{} saw no flooded copy: the test proves nothing",
            pod.node
        );
    }
    drop(lab);
}

#[test]
fn a_router_without_a_route_is_named_where_the_probe_was_last_seen() {
    let lab = LabGuard::deployed_with(
        "vcr",
        &[
            "--mode",
            "vxlan",
            "--flavor",
            "flannel",
            "--underlay",
            "routed",
            "--hosts",
            "2",
        ],
    );
    let host2 = lab.lab().hosts[1].clone();
    let subnet = format!(
        "{}.0/24",
        host2.v4_underlay().to_string().rsplit_once('.').unwrap().0
    );
    exec(&lab, "gw1", &format!("ip route del {subnet}"));
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    let p = pair(&report, "pod1", "pod2");
    let why = reasons(p).join("\n");
    assert!(
        why.contains("ping request last seen on gw1-")
            && why.contains(&format!(
                "(router); gw1 has no route to {} (host2's underlay address)",
                host2.v4_underlay()
            )),
        "{why}"
    );
    drop(lab);
}

/// A pod whose default route names a gateway nobody owns never sends its probes: the request is
/// seen at no capture point, and verify says so, with what the pod's own state shows.
#[test]
fn a_probe_that_never_left_its_pod_is_named_with_the_pods_gateway() {
    let lab = common::verify::deployed("host-gw", 2, "vun");
    let gw = "10.0.1.99";
    exec(
        &lab,
        "pod1",
        &format!("ip route replace default via {gw} dev eth1 onlink"),
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    let p = pair(&report, "pod1", "pod2");
    assert!(kinds(p).contains(&"unsent".to_string()), "{p:#}");
    let why = reasons(p).join("\n");
    let arp = format!("ping request never left pod1: pod1's ARP for {gw} on eth1 got no answer");
    let owner = format!("ping request never left pod1: pod1's gateway {gw} is no address of host1");
    assert!(why.contains(&arp) || why.contains(&owner), "{why}");
    // Its replies to pod2 go the same way: pod2's own probes are answered by nobody either,
    // but they left pod2, so they are not `unsent`.
    let back = pair(&report, "pod2", "pod1");
    assert!(!kinds(back).contains(&"unsent".to_string()), "{back:#}");
    assert!(lab.destroy().status.success());
    lab.assert_gone();
}
