//! Bytes off the wire into a validated value. Pure: no I/O, and never a panic.
//!
//! pnet's views give names to header fields, but they trust length fields they are given, so
//! every length is checked here before a view is made or a payload is sliced. A frame that does
//! not hold together becomes a [`DissectError`], which the caller reports like any other sighting.

use super::encap::{Encap, VxlanParams};
pub use super::ipv6::{Ndp, NdpOp};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::tcp::{TcpFlags, TcpPacket};
use pnet_packet::udp::UdpPacket;
use pnet_packet::vxlan::VxlanPacket;
use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

pub(super) const ETH_LEN: usize = 14;
const IPV4_MIN: usize = 20;
pub(super) const UDP_LEN: usize = 8;
const VXLAN_LEN: usize = 8;
pub(super) const ICMP_MIN: usize = 8;
const TCP_MIN: usize = 20;
const PROTO_ICMP: u8 = 1;
const PROTO_IPIP: u8 = 4;
pub(super) const PROTO_TCP: u8 = 6;
pub(super) const PROTO_UDP: u8 = 17;

/// What a probe carries in its ICMP, UDP or TCP payload, so its own packets are found in a capture even when
/// NAT rewrites addresses or the echo identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Tag {
    /// Distinguishes this verify run from any other traffic, an earlier run included.
    pub run: u32,
    /// Which probe, numbered over the whole run.
    pub probe: u32,
    pub attempt: u8,
}

impl Tag {
    pub const MAGIC: [u8; 8] = *b"cnilab\x00\x01";
    pub const LEN: usize = 17;
    /// A TCP or UDP probe's payload: the tag, then one byte saying which way it goes (ICMP
    /// says that in its type). In the payload, not the ports, so NAT cannot blur it.
    pub const TRANSPORT_LEN: usize = Self::LEN + 1;

    /// The payload of a TCP or UDP probe: the tag and its direction.
    pub fn transport_payload(&self, reply: bool) -> [u8; Self::TRANSPORT_LEN] {
        let mut out = [0u8; Self::TRANSPORT_LEN];
        self.write(&mut out);
        out[Self::LEN] = u8::from(reply);
        out
    }

    /// The inverse of [`Tag::transport_payload`]: the tag and whether it is the reply.
    pub fn parse_transport(payload: &[u8]) -> Option<(Tag, bool)> {
        let tag = Tag::parse(payload)?;
        match payload.get(Self::LEN) {
            Some(0) => Some((tag, false)),
            Some(1) => Some((tag, true)),
            _ => None,
        }
    }

    pub fn write(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(&Self::MAGIC);
        out[8..12].copy_from_slice(&self.run.to_be_bytes());
        out[12..16].copy_from_slice(&self.probe.to_be_bytes());
        out[16] = self.attempt;
    }

    pub fn parse(payload: &[u8]) -> Option<Tag> {
        if payload.len() < Self::LEN || payload[..8] != Self::MAGIC {
            return None;
        }
        let word = |at: usize| {
            u32::from_be_bytes([
                payload[at],
                payload[at + 1],
                payload[at + 2],
                payload[at + 3],
            ])
        };
        Some(Tag {
            run: word(8),
            probe: word(12),
            attempt: payload[16],
        })
    }
}

/// The transport inside an IPv4 or IPv6 packet, as far as verify cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Hash)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum L4 {
    Echo {
        reply: bool,
        id: u16,
        seq: u16,
        tag: Option<Tag>,
    },
    /// ICMP destination unreachable; `mtu` is the next-hop MTU of a frag-needed (code 4).
    Unreachable {
        code: u8,
        mtu: u16,
        /// The quoted original datagram, when it was one of our echo requests. Boxed in every
        /// error: few frames are errors, and each kept sighting is as large as the largest shape.
        original: Option<Box<Quoted>>,
    },
    /// ICMPv6 packet too big: IPv6 routers never fragment, they send this with the next
    /// hop's MTU instead.
    TooBig {
        mtu: u32,
        original: Option<Box<Quoted>>,
    },
    OtherIcmp {
        icmp_type: u8,
        code: u8,
        /// For an error (time exceeded, say): the echo request it quotes, if it quotes one.
        original: Option<Box<Quoted>>,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        /// A UDP probe's tag and whether it is the echo.
        probe: Option<(Tag, bool)>,
    },
    Tcp {
        src_port: u16,
        dst_port: u16,
        syn: bool,
        /// A TCP probe's tag and whether it is the echo, in a segment that carries it.
        probe: Option<(Tag, bool)>,
    },
    /// A non-first fragment: no transport header to read.
    Fragment,
    Other {
        protocol: u8,
    },
}

/// The part of an echo request an ICMP error quotes: its addresses and first 8 ICMP bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u16,
    pub seq: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Hash)]
pub struct Ip {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP total length: for IPv6, the fixed header and its payload.
    pub len: u16,
    /// Don't fragment; always set in IPv6, where no router fragments.
    pub df: bool,
    pub l4: L4,
}

/// An Ethernet/IPv4 ARP packet: who asks or answers, and for which address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
pub struct Arp {
    pub op: ArpOp,
    pub sender: Ipv4Addr,
    pub sender_mac: super::Mac,
    pub target: Ipv4Addr,
}

/// What an ARP packet does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ArpOp {
    /// Who has `target`? Tell `sender`.
    Request,
    /// `sender` is at `sender_mac`.
    Reply,
    Other(u16),
}

/// A tunnelled frame's shape with its outer addresses: the VTEPs or tunnel ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    #[serde(flatten)]
    pub encap: Encap,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
}

/// One frame, as the mode would describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Hash)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Wire {
    Plain(Ip),
    Vxlan {
        /// The VTEPs: IPv4 or IPv6, whichever underlay carries the tunnel.
        outer_src: IpAddr,
        outer_dst: IpAddr,
        /// The outer UDP source port: the sending VTEP's hash of the inner flow.
        src_port: u16,
        port: u16,
        vni: u32,
        /// `None` when the inner frame is not IP (ARP, for instance).
        inner: Option<Ip>,
        /// The protocol addresses of an inner ARP packet: what a VTEP floods while it resolves
        /// a peer, often the only trace a misconfigured one leaves.
        /// Boxed, as `ndp` is: few frames carry either, and every sighting verify keeps is
        /// as large as the largest variant.
        arp: Option<Box<Arp>>,
        /// An inner neighbour solicitation or advertisement: ARP's part in IPv6.
        ndp: Option<Box<Ndp>>,
    },
    Ipip {
        outer_src: Ipv4Addr,
        outer_dst: Ipv4Addr,
        inner: Ip,
    },
    /// ARP on the link itself (not inside a tunnel).
    Arp(Arp),
    /// NDP neighbour solicitation or advertisement on the link itself.
    Ndp(Ndp),
    /// Anything else: MLD, router solicitations, other ethertypes.
    Other(String),
}

/// A view of a VXLAN frame, from [`Wire::vxlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vxlan<'a> {
    /// The sending and receiving VTEPs (outer addresses).
    pub from: IpAddr,
    pub to: IpAddr,
    pub params: VxlanParams,
    pub inner: Option<&'a Ip>,
    pub arp: Option<Arp>,
    pub ndp: Option<Ndp>,
}

impl fmt::Display for Vxlan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VXLAN")?;
        if self.params.port != crate::wire::encap::VXLAN_PORT {
            write!(f, " UDP/{}", self.params.port)?;
        }
        write!(f, " vni {} {}>{}", self.params.vni, self.from, self.to)?;
        match (self.inner, self.arp, self.ndp) {
            (Some(ip), _, _) => write!(f, " [{}>{}]", ip.src, ip.dst),
            (None, Some(a), _) => write!(f, " [ARP {} asks for {}]", a.sender, a.target),
            (None, None, Some(n)) => write!(f, " [{n}]"),
            (None, None, None) => write!(f, " [not IP]"),
        }
    }
}

impl fmt::Display for Arp {
    /// As tcpdump prints it: `ARP, Request who-has T tell S` or `ARP, Reply S is-at M`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            ArpOp::Request => write!(
                f,
                "ARP, Request who-has {} tell {}",
                self.target, self.sender
            ),
            ArpOp::Reply => write!(
                f,
                "ARP, Reply {} is-at {}",
                self.sender,
                super::mac_text(&self.sender_mac)
            ),
            ArpOp::Other(op) => write!(f, "ARP, op {op}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum DissectError {
    #[error("truncated {layer}: needs {need} bytes, has {have}")]
    Truncated {
        layer: &'static str,
        need: usize,
        have: usize,
    },
    #[error("malformed {layer}: {why}")]
    Malformed { layer: &'static str, why: String },
}

impl Wire {
    /// The probe packet this frame carries, at whatever depth, and whether it is the reply.
    pub fn tag(&self) -> Option<(Tag, bool)> {
        match self.innermost()?.l4 {
            L4::Echo {
                tag: Some(tag),
                reply,
                ..
            } => Some((tag, reply)),
            L4::Udp { probe, .. } | L4::Tcp { probe, .. } => probe,
            _ => None,
        }
    }

    /// The pod-level transport, in words: `ICMP` (ICMPv6 included), `TCP`, `UDP`.
    pub fn transport(&self) -> Option<&'static str> {
        Some(match self.innermost()?.l4 {
            // ICMPv6 too: the family is the address's to say, not the transport's.
            L4::Echo { .. } | L4::Unreachable { .. } | L4::OtherIcmp { .. } | L4::TooBig { .. } => {
                "ICMP"
            }
            L4::Tcp { .. } => "TCP",
            L4::Udp { .. } => "UDP",
            L4::Fragment | L4::Other { .. } => return None,
        })
    }

    /// A VXLAN frame's parts: the one place that takes [`Wire::Vxlan`] apart.
    pub fn vxlan(&self) -> Option<Vxlan<'_>> {
        match self {
            Wire::Vxlan {
                outer_src,
                outer_dst,
                port,
                vni,
                inner,
                arp,
                ndp,
                ..
            } => Some(Vxlan {
                from: *outer_src,
                to: *outer_dst,
                params: VxlanParams {
                    vni: *vni,
                    port: *port,
                },
                inner: inner.as_ref(),
                arp: arp.as_deref().copied(),
                ndp: ndp.as_deref().copied(),
            }),
            _ => None,
        }
    }

    /// The frame's shape, to compare with the lab's [`Encap`] with one `==`; `None` for a
    /// frame that is not a pod packet at all.
    pub fn encap(&self) -> Option<Encap> {
        match self {
            Wire::Plain(_) => Some(Encap::Plain),
            Wire::Vxlan { .. } => self.vxlan().map(|t| Encap::Vxlan(t.params)),
            Wire::Ipip { .. } => Some(Encap::Ipip),
            Wire::Arp(_) | Wire::Ndp(_) | Wire::Other(_) => None,
        }
    }

    /// A tunnel's outer source and destination.
    pub fn outer(&self) -> Option<(IpAddr, IpAddr)> {
        match self {
            Wire::Vxlan { .. } => self.vxlan().map(|t| (t.from, t.to)),
            Wire::Ipip {
                outer_src,
                outer_dst,
                ..
            } => Some(((*outer_src).into(), (*outer_dst).into())),
            Wire::Plain(_) | Wire::Arp(_) | Wire::Ndp(_) | Wire::Other(_) => None,
        }
    }

    /// The pod-level packet: the inner one of a tunnel, or the packet itself.
    pub fn innermost(&self) -> Option<&Ip> {
        match self {
            Wire::Plain(ip) => Some(ip),
            Wire::Vxlan { .. } => self.vxlan()?.inner,
            Wire::Ipip { inner, .. } => Some(inner),
            Wire::Arp(_) | Wire::Ndp(_) | Wire::Other(_) => None,
        }
    }

    /// The NDP packet the frame is, or carries inside a VXLAN tunnel.
    pub fn ndp(&self) -> Option<Ndp> {
        match self {
            Wire::Ndp(ndp) => Some(*ndp),
            Wire::Vxlan { ndp, .. } => ndp.as_deref().copied(),
            _ => None,
        }
    }

    /// The ARP packet the frame is, or carries inside a VXLAN tunnel.
    pub fn arp(&self) -> Option<Arp> {
        match self {
            Wire::Arp(arp) => Some(*arp),
            Wire::Vxlan { arp, .. } => arp.as_deref().copied(),
            _ => None,
        }
    }

    /// A tunnelled frame's shape and outer addresses.
    pub fn tunnel(&self) -> Option<Tunnel> {
        let encap = self.encap().filter(|e| e.is_tunnel())?;
        let (outer_src, outer_dst) = self.outer()?;
        Some(Tunnel {
            encap,
            outer_src,
            outer_dst,
        })
    }
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wire::Plain(ip) => {
                let family = if ip.src.is_ipv6() { "IPv6" } else { "IPv4" };
                write!(f, "plain {family} {} > {}", ip.src, ip.dst)
            }
            Wire::Vxlan { .. } => self.vxlan().map_or(Ok(()), |v| v.fmt(f)),
            Wire::Ipip {
                outer_src,
                outer_dst,
                inner,
            } => write!(
                f,
                "IPIP {outer_src}>{outer_dst} [{}>{}]",
                inner.src, inner.dst
            ),
            Wire::Arp(arp) => arp.fmt(f),
            Wire::Ndp(ndp) => ndp.fmt(f),
            Wire::Other(what) => f.write_str(what),
        }
    }
}

pub(super) fn need(layer: &'static str, bytes: &[u8], need: usize) -> Result<(), DissectError> {
    if bytes.len() < need {
        Err(DissectError::Truncated {
            layer,
            need,
            have: bytes.len(),
        })
    } else {
        Ok(())
    }
}

/// Dissects one Ethernet frame. UDP to any of `vxlan_ports` is read as VXLAN, so a tunnel on
/// the wrong port is still recognised and reported as such.
pub fn dissect(frame: &[u8], vxlan_ports: &[u16]) -> Result<Wire, DissectError> {
    dissect_cut(frame, 0, vxlan_ports)
}

/// Dissects a frame whose last `cut` bytes the capture left out (its snap length): what
/// lengths the headers give is kept, and only the missing bytes are not asked for.
pub fn dissect_cut(frame: &[u8], cut: usize, vxlan_ports: &[u16]) -> Result<Wire, DissectError> {
    need("Ethernet", frame, ETH_LEN)?;
    let eth = EthernetPacket::new(frame).ok_or(DissectError::Truncated {
        layer: "Ethernet",
        need: ETH_LEN,
        have: frame.len(),
    })?;
    let payload = &frame[ETH_LEN..];
    match eth.get_ethertype() {
        EtherTypes::Ipv4 => from_ipv4(payload, cut, vxlan_ports),
        EtherTypes::Arp => Ok(arp(payload).map_or(Wire::Other("ARP".into()), Wire::Arp)),
        EtherTypes::Ipv6 => super::ipv6::from_ipv6(payload, cut, vxlan_ports),
        other => Ok(Wire::Other(format!("ethertype 0x{:04x}", other.0))),
    }
}

/// Dissects an IP packet that came without a link-layer header, as an IPIP tunnel device
/// hands it to a capture; its version nibble says the family.
pub fn dissect_ip(packet: &[u8], vxlan_ports: &[u16]) -> Result<Wire, DissectError> {
    match packet.first().map(|b| b >> 4) {
        Some(6) => super::ipv6::from_ipv6(packet, 0, vxlan_ports),
        _ => from_ipv4(packet, 0, vxlan_ports),
    }
}

/// An IPv4 packet: VXLAN when it is UDP to one of `vxlan_ports`, IPIP for protocol 4, else
/// plain.
fn from_ipv4(bytes: &[u8], cut: usize, vxlan_ports: &[u16]) -> Result<Wire, DissectError> {
    let (outer, payload) = ipv4(bytes, cut, "IPv4")?;
    match outer.l4 {
        L4::Udp {
            src_port, dst_port, ..
        } if vxlan_ports.contains(&dst_port) => {
            vxlan(&outer, src_port, dst_port, &payload[UDP_LEN..], cut)
        }
        L4::Other {
            protocol: PROTO_IPIP,
        } => {
            let (inner, _) = ipv4(payload, cut, "inner IPv4")?;
            match (outer.src, outer.dst) {
                (IpAddr::V4(outer_src), IpAddr::V4(outer_dst)) => Ok(Wire::Ipip {
                    outer_src,
                    outer_dst,
                    inner,
                }),
                _ => Ok(Wire::Plain(outer)),
            }
        }
        _ => Ok(Wire::Plain(outer)),
    }
}

/// A VXLAN header and the Ethernet frame it carries, IPv4, IPv6, ARP or NDP, over either
/// family's underlay.
pub(super) fn vxlan(
    outer: &Ip,
    src_port: u16,
    port: u16,
    udp_payload: &[u8],
    cut: usize,
) -> Result<Wire, DissectError> {
    need("VXLAN", udp_payload, VXLAN_LEN)?;
    let vx = VxlanPacket::new(udp_payload).ok_or(DissectError::Truncated {
        layer: "VXLAN",
        need: VXLAN_LEN,
        have: udp_payload.len(),
    })?;
    if vx.get_flags() & 0x08 == 0 {
        return Err(DissectError::Malformed {
            layer: "VXLAN",
            why: format!("the I flag is not set (flags 0x{:02x})", vx.get_flags()),
        });
    }
    let vni = vx.get_vni();
    let inner_frame = &udp_payload[VXLAN_LEN..];
    need("inner Ethernet", inner_frame, ETH_LEN)?;
    let ethertype = pnet_packet::ethernet::EtherType(be16(inner_frame, 12));
    let bytes = &inner_frame[ETH_LEN..];
    let (inner, ndp) = match ethertype {
        EtherTypes::Ipv4 => (Some(ipv4(bytes, cut, "inner IPv4")?.0), None),
        EtherTypes::Ipv6 => {
            let (ip, payload) = super::ipv6::ipv6(bytes, cut, "inner IPv6")?;
            match super::ipv6::ndp(&ip, payload) {
                Some(ndp) => (None, Some(ndp)),
                None => (Some(ip), None),
            }
        }
        _ => (None, None),
    };
    let arp = (ethertype == EtherTypes::Arp).then(|| arp(bytes)).flatten();
    Ok(Wire::Vxlan {
        outer_src: outer.src,
        outer_dst: outer.dst,
        src_port,
        port,
        vni,
        inner,
        arp: arp.map(Box::new),
        ndp: ndp.map(Box::new),
    })
}

pub(super) fn udp(payload: &[u8]) -> Result<L4, DissectError> {
    need("UDP", payload, UDP_LEN)?;
    let udp = UdpPacket::new(payload).ok_or(DissectError::Truncated {
        layer: "UDP",
        need: UDP_LEN,
        have: payload.len(),
    })?;
    Ok(L4::Udp {
        src_port: udp.get_source(),
        dst_port: udp.get_destination(),
        probe: Tag::parse_transport(&payload[UDP_LEN..]),
    })
}

/// A TCP segment's ports, SYN flag and probe tag; the data offset is checked before the payload
/// is sliced.
pub(super) fn tcp(payload: &[u8]) -> Result<L4, DissectError> {
    need("TCP", payload, TCP_MIN)?;
    let tcp = TcpPacket::new(payload).ok_or(DissectError::Truncated {
        layer: "TCP",
        need: TCP_MIN,
        have: payload.len(),
    })?;
    let offset = usize::from(tcp.get_data_offset()) * 4;
    if offset < TCP_MIN {
        return Err(DissectError::Malformed {
            layer: "TCP",
            why: format!("data offset {offset}"),
        });
    }
    need("TCP", payload, offset)?;
    Ok(L4::Tcp {
        src_port: tcp.get_source(),
        dst_port: tcp.get_destination(),
        syn: tcp.get_flags() & TcpFlags::SYN != 0,
        probe: Tag::parse_transport(&payload[offset..]),
    })
}

/// An Ethernet/IPv4 ARP packet's addresses; anything else (or too short) is `None`.
fn arp(bytes: &[u8]) -> Option<Arp> {
    use pnet_packet::arp::{ArpHardwareTypes, ArpPacket};
    let arp = ArpPacket::new(bytes)?;
    let fits = arp.get_hardware_type() == ArpHardwareTypes::Ethernet
        && arp.get_protocol_type() == EtherTypes::Ipv4
        && arp.get_hw_addr_len() == 6
        && arp.get_proto_addr_len() == 4;
    let op = match arp.get_operation().0 {
        1 => ArpOp::Request,
        2 => ArpOp::Reply,
        other => ArpOp::Other(other),
    };
    fits.then(|| Arp {
        op,
        sender: arp.get_sender_proto_addr(),
        sender_mac: arp.get_sender_hw_addr().octets(),
        target: arp.get_target_proto_addr(),
    })
}

/// One IPv4 packet (header validated) and its payload, cut to the packet's total length, or
/// to what is there when the capture left out the frame's last `cut` bytes.
fn ipv4<'a>(
    bytes: &'a [u8],
    cut: usize,
    layer: &'static str,
) -> Result<(Ip, &'a [u8]), DissectError> {
    need(layer, bytes, IPV4_MIN)?;
    let ip = Ipv4Packet::new(bytes).ok_or(DissectError::Truncated {
        layer,
        need: IPV4_MIN,
        have: bytes.len(),
    })?;
    let malformed = |why: String| DissectError::Malformed { layer, why };
    if ip.get_version() != 4 {
        return Err(malformed(format!("version {}", ip.get_version())));
    }
    let header_len = usize::from(ip.get_header_length()) * 4;
    if header_len < IPV4_MIN {
        return Err(malformed(format!("header length {header_len}")));
    }
    let total = usize::from(ip.get_total_length());
    if total < header_len {
        return Err(malformed(format!(
            "total length {total} is shorter than the header ({header_len})"
        )));
    }
    need(layer, bytes, total.saturating_sub(cut).max(header_len))?;
    let payload = &bytes[header_len..total.min(bytes.len())];
    let first_fragment = ip.get_fragment_offset() == 0;
    let protocol = ip.get_next_level_protocol().0;
    let l4 = if !first_fragment {
        L4::Fragment
    } else {
        match protocol {
            PROTO_ICMP => icmp(payload)?,
            PROTO_UDP => udp(payload)?,
            PROTO_TCP => tcp(payload)?,
            other => L4::Other { protocol: other },
        }
    };
    // Bit 1 of the flags field is DF.
    let df = ip.get_flags() & 0b010 != 0;
    Ok((
        Ip {
            src: ip.get_source().into(),
            dst: ip.get_destination().into(),
            len: ip.get_total_length(),
            df,
            l4,
        },
        payload,
    ))
}

pub(super) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn icmp(b: &[u8]) -> Result<L4, DissectError> {
    need("ICMP", b, ICMP_MIN)?;
    let (icmp_type, code) = (b[0], b[1]);
    Ok(match icmp_type {
        0 | 8 => L4::Echo {
            reply: icmp_type == 0,
            id: be16(b, 4),
            seq: be16(b, 6),
            tag: Tag::parse(&b[ICMP_MIN..]),
        },
        3 => L4::Unreachable {
            code,
            mtu: be16(b, 6),
            original: quoted(&b[ICMP_MIN..]).map(Box::new),
        },
        _ => L4::OtherIcmp {
            icmp_type,
            code,
            original: quoted(&b[ICMP_MIN..]).map(Box::new),
        },
    })
}

/// The echo request an ICMP error quotes, if it quotes one whole enough to read.
fn quoted(b: &[u8]) -> Option<Quoted> {
    if b.len() < IPV4_MIN || b[0] >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(b[0] & 0x0f) * 4;
    if header_len < IPV4_MIN || b.len() < header_len + ICMP_MIN || b[9] != PROTO_ICMP {
        return None;
    }
    let icmp = &b[header_len..];
    (icmp[0] == 8).then(|| Quoted {
        src: Ipv4Addr::new(b[12], b[13], b[14], b[15]).into(),
        dst: Ipv4Addr::new(b[16], b[17], b[18], b[19]).into(),
        id: be16(icmp, 4),
        seq: be16(icmp, 6),
    })
}

/// Builders for test frames, shared by the unit tests of dissect and judge.
#[cfg(test)]
pub(crate) mod build {
    use super::*;
    use pnet_packet::ethernet::MutableEthernetPacket;
    use pnet_packet::ip::IpNextHeaderProtocol;
    use pnet_packet::ipv4::MutableIpv4Packet;
    use pnet_packet::udp::MutableUdpPacket;
    use pnet_packet::vxlan::MutableVxlanPacket;

    pub fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; ETH_LEN + payload.len()];
        let mut eth = MutableEthernetPacket::new(&mut buf).unwrap();
        eth.set_destination([0xaa, 0xc1, 0xab, 0xea, 0xfe, 0x2e].into());
        eth.set_source([0xaa, 0xc1, 0xab, 0xf7, 0xd2, 0x17].into());
        eth.set_ethertype(pnet_packet::ethernet::EtherType(ethertype));
        eth.set_payload(payload);
        buf
    }

    pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; IPV4_MIN + payload.len()];
        let mut ip = MutableIpv4Packet::new(&mut buf).unwrap();
        ip.set_version(4);
        ip.set_header_length(5);
        ip.set_total_length((IPV4_MIN + payload.len()) as u16);
        ip.set_ttl(64);
        ip.set_flags(0b010);
        ip.set_next_level_protocol(IpNextHeaderProtocol(proto));
        ip.set_source(src);
        ip.set_destination(dst);
        ip.set_payload(payload);
        buf
    }

    pub fn echo(reply: bool, id: u16, seq: u16, tag: Option<Tag>) -> Vec<u8> {
        let mut buf = vec![0u8; ICMP_MIN + 56];
        buf[0] = if reply { 0 } else { 8 };
        buf[4..6].copy_from_slice(&id.to_be_bytes());
        buf[6..8].copy_from_slice(&seq.to_be_bytes());
        if let Some(tag) = tag {
            tag.write(&mut buf[ICMP_MIN..]);
        }
        buf
    }

    pub fn udp(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; UDP_LEN + payload.len()];
        let mut udp = MutableUdpPacket::new(&mut buf).unwrap();
        udp.set_source(src_port);
        udp.set_destination(dst_port);
        udp.set_length((UDP_LEN + payload.len()) as u16);
        udp.set_payload(payload);
        buf
    }

    /// A TCP segment: 20-byte header (no options), `flags`, then `payload`. Checksum left 0:
    /// dissect does not check it.
    pub fn tcp(src_port: u16, dst_port: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; TCP_MIN + payload.len()];
        buf[0..2].copy_from_slice(&src_port.to_be_bytes());
        buf[2..4].copy_from_slice(&dst_port.to_be_bytes());
        buf[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        buf[12] = 5 << 4;
        buf[13] = flags;
        buf[14..16].copy_from_slice(&64240u16.to_be_bytes());
        buf[TCP_MIN..].copy_from_slice(payload);
        buf
    }

    pub fn vxlan(vni: u32, inner_frame: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; VXLAN_LEN + inner_frame.len()];
        let mut vx = MutableVxlanPacket::new(&mut buf).unwrap();
        vx.set_flags(0x08);
        vx.set_vni(vni);
        vx.set_payload(inner_frame);
        buf
    }

    pub fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// Ethernet → IPv4 → ICMP echo.
    pub fn plain(src: &str, dst: &str, reply: bool, tag: Option<Tag>) -> Vec<u8> {
        ether(
            0x0800,
            &ipv4(ip(src), ip(dst), PROTO_ICMP, &echo(reply, 225, 1, tag)),
        )
    }

    /// An inner packet (IPv4 with its payload) inside VXLAN on port 4789, VNI 1.
    pub fn in_vxlan(outer: (&str, &str), inner_ip: &[u8]) -> Vec<u8> {
        let udp = udp(55235, 4789, &vxlan(1, &ether(0x0800, inner_ip)));
        ether(0x0800, &ipv4(ip(outer.0), ip(outer.1), PROTO_UDP, &udp))
    }

    /// An inner packet inside IPIP.
    pub fn in_ipip(outer: (&str, &str), inner_ip: &[u8]) -> Vec<u8> {
        ether(
            0x0800,
            &ipv4(ip(outer.0), ip(outer.1), PROTO_IPIP, inner_ip),
        )
    }

    /// Ethernet → IPv4 → UDP → VXLAN → Ethernet → IPv4 → ICMP echo.
    pub fn vxlan_frame(
        outer: (&str, &str),
        port: u16,
        vni: u32,
        inner: (&str, &str),
        reply: bool,
        tag: Option<Tag>,
    ) -> Vec<u8> {
        let inner = plain(inner.0, inner.1, reply, tag);
        let udp = udp(55235, port, &vxlan(vni, &inner));
        ether(0x0800, &ipv4(ip(outer.0), ip(outer.1), PROTO_UDP, &udp))
    }

    /// Ethernet → IPv4 (protocol 4) → IPv4 → ICMP echo.
    pub fn ipip_frame(
        outer: (&str, &str),
        inner: (&str, &str),
        reply: bool,
        tag: Option<Tag>,
    ) -> Vec<u8> {
        let inner = ipv4(
            ip(inner.0),
            ip(inner.1),
            PROTO_ICMP,
            &echo(reply, 7, 1, tag),
        );
        ether(0x0800, &ipv4(ip(outer.0), ip(outer.1), PROTO_IPIP, &inner))
    }
}

#[cfg(test)]
mod tests {
    use super::build::{echo, ether, ipip_frame, plain, udp, vxlan_frame};
    use super::*;
    use proptest::prelude::*;

    const PORTS: &[u16] = &[4789, 8472];
    const TAG: Tag = Tag {
        run: 0xdead_beef,
        probe: 42,
        attempt: 1,
    };

    fn hex(text: &str) -> Vec<u8> {
        let digits: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The article's host-gw capture, "10.0.1.2 > 10.0.2.2: ICMP echo request, id 225, seq 1,
    /// length 64", written out byte by byte (98 bytes on the wire).
    const ARTICLE_HOST_GW_REQUEST: &str = "
        aac1abeafe2e aac1abf7d217 0800
        4500 0054 1c46 4000 4001 0000 0a000102 0a000202
        0800 0000 00e1 0001
        0000000000000000 0000000000000000 0000000000000000 0000000000000000
        0000000000000000 0000000000000000 0000000000000000";

    /// A full-size probe (1,450 bytes of IP) whose payload starts with `transport`, in
    /// plain form, in VXLAN and in IPIP.
    fn full_size_forms(protocol: u8, transport: &[u8]) -> Vec<Vec<u8>> {
        use super::build::{in_ipip, in_vxlan, ip, ipv4};
        let mut payload = transport.to_vec();
        payload.resize(1450 - IPV4_MIN, 0);
        let inner = ipv4(ip("172.16.0.2"), ip("172.16.1.2"), protocol, &payload);
        vec![
            ether(0x0800, &inner),
            in_vxlan(("10.0.1.2", "10.0.2.2"), &inner),
            in_ipip(("10.0.1.2", "10.0.2.2"), &inner),
        ]
    }

    /// The capture copies only the first PROBE_SNAP bytes of a probe: cut there, every form
    /// of every probe still dissects as the whole frame, its IP length included.
    #[test]
    fn a_probe_cut_at_the_snap_length_dissects_as_the_whole_frame() {
        let snap = crate::verify::bpf::PROBE_SNAP as usize;
        let mut tagged = vec![0u8; Tag::LEN + 1];
        TAG.write(&mut tagged);
        let mut tcp_options = build::tcp(40000, 7, 0x18, &tagged);
        // The longest TCP header there is, 60 bytes, options as no-ops (kind 1).
        tcp_options.splice(TCP_MIN..TCP_MIN, [1u8; 40]);
        tcp_options[12] = 15 << 4;
        let probes = [
            (PROTO_ICMP, echo(false, 7, 9, Some(TAG))),
            (PROTO_UDP, udp(40000, 7, &tagged)),
            (PROTO_TCP, tcp_options),
        ];
        for (protocol, transport) in probes {
            for whole in full_size_forms(protocol, &transport) {
                let expected = dissect(&whole, PORTS).unwrap();
                assert!(expected.tag().is_some(), "{expected}");
                let cut = dissect_cut(&whole[..snap], whole.len() - snap, PORTS);
                assert_eq!(cut.as_ref(), Ok(&expected));
                assert!(
                    dissect(&whole[..snap], PORTS).is_err(),
                    "a frame cut short is whole only where the capture says it cut it"
                );
            }
        }
    }

    #[test]
    fn the_articles_host_gw_request_is_plain_icmp() {
        let frame = hex(ARTICLE_HOST_GW_REQUEST);
        assert_eq!(frame.len(), 98);
        let wire = dissect(&frame, PORTS).unwrap();
        let Wire::Plain(ip) = &wire else {
            panic!("{wire:?}")
        };
        assert_eq!(
            (ip.src, ip.dst),
            (build::ip("10.0.1.2").into(), build::ip("10.0.2.2").into())
        );
        assert!(ip.df);
        assert_eq!(
            ip.l4,
            L4::Echo {
                reply: false,
                id: 225,
                seq: 1,
                tag: None
            }
        );
        assert_eq!(wire.to_string(), "plain IPv4 10.0.1.2 > 10.0.2.2");
    }

    #[test]
    fn a_tagged_plain_reply_gives_its_tag() {
        let wire = dissect(&plain("10.0.2.2", "10.0.1.2", true, Some(TAG)), PORTS).unwrap();
        assert_eq!(wire.tag(), Some((TAG, true)));
    }

    #[test]
    fn the_articles_vxlan_request_is_dissected_to_the_inner_icmp() {
        let frame = vxlan_frame(
            ("10.0.1.2", "10.0.2.2"),
            4789,
            1,
            ("172.16.0.2", "172.16.1.2"),
            false,
            Some(TAG),
        );
        // The article's capture: "length 148" for the outer frame, 98 inside.
        assert_eq!(frame.len(), 148);
        let wire = dissect(&frame, PORTS).unwrap();
        let Wire::Vxlan {
            outer_src,
            outer_dst,
            port,
            vni,
            inner: Some(inner),
            ..
        } = &wire
        else {
            panic!("{wire:?}")
        };
        assert_eq!(
            (*outer_src, *outer_dst),
            (build::ip("10.0.1.2").into(), build::ip("10.0.2.2").into())
        );
        assert_eq!((*port, *vni), (4789, 1));
        assert_eq!(inner.src, build::ip("172.16.0.2"));
        assert_eq!(wire.tag(), Some((TAG, false)));
        assert_eq!(
            wire.to_string(),
            "VXLAN vni 1 10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]"
        );
    }

    #[test]
    fn vxlan_carrying_arp_has_no_inner_ip_and_its_addresses() {
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 172, 16, 1, 0]);
        arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 172, 16, 0, 0]);
        let inner = ether(0x0806, &arp);
        let udp = udp(52326, 4789, &build::vxlan(1, &inner));
        let frame = ether(
            0x0800,
            &build::ipv4(build::ip("10.0.1.2"), build::ip("10.0.2.2"), 17, &udp),
        );
        let wire = dissect(&frame, PORTS).unwrap();
        let view = wire.vxlan().expect("a VXLAN frame");
        assert!(
            matches!(
                view,
                Vxlan {
                    inner: None,
                    params: VxlanParams { vni: 1, .. },
                    arp: Some(Arp { op: ArpOp::Request, sender, target, .. }),
                    ..
                } if sender == build::ip("172.16.1.0") && target == build::ip("172.16.0.0")
            ),
            "{wire:?}"
        );
        assert_eq!(wire.tag(), None);
    }

    #[test]
    fn vxlan_on_the_legacy_port_is_still_vxlan_and_says_its_port() {
        let frame = vxlan_frame(
            ("10.0.1.2", "10.0.2.2"),
            8472,
            1,
            ("172.16.0.2", "172.16.1.2"),
            false,
            None,
        );
        let wire = dissect(&frame, PORTS).unwrap();
        assert!(
            wire.to_string().starts_with("VXLAN UDP/8472 vni 1"),
            "{wire}"
        );
        // A port verify was not told about is just UDP.
        let wire = dissect(&frame, &[4789]).unwrap();
        assert!(matches!(
            wire,
            Wire::Plain(Ip {
                l4: L4::Udp { dst_port: 8472, .. },
                ..
            })
        ));
    }

    #[test]
    fn ipip_is_outer_hosts_and_inner_pods() {
        let frame = ipip_frame(
            ("10.0.1.2", "10.0.2.2"),
            ("172.16.0.2", "172.16.1.2"),
            false,
            Some(TAG),
        );
        let wire = dissect(&frame, PORTS).unwrap();
        assert_eq!(
            wire.to_string(),
            "IPIP 10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]"
        );
        assert_eq!(wire.tag(), Some((TAG, false)));
    }

    #[test]
    fn arp_on_the_link_carries_its_operation_and_a_broken_one_is_other() {
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 2];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 9, 172, 16, 0, 1]);
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 8, 172, 16, 0, 2]);
        let wire = dissect(&ether(0x0806, &arp), PORTS).unwrap();
        assert_eq!(
            wire.arp().map(|a| (a.op, a.sender, a.sender_mac)),
            Some((ArpOp::Reply, build::ip("172.16.0.1"), [2, 0, 0, 0, 0, 9]))
        );
        assert_eq!(
            wire.to_string(),
            "ARP, Reply 172.16.0.1 is-at 02:00:00:00:00:09"
        );
    }

    #[test]
    fn broken_arp_is_other_and_a_zeroed_ipv6_header_is_malformed() {
        assert_eq!(
            dissect(&ether(0x0806, &[0; 28]), PORTS).unwrap(),
            Wire::Other("ARP".into())
        );
        assert!(dissect(&ether(0x86dd, &[0; 40]), PORTS).is_err());
    }

    #[test]
    fn frag_needed_quotes_the_original_echo() {
        let original = build::ipv4(
            build::ip("172.16.0.2"),
            build::ip("172.16.1.2"),
            1,
            &echo(false, 9, 77, None),
        );
        let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0x78];
        icmp.extend_from_slice(&original[..28]);
        let frame = ether(
            0x0800,
            &build::ipv4(build::ip("172.16.0.1"), build::ip("172.16.0.2"), 1, &icmp),
        );
        let Wire::Plain(ip) = dissect(&frame, PORTS).unwrap() else {
            panic!()
        };
        assert_eq!(
            ip.l4,
            L4::Unreachable {
                code: 4,
                mtu: 1400,
                original: Some(Box::new(Quoted {
                    src: build::ip("172.16.0.2").into(),
                    dst: build::ip("172.16.1.2").into(),
                    id: 9,
                    seq: 77
                }))
            }
        );
    }

    #[test]
    fn truncations_and_lies_are_errors_not_panics() {
        let frame = vxlan_frame(
            ("10.0.1.2", "10.0.2.2"),
            4789,
            1,
            ("172.16.0.2", "172.16.1.2"),
            false,
            None,
        );
        assert!(matches!(
            dissect(&frame[..10], PORTS),
            Err(DissectError::Truncated {
                layer: "Ethernet",
                ..
            })
        ));
        assert!(matches!(
            dissect(&frame[..30], PORTS),
            Err(DissectError::Truncated { layer: "IPv4", .. })
        ));
        // Cut inside the inner frame: the outer IPv4 total length no longer fits.
        assert!(matches!(
            dissect(&frame[..100], PORTS),
            Err(DissectError::Truncated { layer: "IPv4", .. })
        ));
        let mut bad = frame.clone();
        bad[14] = 0x42; // IHL 2
        assert!(matches!(
            dissect(&bad, PORTS),
            Err(DissectError::Malformed { layer: "IPv4", .. })
        ));
        let mut bad = frame.clone();
        bad[14 + 20 + 8] = 0; // VXLAN flags without I
        assert!(matches!(
            dissect(&bad, PORTS),
            Err(DissectError::Malformed { layer: "VXLAN", .. })
        ));
        let mut bad = frame;
        bad[14 + 20 + 8 + 8 + 14] = 0x65; // inner IPv6 version nibble in an IPv4 ethertype
        assert!(matches!(
            dissect(&bad, PORTS),
            Err(DissectError::Malformed {
                layer: "inner IPv4",
                ..
            })
        ));
    }

    const LISTEN: u16 = crate::verify::listener::PORT;

    #[test]
    fn a_tcp_syn_in_plain_has_ports_and_no_tag() {
        // A SYN as the kernel sends it: 40-byte header (MSS, SACK, timestamps, window scale).
        let syn = hex(
            "aac1abea fe2eaac1 abf7d217 0800 4500 003c 1c46 4000 4006 0000 0a000102 0a000202
             c350 b8ad 5c8b 1f44 00000000 a002 faf0 0000 0000 0204 05b4 0402 080a 0001 e240 0000 0000 0103 0307",
        );
        let wire = dissect(&syn, PORTS).unwrap();
        let Wire::Plain(ip) = &wire else {
            panic!("{wire:?}")
        };
        assert_eq!(
            ip.l4,
            L4::Tcp {
                src_port: 50000,
                dst_port: LISTEN,
                syn: true,
                probe: None
            }
        );
        assert_eq!(wire.tag(), None);
        assert_eq!(wire.transport(), Some("TCP"));
    }

    #[test]
    fn tcp_and_udp_probes_give_their_tag_and_direction_in_every_encapsulation() {
        let pods = (build::ip("172.16.0.2"), build::ip("172.16.1.2"));
        let tcp_reply = build::ipv4(
            pods.1,
            pods.0,
            PROTO_TCP,
            &build::tcp(LISTEN, 50000, 0x18, &TAG.transport_payload(true)),
        );
        let udp_request = build::ipv4(
            pods.0,
            pods.1,
            PROTO_UDP,
            &udp(40000, LISTEN, &TAG.transport_payload(false)),
        );
        for (frame, reply, proto) in [
            (ether(0x0800, &tcp_reply), true, "TCP"),
            (
                build::in_vxlan(("10.0.1.2", "10.0.2.2"), &tcp_reply),
                true,
                "TCP",
            ),
            (
                build::in_ipip(("10.0.1.2", "10.0.2.2"), &udp_request),
                false,
                "UDP",
            ),
            (
                build::in_vxlan(("10.0.1.2", "10.0.2.2"), &udp_request),
                false,
                "UDP",
            ),
        ] {
            let wire = dissect(&frame, PORTS).unwrap();
            assert_eq!(wire.tag(), Some((TAG, reply)), "{wire:?}");
            assert_eq!(wire.transport(), Some(proto));
        }
    }

    #[test]
    fn a_tcp_header_that_lies_about_its_length_is_an_error() {
        let mut seg = build::tcp(40000, LISTEN, 0x02, &[]);
        seg[12] = 3 << 4; // data offset 12 bytes, below the minimum
        let frame = ether(
            0x0800,
            &build::ipv4(build::ip("172.16.0.2"), build::ip("172.16.1.2"), 6, &seg),
        );
        assert!(matches!(
            dissect(&frame, PORTS),
            Err(DissectError::Malformed { layer: "TCP", .. })
        ));
        seg[12] = 15 << 4; // 60 bytes of header in a 20-byte segment
        let frame = ether(
            0x0800,
            &build::ipv4(build::ip("172.16.0.2"), build::ip("172.16.1.2"), 6, &seg),
        );
        assert!(matches!(
            dissect(&frame, PORTS),
            Err(DissectError::Truncated { layer: "TCP", .. })
        ));
        let short = ether(
            0x0800,
            &build::ipv4(
                build::ip("172.16.0.2"),
                build::ip("172.16.1.2"),
                6,
                &seg[..10],
            ),
        );
        assert!(matches!(
            dissect(&short, PORTS),
            Err(DissectError::Truncated { layer: "TCP", .. })
        ));
    }

    #[test]
    fn a_payload_with_a_bad_direction_byte_is_no_probe() {
        let mut payload = TAG.transport_payload(false);
        assert_eq!(Tag::parse_transport(&payload), Some((TAG, false)));
        payload[Tag::LEN] = 7;
        assert_eq!(Tag::parse_transport(&payload), None);
        assert_eq!(Tag::parse_transport(&payload[..Tag::LEN]), None);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = dissect(&bytes, PORTS);
        }

        #[test]
        fn every_truncation_and_byte_flip_of_real_frames_never_panics(
            which in 0usize..5, cut in 0usize..200, flip_at in 0usize..200, flip in any::<u8>()
        ) {
            use crate::wire::ipv6::build::{ndp_icmp, over_ipv6, packet6, plain6};
            let mut frame = match which {
                0 => plain("10.0.1.2", "10.0.2.2", false, Some(TAG)),
                3 => over_ipv6(("fd00::1", "fd00::2"), 4789, 1, &plain6("fd00:1::2", "fd00:2::2", true, Some(TAG))),
                4 => {
                    let ns = ndp_icmp(crate::wire::NdpOp::Solicit, "fd00::2", [2; 6]);
                    let ip = packet6("fd00::1".parse().unwrap(), "ff02::1:ff00:2".parse().unwrap(), 58, &ns);
                    over_ipv6(("fd00::1", "fd00::2"), 8472, 1, &ether(0x86dd, &ip))
                }
                1 => vxlan_frame(("10.0.1.2", "10.0.2.2"), 4789, 1, ("172.16.0.2", "172.16.1.2"), true, Some(TAG)),
                _ => ipip_frame(("10.0.1.2", "10.0.2.2"), ("172.16.0.2", "172.16.1.2"), true, Some(TAG)),
            };
            if flip_at < frame.len() {
                frame[flip_at] ^= flip;
            }
            frame.truncate(cut.min(frame.len()));
            let _ = dissect(&frame, PORTS);
        }
    }
}
