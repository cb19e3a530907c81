//! A frame as tcpdump would print it, and the facts the walk needs from it: outer and inner
//! addresses, the tunnel that carries it (VXLAN VNI and port, or IP protocol 4), ARP.

use pnet::packet::arp::{ArpOperations, ArpPacket};
use pnet::packet::ethernet::{EtherTypes, EthernetPacket};
use pnet::packet::icmp::{IcmpPacket, IcmpTypes};
use pnet::packet::ip::IpNextHeaderProtocols;
use pnet::packet::ipv4::Ipv4Packet;
use pnet::packet::udp::UdpPacket;
use pnet::packet::Packet;
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
