//! A frame as tcpdump would print it, and the facts the walk needs from it: outer and inner
//! addresses, the tunnel that carries it (VXLAN VNI and port, or IP protocol 4), ARP.

use pnet_packet::arp::{ArpOperations, ArpPacket};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::icmp::{IcmpPacket, IcmpTypes};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::udp::UdpPacket;
use pnet_packet::Packet;
use serde::Serialize;
use std::net::Ipv4Addr;

/// How a frame carries the pod packet across the underlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Encap {
    Vxlan {
        vni: u32,
        port: u16,
        outer_src: Ipv4Addr,
        outer_dst: Ipv4Addr,
    },
    Ipip {
        outer_src: Ipv4Addr,
        outer_dst: Ipv4Addr,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Described {
    /// tcpdump-style, outer header first.
    pub text: String,
    pub dst_mac: String,
    pub encap: Option<Encap>,
    /// The innermost IPv4 source and destination.
    pub inner: Option<(Ipv4Addr, Ipv4Addr)>,
    pub arp: bool,
    /// The innermost ICMP type, identifier and sequence, for an echo.
    pub echo: Option<(u8, u16, u16)>,
    /// An ICMP error (unreachable, time exceeded) quoting an echo with this id and sequence.
    pub quoted_echo: Option<(u16, u16)>,
}

/// `ethernet` is false for a device without a link-layer header (an ipip tunnel).
pub fn describe(frame: &[u8], ethernet: bool, vxlan_port: Option<u16>) -> Option<Described> {
    let mut d = Described {
        text: String::new(),
        dst_mac: String::new(),
        encap: None,
        inner: None,
        arp: false,
        echo: None,
        quoted_echo: None,
    };
    if !ethernet {
        ipv4(frame, vxlan_port, &mut d, 0)?;
        return Some(d);
    }
    let eth = EthernetPacket::new(frame)?;
    d.dst_mac = eth.get_destination().to_string();
    match eth.get_ethertype() {
        EtherTypes::Arp => {
            d.arp = true;
            d.text = arp(eth.payload())?;
        }
        EtherTypes::Ipv4 => ipv4(eth.payload(), vxlan_port, &mut d, 0)?,
        other => d.text = format!("ethertype {other}, length {}", frame.len()),
    }
    Some(d)
}

fn arp(payload: &[u8]) -> Option<String> {
    let a = ArpPacket::new(payload)?;
    Some(match a.get_operation() {
        ArpOperations::Request => format!(
            "ARP, Request who-has {} tell {}, length 28",
            a.get_target_proto_addr(),
            a.get_sender_proto_addr()
        ),
        ArpOperations::Reply => format!(
            "ARP, Reply {} is-at {}, length 28",
            a.get_sender_proto_addr(),
            a.get_sender_hw_addr()
        ),
        op => format!("ARP, op {}", op.0),
    })
}

/// Appends this IPv4 packet's line to `d.text`; recurses into a tunnel's inner packet.
fn ipv4(bytes: &[u8], vxlan_port: Option<u16>, d: &mut Described, depth: u8) -> Option<()> {
    let ip = Ipv4Packet::new(bytes)?;
    let (src, dst) = (ip.get_source(), ip.get_destination());
    d.inner = Some((src, dst));
    let sep = if d.text.is_empty() { "" } else { " | " };
    match ip.get_next_level_protocol() {
        IpNextHeaderProtocols::Icmp => {
            let line = icmp(ip.payload(), d);
            d.text += &format!("{sep}IP {src} > {dst}: {line}");
        }
        IpNextHeaderProtocols::Ipv4 if depth == 0 => {
            d.encap = Some(Encap::Ipip {
                outer_src: src,
                outer_dst: dst,
            });
            d.text += &format!("{sep}IP {src} > {dst}: (ipip-proto-4)");
            ipv4(ip.payload(), vxlan_port, d, 1)?;
        }
        IpNextHeaderProtocols::Udp => {
            let udp = UdpPacket::new(ip.payload())?;
            let (sp, dp) = (udp.get_source(), udp.get_destination());
            d.text += &format!("{sep}IP {src}.{sp} > {dst}.{dp}: UDP");
            if depth == 0 && Some(dp) == vxlan_port && udp.payload().len() >= 8 {
                let v = udp.payload();
                let vni = u32::from_be_bytes([0, v[4], v[5], v[6]]);
                d.encap = Some(Encap::Vxlan {
                    vni,
                    port: dp,
                    outer_src: src,
                    outer_dst: dst,
                });
                d.text += &format!(", VXLAN, flags [I] (0x{:02x}), vni {vni}", v[0]);
                inner_ether(&v[8..], vxlan_port, d)?;
            } else {
                d.text += &format!(", length {}", udp.payload().len());
            }
        }
        p => d.text += &format!("{sep}IP {src} > {dst}: ip-proto-{}", p.0),
    }
    Some(())
}

fn inner_ether(frame: &[u8], vxlan_port: Option<u16>, d: &mut Described) -> Option<()> {
    let eth = EthernetPacket::new(frame)?;
    match eth.get_ethertype() {
        EtherTypes::Arp => {
            d.arp = true;
            d.text += &format!(" | {}", arp(eth.payload())?);
            Some(())
        }
        EtherTypes::Ipv4 => ipv4(eth.payload(), vxlan_port, d, 1),
        other => {
            d.text += &format!(" | ethertype {other}");
            Some(())
        }
    }
}

fn icmp(bytes: &[u8], d: &mut Described) -> String {
    let Some(p) = IcmpPacket::new(bytes) else {
        return "ICMP, truncated".into();
    };
    let t = p.get_icmp_type();
    let field = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
    if (t == IcmpTypes::EchoRequest || t == IcmpTypes::EchoReply) && bytes.len() >= 8 {
        let (id, seq) = (field(4), field(6));
        d.echo = Some((t.0, id, seq));
        let what = if t == IcmpTypes::EchoRequest {
            "request"
        } else {
            "reply"
        };
        return format!(
            "ICMP echo {what}, id {id}, seq {seq}, length {}",
            bytes.len()
        );
    }
    // An error quotes the offending IP header and the first 8 bytes of its payload.
    let quoted = bytes.get(8..).and_then(Ipv4Packet::new);
    if let Some(q) = quoted {
        let hl = q.get_header_length() as usize * 4;
        if let Some(e) = bytes.get(8 + hl..8 + hl + 8) {
            d.quoted_echo = Some((
                u16::from_be_bytes([e[4], e[5]]),
                u16::from_be_bytes([e[6], e[7]]),
            ));
        }
        return format!(
            "ICMP type {} code {} for {} > {}",
            t.0,
            p.get_icmp_code().0,
            q.get_source(),
            q.get_destination()
        );
    }
    format!("ICMP type {} code {}", t.0, p.get_icmp_code().0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
        p[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    }

    fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0xaa, 0, 0, 0, 0, 1, 0xbb, 0, 0, 0, 0, 2];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn echo_request() -> Vec<u8> {
        let mut e = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
        e.resize(64, 0);
        ipv4([172, 16, 0, 2], [172, 16, 1, 2], 1, &e)
    }

    #[test]
    fn a_vxlan_frame_reads_as_tcpdump_prints_it() {
        let inner = ether(0x0800, &echo_request());
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend_from_slice(&inner);
        let mut udp = vec![0x9e, 0x00, 0x12, 0xb5, 0, 0, 0, 0];
        udp.extend_from_slice(&vx);
        let frame = ether(0x0800, &ipv4([10, 0, 1, 2], [10, 0, 2, 2], 17, &udp));
        let d = describe(&frame, true, Some(4789)).unwrap();
        assert_eq!(
            d.text,
            "IP 10.0.1.2.40448 > 10.0.2.2.4789: UDP, VXLAN, flags [I] (0x08), vni 1 | \
             IP 172.16.0.2 > 172.16.1.2: ICMP echo request, id 4660, seq 1, length 64"
        );
        assert!(matches!(
            d.encap,
            Some(Encap::Vxlan {
                vni: 1,
                port: 4789,
                ..
            })
        ));
        assert_eq!(d.echo, Some((8, 0x1234, 1)));
        assert_eq!(d.dst_mac, "aa:00:00:00:00:01");
        // On another port it is plain UDP: nothing is guessed.
        let d = describe(&frame, true, Some(8472)).unwrap();
        assert!(
            d.encap.is_none() && d.text.ends_with("UDP, length 106"),
            "{}",
            d.text
        );
    }

    #[test]
    fn ipip_on_the_wire_and_bare_ip_on_a_tunnel_device() {
        let outer = ipv4([10, 0, 1, 2], [10, 0, 2, 2], 4, &echo_request());
        let d = describe(&ether(0x0800, &outer), true, None).unwrap();
        assert!(d
            .text
            .starts_with("IP 10.0.1.2 > 10.0.2.2: (ipip-proto-4) | IP 172.16.0.2"));
        assert!(matches!(d.encap, Some(Encap::Ipip { .. })));
        assert_eq!(
            d.inner,
            Some(("172.16.0.2".parse().unwrap(), "172.16.1.2".parse().unwrap()))
        );
        let d = describe(&echo_request(), false, None).unwrap();
        assert!(d.encap.is_none() && d.echo.is_some() && d.dst_mac.is_empty());
    }

    #[test]
    fn arp_reads_as_who_has_and_is_at() {
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1, 0xbb, 0, 0, 0, 0, 2, 172, 16, 0, 2];
        arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 172, 16, 0, 1]);
        let d = describe(&ether(0x0806, &arp), true, None).unwrap();
        assert!(d.arp);
        assert_eq!(
            d.text,
            "ARP, Request who-has 172.16.0.1 tell 172.16.0.2, length 28"
        );
        arp[7] = 2;
        let d = describe(&ether(0x0806, &arp), true, None).unwrap();
        assert_eq!(
            d.text,
            "ARP, Reply 172.16.0.2 is-at bb:00:00:00:00:02, length 28"
        );
    }
}
