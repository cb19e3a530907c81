//! verify's TCP and UDP probes end to end on real labs (netns runtime): a lab that forwards
//! ICMP but not TCP or UDP fails with a reason naming the protocol, a TCP path that leaves the
//! tunnel is caught on the wire, and `--proto` chooses the probes. Root only; without root these
//! tests fail loudly rather than pass.

mod common;

use common::verify::*;
use common::*;

/// The pods' addresses in a 2-host overlay lab.
const POD1: &str = "172.16.0.2";
const POD2: &str = "172.16.1.2";

#[test]
fn a_lab_that_forwards_icmp_and_rejects_tcp_fails_naming_tcp() {
    let lab = deployed("vxlan", 2, "vptcp");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(
        code, 0,
        "a healthy lab passes with TCP and UDP probes: {report:#}"
    );
    exec(&lab, "host1", "iptables -A FORWARD -p tcp -j REJECT");
    let report = verify_fails_while_pings_pass(&lab, "pod1", POD2);
    // host1 forwards both directions of pod traffic: pod1's SYN out, pod2's SYN in.
    for (from, to) in [("pod1", "pod2"), ("pod2", "pod1")] {
        assert_fails_with(&report, from, to, &["TCP probe", "refused"]);
        let p = pair(&report, from, to);
        assert!(
            reasons(p).iter().all(|r| !r.starts_with("ping")),
            "ICMP still works, so no ping reason: {p:#}"
        );
    }
    // `--proto` chooses the probes: without TCP the lab passes again.
    let (code, report) = verify_healthy(&lab, &["--proto", "icmp,udp"]);
    assert_eq!(code, 0, "--proto icmp,udp sends no TCP: {report:#}");
}

#[test]
fn a_host_that_drops_udp_fails_its_pairs_naming_udp() {
    let lab = deployed("host-gw", 2, "vpudp");
    exec(&lab, "host2", "iptables -A FORWARD -p udp -j DROP");
    let report = verify_fails_while_pings_pass(&lab, "pod1", "10.0.2.2");
    assert_fails_with(&report, "pod1", "pod2", &["UDP probe", "no reply"]);
    // The datagram reached host2's underlay and died there: the place is named.
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["UDP probe request reached host2-eth1 (host underlay) but never pod2-eth1 (pod)"],
    );
    let (code, report) = verify_healthy(&lab, &["--proto", "icmp,tcp"]);
    assert_eq!(code, 0, "--proto icmp,tcp sends no UDP: {report:#}");
}

/// Policy routing sends only TCP to the peer's pods in plain, past the tunnel. Pings and UDP
/// stay tunnelled; the TCP handshake itself (a SYN carries no tag) shows the leak.
#[test]
fn tcp_alone_leaving_the_tunnel_is_caught_on_the_wire() {
    let lab = deployed("vxlan", 2, "vpleak");
    exec(&lab, "host1", "ip rule add ipproto tcp lookup 100");
    exec(
        &lab,
        "host1",
        "ip route add 172.16.1.0/24 via 10.0.1.1 dev eth1 table 100",
    );
    assert!(ping_ok(&lab, "pod1", POD2), "pings stay in the tunnel");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &[
            "TCP request: expected UDP/4789 VXLAN vni 1",
            &format!("saw plain IPv4 {POD1} > {POD2} on host1-eth1"),
        ],
    );
}

#[test]
fn an_unknown_protocol_is_a_usage_error_naming_the_flag() {
    let out = cnilab()
        .args(["verify", "--proto", "icmp,sctp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("--proto") && err.contains("sctp"), "{err}");
}
