//! IPv6, ICMPv6 and NDP off the wire, for [`mod@super::dissect`]. Pure: no I/O, never a panic.
//!
//! pnet's IPv6, ICMPv6 and NDP views name the fields; as in IPv4, every length is checked here
//! before a view is made or a payload is sliced. Extension headers are not walked: a probe never
//! carries one, so a packet whose next header is not ICMPv6, TCP or UDP is `L4::Other`.

use super::dissect::L4;
use super::dissect::{
    be16, need, tcp, udp, vxlan, DissectError, Ip, Quoted, Tag, Wire, ICMP_MIN, PROTO_TCP,
    PROTO_UDP, UDP_LEN,
};
use pnet_packet::icmpv6::ndp::{
    NdpOptionPacket, NdpOptionTypes, NeighborAdvertPacket, NeighborSolicitPacket,
};
use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::Packet;
use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

const IPV6_LEN: usize = 40;
/// ICMPv6's next-header value.
pub const PROTO_ICMPV6: u8 = 58;
const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;
const PACKET_TOO_BIG: u8 = 2;
const NEIGHBOR_SOLICIT: u8 = 135;
const NEIGHBOR_ADVERT: u8 = 136;
/// A neighbour solicitation or advertisement without options: type, code, checksum, 4 bytes,
/// the target address.
const NDP_MIN: usize = 24;

/// A neighbour solicitation or advertisement: NDP doing ARP's job for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
pub struct Ndp {
    pub op: NdpOp,
    /// The IPv6 source: who asks, or who answers.
    pub sender: Ipv6Addr,
    /// The address being resolved (or, in an advertisement, the one announced).
    pub target: Ipv6Addr,
    /// The link-layer address the packet carries in its option: the sender's in a
    /// solicitation, the target's in an advertisement.
    pub mac: Option<super::Mac>,
}

/// What an NDP packet does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum NdpOp {
    /// Who has `target`? Tell `sender` (ARP's request).
    Solicit,
    /// `target` is at `mac` (ARP's reply).
    Advert,
}

impl fmt::Display for Ndp {
    /// As tcpdump prints it: `ICMP6, neighbor solicitation, who has T` or
    /// `ICMP6, neighbor advertisement, tgt is T`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            NdpOp::Solicit => write!(f, "ICMP6, neighbor solicitation, who has {}", self.target),
            NdpOp::Advert => {
                write!(f, "ICMP6, neighbor advertisement, tgt is {}", self.target)?;
                match self.mac {
                    Some(mac) => write!(f, " at {}", super::mac_text(&mac)),
                    None => Ok(()),
                }
            }
        }
    }
}

/// An IPv6 packet (Ethernet payload): VXLAN when it is UDP to one of `vxlan_ports`, NDP when
/// it is a neighbour solicitation or advertisement, else plain.
pub(super) fn from_ipv6(
    bytes: &[u8],
    cut: usize,
    vxlan_ports: &[u16],
) -> Result<Wire, DissectError> {
    let (outer, payload) = ipv6(bytes, cut, "IPv6")?;
    if let Some(ndp) = ndp(&outer, payload) {
        return Ok(Wire::Ndp(ndp));
    }
    match outer.l4 {
        L4::Udp {
            src_port, dst_port, ..
        } if vxlan_ports.contains(&dst_port) => {
            vxlan(&outer, src_port, dst_port, &payload[UDP_LEN..], cut)
        }
        _ => Ok(Wire::Plain(outer)),
    }
}

/// One IPv6 packet (fixed header validated) and its payload, cut to the payload length, or
/// to what is there when the capture left out the frame's last `cut` bytes.
pub(super) fn ipv6<'a>(
    bytes: &'a [u8],
    cut: usize,
    layer: &'static str,
) -> Result<(Ip, &'a [u8]), DissectError> {
    need(layer, bytes, IPV6_LEN)?;
    let ip = Ipv6Packet::new(bytes).ok_or(DissectError::Truncated {
        layer,
        need: IPV6_LEN,
        have: bytes.len(),
    })?;
    if ip.get_version() != 6 {
        return Err(DissectError::Malformed {
            layer,
            why: format!("version {}", ip.get_version()),
        });
    }
    let total = IPV6_LEN + usize::from(ip.get_payload_length());
    need(layer, bytes, total.saturating_sub(cut).max(IPV6_LEN))?;
    let payload = &bytes[IPV6_LEN..total.min(bytes.len())];
    let l4 = match ip.get_next_header().0 {
        PROTO_ICMPV6 => icmpv6(payload)?,
        PROTO_UDP => udp(payload)?,
        PROTO_TCP => tcp(payload)?,
        other => L4::Other { protocol: other },
    };
    let ip = Ip {
        src: ip.get_source().into(),
        dst: ip.get_destination().into(),
        len: u16::try_from(total).unwrap_or(u16::MAX),
        df: true,
        l4,
    };
    Ok((ip, payload))
}

fn icmpv6(b: &[u8]) -> Result<L4, DissectError> {
    need("ICMPv6", b, ICMP_MIN)?;
    let (icmp_type, code) = (b[0], b[1]);
    Ok(match icmp_type {
        ECHO_REQUEST | ECHO_REPLY => L4::Echo {
            reply: icmp_type == ECHO_REPLY,
            id: be16(b, 4),
            seq: be16(b, 6),
            tag: Tag::parse(&b[ICMP_MIN..]),
        },
        PACKET_TOO_BIG => L4::TooBig {
            mtu: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            original: quoted(&b[ICMP_MIN..]).map(Box::new),
        },
        _ => L4::OtherIcmp {
            icmp_type,
            code,
            original: quoted(&b[ICMP_MIN..]).map(Box::new),
        },
    })
}

/// The echo request an ICMPv6 error quotes, if it quotes one whole enough to read.
fn quoted(b: &[u8]) -> Option<Quoted> {
    let ip = Ipv6Packet::new(b)?;
    let icmp = b.get(IPV6_LEN..IPV6_LEN + ICMP_MIN)?;
    let is_echo =
        ip.get_version() == 6 && ip.get_next_header().0 == PROTO_ICMPV6 && icmp[0] == ECHO_REQUEST;
    is_echo.then(|| Quoted {
        src: ip.get_source().into(),
        dst: ip.get_destination().into(),
        id: be16(icmp, 4),
        seq: be16(icmp, 6),
    })
}

/// A neighbour solicitation or advertisement in `ip` (whose payload is `payload`), with the
/// link-layer address its option gives; anything else, or too short, is `None`.
pub(super) fn ndp(ip: &Ip, payload: &[u8]) -> Option<Ndp> {
    let (L4::OtherIcmp { icmp_type, .. }, IpAddr::V6(sender)) = (&ip.l4, ip.src) else {
        return None;
    };
    if payload.len() < NDP_MIN {
        return None;
    }
    let (op, target, options) = match *icmp_type {
        NEIGHBOR_SOLICIT => {
            let ns = NeighborSolicitPacket::new(payload)?;
            (NdpOp::Solicit, ns.get_target_addr(), &payload[NDP_MIN..])
        }
        NEIGHBOR_ADVERT => {
            let na = NeighborAdvertPacket::new(payload)?;
            (NdpOp::Advert, na.get_target_addr(), &payload[NDP_MIN..])
        }
        _ => return None,
    };
    let wanted = match op {
        NdpOp::Solicit => NdpOptionTypes::SourceLLAddr,
        NdpOp::Advert => NdpOptionTypes::TargetLLAddr,
    };
    Some(Ndp {
        op,
        sender,
        target,
        mac: link_layer_option(options, wanted),
    })
}

/// The 6-byte link-layer address in the first option of type `wanted`. Options are walked by
/// their length field (in 8-byte units); a zero length ends the walk, as RFC 4861 says to.
fn link_layer_option(
    mut options: &[u8],
    wanted: pnet_packet::icmpv6::ndp::NdpOptionType,
) -> Option<super::Mac> {
    while options.len() >= 8 {
        let option = NdpOptionPacket::new(options)?;
        let len = usize::from(option.get_length()) * 8;
        if len == 0 || len > options.len() {
            return None;
        }
        if option.get_option_type() == wanted {
            return option.payload().get(..6)?.try_into().ok();
        }
        options = &options[len..];
    }
    None
}

/// The ethertype of an IPv6 frame, for builders and the capture filter's tests.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// Builders for IPv6 test frames, beside [`super::dissect::build`].
#[cfg(test)]
pub(crate) mod build {
    use super::*;
    use crate::wire::dissect::build::{echo, ether, udp, vxlan};
    use pnet_packet::ip::IpNextHeaderProtocol;
    use pnet_packet::ipv6::MutableIpv6Packet;

    pub fn ip6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    pub fn packet6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; IPV6_LEN + payload.len()];
        let mut ip = MutableIpv6Packet::new(&mut buf).unwrap();
        ip.set_version(6);
        ip.set_payload_length(payload.len() as u16);
        ip.set_next_header(IpNextHeaderProtocol(next));
        ip.set_hop_limit(64);
        ip.set_source(src);
        ip.set_destination(dst);
        ip.set_payload(payload);
        buf
    }

    /// An ICMPv6 echo: the ICMP builder's bytes with the ICMPv6 types.
    pub fn echo6(reply: bool, id: u16, seq: u16, tag: Option<Tag>) -> Vec<u8> {
        let mut icmp = echo(reply, id, seq, tag);
        icmp[0] = if reply { ECHO_REPLY } else { ECHO_REQUEST };
        icmp
    }

    /// Ethernet → IPv6 → ICMPv6 echo.
    pub fn plain6(src: &str, dst: &str, reply: bool, tag: Option<Tag>) -> Vec<u8> {
        let icmp = echo6(reply, 225, 1, tag);
        ether(
            ETHERTYPE_IPV6,
            &packet6(ip6(src), ip6(dst), PROTO_ICMPV6, &icmp),
        )
    }

    /// A neighbour solicitation (with a source link-layer option) or advertisement (with a
    /// target link-layer option) for `target`.
    pub fn ndp_icmp(op: NdpOp, target: &str, mac: crate::wire::Mac) -> Vec<u8> {
        let mut b = vec![0u8; NDP_MIN + 8];
        b[0] = match op {
            NdpOp::Solicit => NEIGHBOR_SOLICIT,
            NdpOp::Advert => NEIGHBOR_ADVERT,
        };
        b[8..24].copy_from_slice(&ip6(target).octets());
        b[24] = match op {
            NdpOp::Solicit => 1,
            NdpOp::Advert => 2,
        };
        b[25] = 1;
        b[26..32].copy_from_slice(&mac);
        b
    }

    /// An Ethernet frame carrying `inner_frame` in VXLAN (VNI `vni`, UDP `port`) over an
    /// IPv6 underlay between `outer`.
    pub fn over_ipv6(outer: (&str, &str), port: u16, vni: u32, inner_frame: &[u8]) -> Vec<u8> {
        let udp = udp(55235, port, &vxlan(vni, inner_frame));
        ether(
            ETHERTYPE_IPV6,
            &packet6(ip6(outer.0), ip6(outer.1), PROTO_UDP, &udp),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;
    use crate::wire::dissect::build::{ether, in_vxlan, ip, tcp, udp};
    use crate::wire::dissect::{dissect, dissect_cut, dissect_ip, ETH_LEN};
    use crate::wire::Encap;

    const PORTS: &[u16] = &[4789, 8472];
    const TAG: Tag = Tag {
        run: 0xdead_beef,
        probe: 42,
        attempt: 1,
    };
    const MAC: crate::wire::Mac = [0xaa, 0xc1, 0xab, 0x01, 0x02, 0x03];

    fn hex(text: &str) -> Vec<u8> {
        let digits: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `ping -6 -c1 fd00:10:244:1::2` from fd00:10:244::2 as tcpdump -xx shows it: 118 bytes
    /// on the wire, an echo request with id 225, seq 1 and 56 bytes of zeros.
    const PING6_REQUEST: &str = "
        aac1abeafe2e aac1abf7d217 86dd
        6000 0000 0040 3a40
        fd00 0010 0244 0000 0000 0000 0000 0002
        fd00 0010 0244 0001 0000 0000 0000 0002
        8000 0000 00e1 0001
        0000000000000000 0000000000000000 0000000000000000 0000000000000000
        0000000000000000 0000000000000000 0000000000000000";

    #[test]
    fn an_icmpv6_echo_request_from_its_bytes() {
        let frame = hex(PING6_REQUEST);
        assert_eq!(frame.len(), 118);
        let wire = dissect(&frame, PORTS).unwrap();
        let Wire::Plain(ip) = &wire else {
            panic!("{wire:?}")
        };
        assert_eq!(ip.src, IpAddr::V6(ip6("fd00:10:244::2")));
        assert_eq!(ip.dst, IpAddr::V6(ip6("fd00:10:244:1::2")));
        assert_eq!((ip.len, ip.df), (104, true));
        let echo = L4::Echo {
            reply: false,
            id: 225,
            seq: 1,
            tag: None,
        };
        assert_eq!(ip.l4, echo);
        assert_eq!(wire.transport(), Some("ICMP"));
        assert_eq!(wire.encap(), Some(Encap::Plain));
        assert_eq!(
            wire.to_string(),
            "plain IPv6 fd00:10:244::2 > fd00:10:244:1::2"
        );
    }

    #[test]
    fn a_tagged_echo_reply_gives_its_tag() {
        let wire = dissect(&plain6("fd00::2", "fd00::1", true, Some(TAG)), PORTS).unwrap();
        assert_eq!(wire.tag(), Some((TAG, true)));
    }

    /// A neighbour solicitation as the kernel sends it to the solicited-node address, with
    /// its source link-layer option, byte for byte.
    const NEIGHBOR_SOLICITATION: &str = "
        3333ff000002 aac1ab010203 86dd
        6000 0000 0020 3aff
        fd00 0010 0244 0000 0000 0000 0000 0001
        ff02 0000 0000 0000 0000 0001 ff00 0002
        8700 0000 0000 0000
        fd00 0010 0244 0000 0000 0000 0000 0002
        0101 aac1ab010203";

    #[test]
    fn a_neighbour_solicitation_is_ndp_with_its_asker_and_mac() {
        let wire = dissect(&hex(NEIGHBOR_SOLICITATION), PORTS).unwrap();
        let expected = Ndp {
            op: NdpOp::Solicit,
            sender: ip6("fd00:10:244::1"),
            target: ip6("fd00:10:244::2"),
            mac: Some(MAC),
        };
        assert_eq!(wire, Wire::Ndp(expected));
        assert_eq!(wire.ndp(), Some(expected));
        assert_eq!(wire.encap(), None, "NDP is not a pod packet");
        assert_eq!(
            wire.to_string(),
            "ICMP6, neighbor solicitation, who has fd00:10:244::2"
        );
    }

    #[test]
    fn a_neighbour_advertisement_carries_the_targets_mac() {
        let na = ndp_icmp(NdpOp::Advert, "fd00::2", MAC);
        let frame = ether(
            ETHERTYPE_IPV6,
            &packet6(ip6("fd00::2"), ip6("fd00::1"), PROTO_ICMPV6, &na),
        );
        let wire = dissect(&frame, PORTS).unwrap();
        assert_eq!(
            wire.ndp().map(|n| (n.op, n.mac)),
            Some((NdpOp::Advert, Some(MAC)))
        );
        assert_eq!(
            wire.to_string(),
            "ICMP6, neighbor advertisement, tgt is fd00::2 at aa:c1:ab:01:02:03"
        );
    }

    #[test]
    fn ndp_options_that_lie_about_their_length_give_no_mac() {
        let mut ns = ndp_icmp(NdpOp::Solicit, "fd00::2", MAC);
        for len in [0u8, 9] {
            ns[25] = len;
            let frame = ether(
                ETHERTYPE_IPV6,
                &packet6(ip6("fd00::1"), ip6("ff02::1:ff00:2"), PROTO_ICMPV6, &ns),
            );
            let wire = dissect(&frame, PORTS).unwrap();
            assert_eq!(wire.ndp().and_then(|n| n.mac), None, "length {len}");
        }
    }

    #[test]
    fn a_router_solicitation_is_other_icmp6() {
        let rs = [133u8, 0, 0, 0, 0, 0, 0, 0];
        let frame = ether(
            ETHERTYPE_IPV6,
            &packet6(ip6("fe80::1"), ip6("ff02::2"), PROTO_ICMPV6, &rs),
        );
        let wire = dissect(&frame, PORTS).unwrap();
        assert!(
            matches!(&wire, Wire::Plain(ip) if matches!(ip.l4, L4::OtherIcmp { icmp_type: 133, .. })),
            "{wire:?}"
        );
        assert_eq!(wire.tag(), None);
    }

    #[test]
    fn tcp_and_udp_over_ipv6_give_ports_and_probe_tags() {
        let payload = TAG.transport_payload(true);
        let dgram = packet6(
            ip6("fd00::2"),
            ip6("fd00:1::2"),
            PROTO_UDP,
            &udp(5000, 7, &payload),
        );
        let wire = dissect(&ether(ETHERTYPE_IPV6, &dgram), PORTS).unwrap();
        assert_eq!(wire.transport(), Some("UDP"));
        assert_eq!(wire.tag(), Some((TAG, true)));
        let seg = tcp(40000, 7, 0x02, &[]);
        let syn = packet6(ip6("fd00::2"), ip6("fd00:1::2"), PROTO_TCP, &seg);
        let wire = dissect(&ether(ETHERTYPE_IPV6, &syn), PORTS).unwrap();
        let Wire::Plain(ip) = wire else { panic!() };
        assert_eq!(
            ip.l4,
            L4::Tcp {
                src_port: 40000,
                dst_port: 7,
                syn: true,
                probe: None
            }
        );
    }

    #[test]
    fn packet_too_big_quotes_the_original_echo_and_its_mtu() {
        let original = packet6(
            ip6("fd00::2"),
            ip6("fd00:1::2"),
            PROTO_ICMPV6,
            &echo6(false, 7, 9, Some(TAG)),
        );
        let mut ptb = vec![PACKET_TOO_BIG, 0, 0, 0, 0, 0, 0x05, 0x96];
        ptb.extend_from_slice(&original);
        let packet = packet6(ip6("fd00::1"), ip6("fd00::2"), PROTO_ICMPV6, &ptb);
        let wire = dissect_ip(&packet, PORTS).unwrap();
        let Wire::Plain(ip) = wire else { panic!() };
        let quoted = Quoted {
            src: ip6("fd00::2").into(),
            dst: ip6("fd00:1::2").into(),
            id: 7,
            seq: 9,
        };
        assert_eq!(
            ip.l4,
            L4::TooBig {
                mtu: 1430,
                original: Some(Box::new(quoted))
            }
        );
    }

    /// The shape, `IP6 fd00:: > fd00::.4789: VXLAN`, with an IPv6 pod echo inside.
    #[test]
    fn vxlan_over_an_ipv6_underlay_carries_an_ipv6_pod_echo() {
        let inner = plain6("fd00:10:244::2", "fd00:10:244:1::2", false, Some(TAG));
        let frame = over_ipv6(("fd00:192:168::64", "fd00:192:168::c8"), 4789, 1, &inner);
        assert_eq!(
            frame.len(),
            inner.len() + 70,
            "VXLAN over IPv6 costs 70 bytes"
        );
        let wire = dissect(&frame, PORTS).unwrap();
        let v = wire.vxlan().expect("vxlan");
        assert_eq!(v.from, IpAddr::V6(ip6("fd00:192:168::64")));
        assert_eq!(v.params.vni, 1);
        assert_eq!(wire.tag(), Some((TAG, false)));
        assert_eq!(
            wire.outer(),
            Some((
                ip6("fd00:192:168::64").into(),
                ip6("fd00:192:168::c8").into()
            ))
        );
        assert_eq!(
            wire.to_string(),
            "VXLAN vni 1 fd00:192:168::64>fd00:192:168::c8 [fd00:10:244::2>fd00:10:244:1::2]"
        );
    }

    #[test]
    fn vxlan_over_ipv6_carries_ipv4_and_vxlan_over_ipv4_carries_ipv6() {
        let v4 = crate::wire::dissect::build::plain("172.16.0.2", "172.16.1.2", false, Some(TAG));
        let wire = dissect(&over_ipv6(("fd00::1", "fd00::2"), 4789, 1, &v4), PORTS).unwrap();
        assert_eq!(
            wire.innermost().map(|i| i.dst),
            Some(ip("172.16.1.2").into())
        );
        let v6 = packet6(
            ip6("fd00:10:244::2"),
            ip6("fd00:10:244:1::2"),
            PROTO_ICMPV6,
            &echo6(true, 1, 1, Some(TAG)),
        );
        let wire = dissect(&in_vxlan(("10.0.1.2", "10.0.2.2"), &[]), PORTS);
        assert!(wire.is_err(), "an empty inner frame is truncated");
        let frame = {
            let inner = ether(ETHERTYPE_IPV6, &v6);
            let udp = udp(1, 4789, &crate::wire::dissect::build::vxlan(1, &inner));
            ether(
                0x0800,
                &crate::wire::dissect::build::ipv4(ip("10.0.1.2"), ip("10.0.2.2"), 17, &udp),
            )
        };
        let wire = dissect(&frame, PORTS).unwrap();
        assert_eq!(wire.tag(), Some((TAG, true)));
        assert_eq!(wire.transport(), Some("ICMP"));
    }

    #[test]
    fn a_vtep_resolving_over_vxlan_shows_its_ndp() {
        let ns = ndp_icmp(NdpOp::Solicit, "fd00:10:244:1::", MAC);
        let inner = ether(
            ETHERTYPE_IPV6,
            &packet6(
                ip6("fd00:10:244::"),
                ip6("ff02::1:ff00:0"),
                PROTO_ICMPV6,
                &ns,
            ),
        );
        let wire = dissect(&over_ipv6(("fd00::1", "fd00::2"), 8472, 1, &inner), PORTS).unwrap();
        let v = wire.vxlan().unwrap();
        assert_eq!((v.inner, v.params.port), (None, 8472));
        assert_eq!(v.ndp.map(|n| n.target), Some(ip6("fd00:10:244:1::")));
        assert_eq!(
            wire.to_string(),
            "VXLAN UDP/8472 vni 1 fd00::1>fd00::2 [ICMP6, neighbor solicitation, who has fd00:10:244:1::]"
        );
    }

    /// A full-size IPv6 probe cut at the capture's snap length dissects as the whole frame, in
    /// plain form and in VXLAN over IPv6.
    #[test]
    fn a_full_size_ipv6_probe_cut_at_the_snap_length_is_whole() {
        let snap = crate::verify::bpf::PROBE_SNAP as usize;
        let mut icmp = echo6(false, 7, 9, Some(TAG));
        icmp.resize(1430 - IPV6_LEN, 0);
        let inner = packet6(ip6("fd00::2"), ip6("fd00:1::2"), PROTO_ICMPV6, &icmp);
        let plain = ether(ETHERTYPE_IPV6, &inner);
        for whole in [
            plain.clone(),
            over_ipv6(("fd00::1", "fd00::2"), 4789, 1, &plain),
        ] {
            let expected = dissect(&whole, PORTS).unwrap();
            assert_eq!(expected.innermost().map(|i| i.len), Some(1430));
            let cut = dissect_cut(&whole[..snap], whole.len() - snap, PORTS);
            assert_eq!(cut.as_ref(), Ok(&expected));
            assert!(dissect(&whole[..snap], PORTS).is_err());
        }
    }

    #[test]
    fn truncated_and_lying_ipv6_is_an_error_not_a_panic() {
        let frame = plain6("fd00::2", "fd00::1", false, Some(TAG));
        for len in 0..frame.len() {
            let _ = dissect(&frame[..len], PORTS);
        }
        assert!(dissect(&frame[..ETH_LEN + 39], PORTS).is_err());
        let mut lying = frame.clone();
        lying[ETH_LEN + 4] = 0xff;
        assert!(
            dissect(&lying, PORTS).is_err(),
            "payload length past the end"
        );
        let mut v4 = frame;
        v4[ETH_LEN] = 0x40;
        assert!(dissect(&v4, PORTS).is_err(), "version 4 in an IPv6 frame");
    }
}
