//! The capture filter: a classic BPF program attached to every capture socket, so that the
//! kernel hands verify only the frames its judge reads, not every frame a busy lab floods.
//!
//! What passes (anything else stays in the kernel):
//! - a probe, IPv4 or IPv6, recognised by the tag [`Tag::MAGIC`] at the start of its ICMP,
//!   ICMPv6 or UDP payload, in plain form, inside IPIP, or inside VXLAN on any of the lab's VXLAN
//!   ports over an IPv4 or an IPv6 underlay;
//! - an ICMP or ICMPv6 error (unreachable, packet too big, time exceeded), plain or
//!   encapsulated: it may quote a probe, and it is rare by nature (the kernel rate-limits it);
//! - an ARP or NDP neighbour solicitation or advertisement inside VXLAN on another port or VNI
//!   than the lab's: the only trace a VTEP configured with the wrong port or VNI leaves, which
//!   the lab-wide check reads. The lab's own flooded ARP and NDP (each request head-end
//!   replicated to every peer) do not pass, nor does NDP, MLD or a router solicitation on a link.
//!
//! IPv6 extension headers are not walked: a probe carries none, so a packet whose next header
//! is not ICMPv6, TCP or UDP is dropped.
//!
//! The program is built so that each form ends with X holding "bytes before the innermost
//! transport header, minus the outer Ethernet header" and M\[0\] the innermost protocol; one
//! shared block then checks the transport header at `X + 14`. Jumps only go forward (cBPF).

use crate::lab::VxlanParams;
use crate::wire::dissect::Tag;

/// Snap lengths: what the filter returns for a frame that passes is how much of it the
/// kernel copies. All of it, for pcap files.
pub const WHOLE: u32 = 0x40000;
/// Enough for the judge: every header down to the innermost transport header and a probe's
/// tag behind it, in VXLAN with the longest IPv4 and TCP options (14 + 60 + 8 + 8 + 14 + 60 +
/// 60 + 17 = 241 bytes; an IPv6 header is 40 bytes, shorter than the longest IPv4 one). A
/// full-size probe is cut to this, so its 1,400 bytes of padding are
/// neither copied nor held in the ring; its length stays in its IP header.
pub const PROBE_SNAP: u32 = 256;
const ETH: u32 = 14;
const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_ARP: u32 = 0x0806;
const ETHERTYPE_IPV6: u32 = 0x86dd;
/// The fixed IPv6 header; where its next-header byte sits.
const IPV6_LEN: u32 = 40;
const IPV6_NEXT: u32 = 6;
const PROTO_ICMP: u32 = 1;
const PROTO_ICMPV6: u32 = 58;
const PROTO_IPIP: u32 = 4;
const PROTO_TCP: u32 = 6;
const PROTO_UDP: u32 = 17;
/// The fragment-offset bits of an IPv4 header's flags word: a later fragment has no
/// transport header to read.
const FRAG_OFFSET: u32 = 0x1fff;

// Opcodes from linux/filter.h, spelled out once.
#[cfg(test)]
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const LD_W_IND: u16 = 0x40;
const LD_H_IND: u16 = 0x48;
const LD_B_IND: u16 = 0x50;
#[cfg(test)]
const LD_IMM: u16 = 0x00;
const LD_MEM: u16 = 0x60;
const LDX_IMM: u16 = 0x01;
const LDX_MSH: u16 = 0xb1;
const TXA: u16 = 0x87;
const ST: u16 = 0x02;
const ALU_ADD_K: u16 = 0x04;
const ALU_ADD_X: u16 = 0x0c;
const ALU_AND_K: u16 = 0x54;
const ALU_LSH_K: u16 = 0x64;
const ALU_RSH_K: u16 = 0x74;
const TAX: u16 = 0x07;
const JA: u16 = 0x05;
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// Where a conditional jump goes: the next instruction or a named place further on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Next,
    L(Label),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Label {
    Ip4,
    Ip6,
    Ipip,
    Udp,
    Vxlan,
    VxlanArp,
    VxlanIp,
    VxlanIp6,
    VxlanIp6Transport,
    L4,
    Icmp,
    Icmp6,
    Tcp,
    Magic,
    Accept,
    Drop,
}

use Label::*;
use To::{Next, L};

enum Op {
    Stmt(u16, u32),
    Jump(u16, u32, To, To),
    Always(Label),
    Here(Label),
}

/// The filter for a lab whose VXLAN segment (if any) is `vxlan`, listening for VXLAN on
/// `ports` (the lab's port first, then the well-known ones dissect also reads), that copies
/// the first `snap` bytes of each frame it passes.
pub fn program(vxlan: Option<VxlanParams>, ports: &[u16], snap: u32) -> Vec<libc::sock_filter> {
    let mut ops = Vec::new();
    outer(&mut ops, ports);
    encapsulated(&mut ops, vxlan);
    transport(&mut ops, snap);
    assemble(&ops)
}

/// The filter for a point without a link-layer header (a WireGuard device, whose frames
/// start at the IP header): every IPv4 packet, its first `snap` bytes. Only the lab's own
/// tunnelled pod traffic crosses such a device, so there is nothing to sort out in the kernel;
/// the capture gives each packet an Ethernet header before judging (see
/// [`super::capture`]).
pub fn bare_ipv4(snap: u32) -> Vec<libc::sock_filter> {
    use Op::*;
    assemble(&[
        Stmt(LD_B_ABS, 0),
        Stmt(ALU_AND_K, 0xf0),
        Jump(JEQ_K, 0x40, Next, L(Drop)),
        Stmt(RET_K, snap),
        Here(Drop),
        Stmt(RET_K, 0),
    ])
}

/// The outer Ethernet and IPv4 or IPv6 headers: plain ICMP, ICMPv6, TCP and UDP go on, IPIP
/// and VXLAN unwrap.
fn outer(ops: &mut Vec<Op>, ports: &[u16]) {
    use Op::*;
    ops.extend([
        Stmt(LD_H_ABS, 12),
        Jump(JEQ_K, ETHERTYPE_IPV4, Next, L(Ip6)),
        Here(Ip4),
        Stmt(LD_H_ABS, ETH + 6),
        Jump(JSET_K, FRAG_OFFSET, L(Drop), Next),
        Stmt(LDX_MSH, ETH),
        Stmt(LD_B_ABS, ETH + 9),
        Stmt(ST, 0),
        Jump(JEQ_K, PROTO_ICMP, L(L4), Next),
        Jump(JEQ_K, PROTO_TCP, L(L4), Next),
        Jump(JEQ_K, PROTO_IPIP, L(Ipip), Next),
        Jump(JEQ_K, PROTO_UDP, L(Udp), L(Drop)),
        // IPv6: a fixed 40-byte header; no IPIP over it.
        Here(Ip6),
        Jump(JEQ_K, ETHERTYPE_IPV6, Next, L(Drop)),
        Stmt(LDX_IMM, IPV6_LEN),
        Stmt(LD_B_ABS, ETH + IPV6_NEXT),
        Stmt(ST, 0),
        Jump(JEQ_K, PROTO_ICMPV6, L(L4), Next),
        Jump(JEQ_K, PROTO_TCP, L(L4), Next),
        Jump(JEQ_K, PROTO_UDP, L(Udp), L(Drop)),
        Here(Udp),
        Stmt(LD_H_IND, ETH + 2),
    ]);
    for &port in ports {
        ops.push(Jump(JEQ_K, u32::from(port), L(Vxlan), Next));
    }
    // A UDP datagram on no VXLAN port may be a UDP probe.
    ops.push(Always(L4));
}

/// IPIP and VXLAN: find the inner IPv4 or IPv6 header, or an inner ARP or NDP worth passing.
fn encapsulated(ops: &mut Vec<Op>, vxlan: Option<VxlanParams>) {
    use Op::*;
    ops.extend([
        // IPIP: the inner IPv4 header follows the outer one.
        Here(Ipip),
        Stmt(LD_H_IND, ETH + 6),
        Jump(JSET_K, FRAG_OFFSET, L(Drop), Next),
        Stmt(LD_B_IND, ETH + 9),
        Stmt(ST, 0),
        Stmt(LD_B_IND, ETH),
        Stmt(ALU_AND_K, 0x0f),
        Stmt(ALU_LSH_K, 2),
        Stmt(ALU_ADD_X, 0),
        Stmt(TAX, 0),
        Always(L4),
        // VXLAN: UDP (8) and VXLAN (8) headers, then the inner Ethernet frame (14).
        Here(Vxlan),
        Stmt(LD_H_IND, ETH + 16 + 12),
        Jump(JEQ_K, ETHERTYPE_IPV4, L(VxlanIp), Next),
        Jump(JEQ_K, ETHERTYPE_IPV6, L(VxlanIp6), Next),
        Jump(JEQ_K, ETHERTYPE_ARP, L(VxlanArp), L(Drop)),
    ]);
    inner_ipv6(ops);
    ops.push(Here(VxlanArp));
    if let Some(v) = vxlan {
        ops.extend([
            Stmt(LD_H_IND, ETH + 2),
            Jump(JEQ_K, u32::from(v.port), Next, L(Accept)),
            Stmt(LD_W_IND, ETH + 8 + 4),
            Stmt(ALU_RSH_K, 8),
            Jump(JEQ_K, v.vni, L(Drop), L(Accept)),
        ]);
    } else {
        ops.push(Always(Accept));
    }
    let inner_ip = ETH + 30;
    ops.extend([
        Here(VxlanIp),
        Stmt(LD_H_IND, inner_ip + 6),
        Jump(JSET_K, FRAG_OFFSET, L(Drop), Next),
        Stmt(LD_B_IND, inner_ip + 9),
        Stmt(ST, 0),
        Stmt(LD_B_IND, inner_ip),
        Stmt(ALU_AND_K, 0x0f),
        Stmt(ALU_LSH_K, 2),
        Stmt(ALU_ADD_K, 30),
        Stmt(ALU_ADD_X, 0),
        Stmt(TAX, 0),
    ]);
}

/// An IPv6 frame inside VXLAN: a neighbour solicitation or advertisement goes to the ARP check
/// (it plays ARP's part), anything else on to its transport header. X still points at the
/// outer UDP header when the NDP check reads, so the ARP check reads the right port and VNI.
fn inner_ipv6(ops: &mut Vec<Op>) {
    use Op::*;
    let inner_ip = ETH + 30;
    ops.extend([
        Here(VxlanIp6),
        Stmt(LD_B_IND, inner_ip + IPV6_NEXT),
        Stmt(ST, 0),
        Jump(JEQ_K, PROTO_ICMPV6, Next, L(VxlanIp6Transport)),
        Stmt(LD_B_IND, inner_ip + IPV6_LEN),
        Jump(JEQ_K, 135, L(VxlanArp), Next),
        Jump(JEQ_K, 136, L(VxlanArp), Next),
        Here(VxlanIp6Transport),
        Stmt(TXA, 0),
        Stmt(ALU_ADD_K, 30 + IPV6_LEN),
        Stmt(TAX, 0),
        Always(L4),
    ]);
}

/// The innermost transport header, at X + 14: tagged echo or UDP probe, a TCP probe's
/// segment (to or from the probe port: a handshake carries no tag), or an ICMP error.
fn transport(ops: &mut Vec<Op>, snap: u32) {
    use Op::*;
    let magic = |at: usize| u32::from_be_bytes(Tag::MAGIC[at..at + 4].try_into().expect("4"));
    let probe_port = u32::from(super::listener::PORT);
    ops.extend([
        Here(L4),
        Stmt(LD_MEM, 0),
        Jump(JEQ_K, PROTO_ICMP, L(Icmp), Next),
        Jump(JEQ_K, PROTO_ICMPV6, L(Icmp6), Next),
        Jump(JEQ_K, PROTO_TCP, L(Tcp), Next),
        // UDP and ICMP headers are both 8 bytes: a UDP probe's tag sits where an echo's does.
        Jump(JEQ_K, PROTO_UDP, L(Magic), L(Drop)),
        Here(Tcp),
        Stmt(LD_H_IND, ETH),
        Jump(JEQ_K, probe_port, L(Accept), Next),
        Stmt(LD_H_IND, ETH + 2),
        Jump(JEQ_K, probe_port, L(Accept), L(Drop)),
        Here(Icmp),
        Stmt(LD_B_IND, ETH),
        Jump(JEQ_K, 8, L(Magic), Next),
        Jump(JEQ_K, 0, L(Magic), Next),
        Jump(JEQ_K, 3, L(Accept), Next),
        Jump(JEQ_K, 11, L(Accept), L(Drop)),
        // ICMPv6: echo request and reply, destination unreachable, packet too big, time
        // exceeded. NDP, MLD and router messages stay in the kernel.
        Here(Icmp6),
        Stmt(LD_B_IND, ETH),
        Jump(JEQ_K, 128, L(Magic), Next),
        Jump(JEQ_K, 129, L(Magic), Next),
        Jump(JEQ_K, 1, L(Accept), Next),
        Jump(JEQ_K, 2, L(Accept), Next),
        Jump(JEQ_K, 3, L(Accept), L(Drop)),
        Here(Magic),
        Stmt(LD_W_IND, ETH + 8),
        Jump(JEQ_K, magic(0), Next, L(Drop)),
        Stmt(LD_W_IND, ETH + 12),
        Jump(JEQ_K, magic(4), L(Accept), L(Drop)),
        Here(Accept),
        Stmt(RET_K, snap),
        Here(Drop),
        Stmt(RET_K, 0),
    ]);
}

/// Resolves labels into the forward offsets cBPF jumps take.
fn assemble(ops: &[Op]) -> Vec<libc::sock_filter> {
    let mut at = std::collections::HashMap::new();
    let mut n = 0usize;
    for op in ops {
        match op {
            Op::Here(label) => {
                at.insert(*label, n);
            }
            _ => n += 1,
        }
    }
    let mut out = Vec::with_capacity(n);
    for op in ops {
        let pc = out.len();
        let offset = |to: To| match to {
            Next => 0,
            L(label) => {
                let target = at[&label];
                u8::try_from(target - pc - 1).expect("the program is short")
            }
        };
        let insn = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
        match *op {
            Op::Here(_) => {}
            Op::Stmt(code, k) => out.push(insn(code, 0, 0, k)),
            Op::Jump(code, k, t, f) => out.push(insn(code, offset(t), offset(f), k)),
            Op::Always(label) => out.push(insn(JA, 0, 0, (at[&label] - pc - 1) as u32)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dissect::build::{
        echo, ether, ip, ipip_frame, ipv4, plain, udp, vxlan, vxlan_frame,
    };

    const TAG: Tag = Tag {
        run: 0x1234_5678,
        probe: 9,
        attempt: 0,
    };
    const LAB: VxlanParams = VxlanParams { vni: 1, port: 8472 };

    #[test]
    fn a_bare_ip_point_keeps_every_ipv4_packet_and_nothing_else() {
        let prog = bare_ipv4(PROBE_SNAP);
        let packet = ipv4(
            ip("100.64.0.1"),
            ip("100.64.0.2"),
            17,
            &udp(1, 4789, &[0; 8]),
        );
        assert_eq!(run(&prog, &packet), PROBE_SNAP);
        let mut v6 = packet.clone();
        v6[0] = 0x60;
        assert_eq!(run(&prog, &v6), 0);
        assert_eq!(run(&prog, &[]), 0);
    }
    const PORTS: &[u16] = &[8472, 4789];

    /// A classic BPF interpreter for the instructions [`program`] uses: what the kernel would
    /// return for `frame` (0 drops it). Loads past the end drop, as in the kernel.
    fn run(prog: &[libc::sock_filter], frame: &[u8]) -> u32 {
        let (mut a, mut x, mut mem, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
        let load = |at: u32, size: usize| -> Option<u32> {
            let at = at as usize;
            let bytes = frame.get(at..at + size)?;
            Some(bytes.iter().fold(0u32, |v, &b| v << 8 | u32::from(b)))
        };
        loop {
            let i = prog[pc];
            pc += 1;
            let (k, jump) = (i.k, |taken: bool| {
                usize::from(if taken { i.jt } else { i.jf })
            });
            a = match i.code {
                LD_W_ABS | LD_H_ABS | LD_B_ABS | LD_W_IND | LD_H_IND | LD_B_IND => {
                    let at = if i.code >= LD_W_IND {
                        k.wrapping_add(x)
                    } else {
                        k
                    };
                    let size = match i.code & 0x18 {
                        0x00 => 4,
                        0x08 => 2,
                        _ => 1,
                    };
                    match load(at, size) {
                        Some(v) => v,
                        None => return 0,
                    }
                }
                LD_IMM => k,
                LD_MEM => mem[k as usize],
                LDX_MSH => {
                    x = 4 * (load(k, 1).unwrap_or(0) & 0xf);
                    a
                }
                LDX_IMM => {
                    x = k;
                    a
                }
                TXA => x,
                ST => {
                    mem[k as usize] = a;
                    a
                }
                ALU_ADD_K => a.wrapping_add(k),
                ALU_ADD_X => a.wrapping_add(x),
                ALU_AND_K => a & k,
                ALU_LSH_K => a << k,
                ALU_RSH_K => a >> k,
                TAX => {
                    x = a;
                    a
                }
                JA => {
                    pc += k as usize;
                    a
                }
                JEQ_K => {
                    pc += jump(a == k);
                    a
                }
                JSET_K => {
                    pc += jump(a & k != 0);
                    a
                }
                RET_K => return k,
                other => panic!("opcode {other:#x} not interpreted"),
            };
        }
    }

    fn passes(frame: &[u8]) -> bool {
        run(&program(Some(LAB), PORTS, WHOLE), frame) > 0
    }

    fn vxlan_arp(port: u16, vni: u32) -> Vec<u8> {
        let mut arp = vec![0u8; 28];
        arp[14..18].copy_from_slice(&[172, 16, 0, 0]);
        arp[24..28].copy_from_slice(&[172, 16, 1, 0]);
        let inner = ether(0x0806, &arp);
        let outer = udp(40000, port, &vxlan(vni, &inner));
        ether(0x0800, &ipv4(ip("10.0.1.2"), ip("10.0.2.2"), 17, &outer))
    }

    #[test]
    fn a_probe_passes_in_plain_vxlan_and_ipip_form_both_ways() {
        for reply in [false, true] {
            let t = Some(TAG);
            let p = ("172.16.0.2", "172.16.1.2");
            let u = ("10.0.1.2", "10.0.2.2");
            assert!(passes(&plain(p.0, p.1, reply, t)), "plain");
            assert!(passes(&vxlan_frame(u, 8472, 1, p, reply, t)), "vxlan");
            assert!(passes(&vxlan_frame(u, 4789, 7, p, reply, t)), "vxlan 4789");
            assert!(passes(&ipip_frame(u, p, reply, t)), "ipip");
        }
    }

    #[test]
    fn a_tagged_udp_probe_passes_plain_and_in_a_tunnel() {
        let mut payload = vec![0u8; 32];
        TAG.write(&mut payload);
        let dgram = ipv4(
            ip("172.16.0.2"),
            ip("172.16.1.2"),
            17,
            &udp(5000, 7, &payload),
        );
        assert!(passes(&ether(0x0800, &dgram)));
        let tunnelled = ipv4(ip("10.0.1.2"), ip("10.0.2.2"), 4, &dgram);
        assert!(passes(&ether(0x0800, &tunnelled)));
    }

    /// A bare TCP header (no options) from `sport` to `dport`.
    fn tcp(sport: u16, dport: u16) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[..2].copy_from_slice(&sport.to_be_bytes());
        h[2..4].copy_from_slice(&dport.to_be_bytes());
        h[12] = 5 << 4;
        h[13] = 0x02;
        h
    }

    #[test]
    fn a_tcp_probe_segment_passes_by_its_port_plain_and_in_a_tunnel() {
        let port = super::super::listener::PORT;
        for (sport, dport) in [(40000, port), (port, 40000)] {
            let seg = ipv4(ip("172.16.0.2"), ip("172.16.1.2"), 6, &tcp(sport, dport));
            assert!(passes(&ether(0x0800, &seg)), "plain {sport}>{dport}");
            let ipip = ipv4(ip("10.0.1.2"), ip("10.0.2.2"), 4, &seg);
            assert!(passes(&ether(0x0800, &ipip)), "ipip {sport}>{dport}");
            let inner = ether(0x0800, &seg);
            let outer = udp(40000, 8472, &vxlan(1, &inner));
            let frame = ether(0x0800, &ipv4(ip("10.0.1.2"), ip("10.0.2.2"), 17, &outer));
            assert!(passes(&frame), "vxlan {sport}>{dport}");
        }
        let other = ipv4(ip("172.16.0.2"), ip("172.16.1.2"), 6, &tcp(40000, 80));
        assert!(!passes(&ether(0x0800, &other)), "tcp to another port");
    }

    /// What the program returns is how much of the frame the kernel copies.
    #[test]
    fn a_passing_frame_is_copied_up_to_the_snap_length_asked_for() {
        let probe = plain("172.16.0.2", "172.16.1.2", false, Some(TAG));
        let other = plain("172.16.0.2", "172.16.1.2", false, None);
        for snap in [PROBE_SNAP, WHOLE] {
            let filter = program(Some(LAB), PORTS, snap);
            assert_eq!((run(&filter, &probe), run(&filter, &other)), (snap, 0));
        }
    }

    #[test]
    fn everything_else_is_dropped() {
        let p = ("172.16.0.2", "172.16.1.2");
        let u = ("10.0.1.2", "10.0.2.2");
        let drops: Vec<(&str, Vec<u8>)> = vec![
            ("untagged ping", plain(p.0, p.1, false, None)),
            (
                "untagged ping in vxlan",
                vxlan_frame(u, 8472, 1, p, false, None),
            ),
            ("untagged ping in ipip", ipip_frame(u, p, false, None)),
            ("the lab's own flooded arp", vxlan_arp(8472, 1)),
            ("underlay arp", ether(0x0806, &[0u8; 28])),
            ("zeroed ipv6", ether(0x86dd, &[0u8; 60])),
            (
                "plain udp",
                ether(0x0800, &ipv4(ip(u.0), ip(u.1), 17, &udp(1, 2, &[0; 40]))),
            ),
            ("tcp", ether(0x0800, &ipv4(ip(u.0), ip(u.1), 6, &[0u8; 40]))),
            (
                "truncated",
                plain(p.0, p.1, false, Some(TAG))[..40].to_vec(),
            ),
        ];
        for (what, frame) in drops {
            assert!(!passes(&frame), "{what} passed");
        }
    }

    #[test]
    fn icmp_errors_and_foreign_vxlan_arp_pass_for_the_judge() {
        let unreachable = {
            let mut icmp = echo(false, 0, 0, None);
            icmp[0] = 3;
            ether(0x0800, &ipv4(ip("10.0.1.1"), ip("172.16.0.2"), 1, &icmp))
        };
        assert!(passes(&unreachable));
        assert!(passes(&vxlan_arp(8472, 42)), "another vni");
        assert!(passes(&vxlan_arp(4789, 1)), "another port");
    }

    #[test]
    fn a_later_fragment_is_dropped() {
        let mut frame = plain("172.16.0.2", "172.16.1.2", false, Some(TAG));
        frame[ETH as usize + 7] = 0x10;
        assert!(!passes(&frame));
    }

    mod ipv6 {
        use super::*;
        use crate::wire::ipv6::build::{echo6, ndp_icmp, over_ipv6, packet6, plain6};
        use crate::wire::ipv6::{ETHERTYPE_IPV6, PROTO_ICMPV6};
        use crate::wire::NdpOp;

        const P: (&str, &str) = ("fd00:10:244::2", "fd00:10:244:1::2");

        /// `inner` (an IP packet of either family) in VXLAN over an IPv4 underlay.
        fn over_ipv4(port: u16, vni: u32, inner: &[u8]) -> Vec<u8> {
            let outer = udp(40000, port, &vxlan(vni, inner));
            ether(0x0800, &ipv4(ip("10.0.1.2"), ip("10.0.2.2"), 17, &outer))
        }

        /// Every shape an IPv6 packet takes in a lab: plain, in VXLAN over IPv4, in VXLAN over
        /// IPv6, on the lab's port and on the other well-known one.
        fn shapes(ip6_packet: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
            let inner = ether(ETHERTYPE_IPV6, ip6_packet);
            let u6 = ("fd00:192:168::64", "fd00:192:168::c8");
            vec![
                ("plain", inner.clone()),
                ("vxlan over ipv4", over_ipv4(8472, 1, &inner)),
                ("vxlan over ipv6", over_ipv6(u6, 8472, 1, &inner)),
                ("vxlan 4789 over ipv6", over_ipv6(u6, 4789, 7, &inner)),
            ]
        }

        fn icmp6(payload: &[u8]) -> Vec<u8> {
            packet6(
                P.0.parse().unwrap(),
                P.1.parse().unwrap(),
                PROTO_ICMPV6,
                payload,
            )
        }

        #[test]
        fn an_icmpv6_echo_probe_passes_in_every_shape_both_ways() {
            for reply in [false, true] {
                for (what, frame) in shapes(&icmp6(&echo6(reply, 1, 1, Some(TAG)))) {
                    assert!(passes(&frame), "{what} reply={reply}");
                }
                assert!(passes(&plain6(P.0, P.1, reply, Some(TAG))));
            }
        }

        #[test]
        fn udp_and_tcp_probes_over_ipv6_pass_in_every_shape() {
            let port = super::super::super::listener::PORT;
            let (s, d) = (P.0.parse().unwrap(), P.1.parse().unwrap());
            let udp_probe = packet6(s, d, 17, &udp(5000, 7, &TAG.transport_payload(false)));
            for (what, frame) in shapes(&udp_probe) {
                assert!(passes(&frame), "udp {what}");
            }
            for (sport, dport) in [(40000, port), (port, 40000)] {
                for (what, frame) in shapes(&packet6(s, d, 6, &tcp(sport, dport))) {
                    assert!(passes(&frame), "tcp {sport}>{dport} {what}");
                }
            }
        }

        #[test]
        fn icmpv6_errors_pass_for_the_judge() {
            for icmp_type in [1u8, 2, 3] {
                let mut error = echo6(false, 0, 0, None);
                error[0] = icmp_type;
                for (what, frame) in shapes(&icmp6(&error)) {
                    assert!(passes(&frame), "type {icmp_type} {what}");
                }
            }
        }

        /// A neighbour solicitation for the peer VTEP inside VXLAN on `port` and `vni`.
        fn vxlan_ndp(port: u16, vni: u32, op: NdpOp) -> Vec<u8> {
            let ns = packet6(
                "fd00:10:244::".parse().unwrap(),
                "ff02::1:ff00:0".parse().unwrap(),
                PROTO_ICMPV6,
                &ndp_icmp(op, "fd00:10:244:1::", [2; 6]),
            );
            over_ipv6(
                ("fd00::1", "fd00::2"),
                port,
                vni,
                &ether(ETHERTYPE_IPV6, &ns),
            )
        }

        #[test]
        fn ndp_in_foreign_vxlan_passes_and_the_labs_own_does_not() {
            for op in [NdpOp::Solicit, NdpOp::Advert] {
                assert!(passes(&vxlan_ndp(4789, 1, op)), "another port {op:?}");
                assert!(passes(&vxlan_ndp(8472, 42, op)), "another vni {op:?}");
                assert!(!passes(&vxlan_ndp(8472, 1, op)), "the lab's own {op:?}");
            }
        }

        #[test]
        fn everything_else_in_ipv6_is_dropped() {
            let ns = ndp_icmp(NdpOp::Solicit, P.1, [2; 6]);
            let router_solicitation = [133u8, 0, 0, 0, 0, 0, 0, 0];
            let (s, d) = (P.0.parse().unwrap(), P.1.parse().unwrap());
            let drops: Vec<(&str, Vec<u8>)> = vec![
                ("untagged echo", icmp6(&echo6(false, 1, 1, None))),
                ("neighbour solicitation", icmp6(&ns)),
                ("router solicitation", icmp6(&router_solicitation)),
                (
                    "mld behind hop-by-hop",
                    packet6(s, d, 0, &[58, 0, 5, 2, 0, 0, 1, 0]),
                ),
                ("udp elsewhere", packet6(s, d, 17, &udp(1, 2, &[0; 40]))),
                ("tcp elsewhere", packet6(s, d, 6, &tcp(40000, 80))),
                ("a fragment", packet6(s, d, 44, &[0u8; 48])),
            ];
            for (what, packet) in drops {
                // NDP on another port passes on purpose (tested above): only the lab's port here.
                let labs_port = shapes(&packet)
                    .into_iter()
                    .filter(|(s, _)| !s.contains("4789"));
                for (shape, frame) in labs_port {
                    assert!(!passes(&frame), "{what} {shape} passed");
                }
            }
            let truncated = plain6(P.0, P.1, false, Some(TAG));
            assert!(!passes(&truncated[..14 + 40 + 12]), "truncated");
        }
    }

    #[test]
    fn the_kernel_accepts_the_program() {
        // Any socket takes a filter; the kernel checks the program when it is attached.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for vxlan in [Some(LAB), None] {
            crate::sys::packet_socket::attach_filter(&socket, &program(vxlan, PORTS, PROBE_SNAP))
                .expect("a valid cBPF program");
        }
        let jump_out_of_bounds = [libc::sock_filter {
            code: 0x05,
            jt: 0,
            jf: 0,
            k: 9,
        }];
        assert!(crate::sys::packet_socket::attach_filter(&socket, &jump_out_of_bounds).is_err());
    }
}
