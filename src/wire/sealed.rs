//! Encrypted pod traffic on the wire: WireGuard's messages (UDP) and IPsec ESP (IP protocol
//! 50), recognised from their headers. Nothing inside can be read, which is the point: what
//! verify proves with these is that a pair's packets crossed the underlay sealed, between
//! the right hosts, on the right port. Pure: no I/O.
//!
//! WireGuard's message layouts are the whitepaper's (section 5.4) and the kernel's
//! drivers/net/wireguard/messages.h: a 1-byte type and 3 reserved zero bytes, then
//! - 1, handshake initiation: 148 bytes in all (sender index, ephemeral, static, timestamp, macs);
//! - 2, handshake response: 92 bytes (sender and receiver index, ephemeral, empty, macs);
//! - 3, cookie reply: 64 bytes (receiver index, nonce, cookie);
//! - 4, transport data: receiver index, a 64-bit counter, then the sealed packet (at least
//!   the 16-byte tag; the packet is padded to a multiple of 16).

use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::udp::UdpPacket;
use pnet_packet::Packet;
use serde::Serialize;
use std::net::Ipv4Addr;

pub const WG_INITIATION_LEN: usize = 148;
pub const WG_RESPONSE_LEN: usize = 92;
pub const WG_COOKIE_LEN: usize = 64;
/// Type, reserved, receiver index and counter.
pub const WG_DATA_HEADER_LEN: usize = 16;
/// The Poly1305 tag every sealed packet ends with.
pub const WG_TAG_LEN: usize = 16;
/// IP protocol number of ESP.
pub const PROTO_ESP: u8 = 50;

/// One WireGuard message, by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WgMessage {
    Initiation {
        sender: u32,
    },
    Response {
        sender: u32,
        receiver: u32,
    },
    Cookie {
        receiver: u32,
    },
    /// Type 4: a sealed packet of `sealed_len` bytes (the packet, padded, and the tag).
    Transport {
        receiver: u32,
        counter: u64,
        sealed_len: usize,
    },
}

impl WgMessage {
    /// A UDP payload as a WireGuard message, or `None` if it is not one.
    pub fn parse(payload: &[u8]) -> Option<WgMessage> {
        WgMessage::parse_cut(payload, payload.len())
    }

    /// The same from the start of a payload of `len` bytes, as a capture's snap length cuts
    /// it: the headers are all a message's type needs.
    pub fn parse_cut(payload: &[u8], len: usize) -> Option<WgMessage> {
        let (&kind, rest) = payload.split_first()?;
        if rest.get(..3)? != [0, 0, 0] {
            return None;
        }
        let word = |at: usize| {
            Some(u32::from_le_bytes(
                payload.get(at..at + 4)?.try_into().ok()?,
            ))
        };
        match (kind, len) {
            (1, WG_INITIATION_LEN) => Some(WgMessage::Initiation { sender: word(4)? }),
            (2, WG_RESPONSE_LEN) => Some(WgMessage::Response {
                sender: word(4)?,
                receiver: word(8)?,
            }),
            (3, WG_COOKIE_LEN) => Some(WgMessage::Cookie { receiver: word(4)? }),
            (4, len)
                if len >= WG_DATA_HEADER_LEN + WG_TAG_LEN
                    && (len - WG_DATA_HEADER_LEN) % 16 == 0 =>
            {
                let counter = u64::from_le_bytes(payload.get(8..16)?.try_into().ok()?);
                Some(WgMessage::Transport {
                    receiver: word(4)?,
                    counter,
                    sealed_len: len - WG_DATA_HEADER_LEN,
                })
            }
            _ => None,
        }
    }

    pub fn is_transport(&self) -> bool {
        matches!(self, WgMessage::Transport { .. })
    }
}

/// How a sealed packet crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Seal {
    Wireguard {
        src_port: u16,
        dst_port: u16,
        message: WgMessage,
    },
    Esp {
        spi: u32,
        seq: u32,
    },
}

/// A sealed packet between two underlay addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sealed {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub seal: Seal,
}

impl Sealed {
    /// WireGuard transport data sent to `port`: the form a pod packet crosses in.
    pub fn wireguard_data_to(&self, port: u16) -> bool {
        matches!(self.seal, Seal::Wireguard { dst_port, message, .. }
            if dst_port == port && message.is_transport())
    }
}

/// An Ethernet frame as a sealed packet, or `None` if it is none: WireGuard is recognised on
/// any UDP port, since a lab on the wrong port must still be seen to seal.
pub fn sealed(frame: &[u8]) -> Option<Sealed> {
    let eth = EthernetPacket::new(frame)?;
    if eth.get_ethertype() != EtherTypes::Ipv4 {
        return None;
    }
    sealed_ip(eth.payload())
}

/// The same, from an IPv4 packet.
pub fn sealed_ip(packet: &[u8]) -> Option<Sealed> {
    let ip = Ipv4Packet::new(packet)?;
    let header = usize::from(ip.get_header_length()) * 4;
    // A capture's snap length may have cut the packet short of its total length.
    let end = usize::from(ip.get_total_length()).min(packet.len());
    let body = packet.get(header..end)?;
    let seal = match ip.get_next_level_protocol() {
        IpNextHeaderProtocols::Udp => {
            let udp = UdpPacket::new(body)?;
            let len = usize::from(udp.get_length()).checked_sub(8)?;
            let payload = body.get(8..)?;
            Seal::Wireguard {
                src_port: udp.get_source(),
                dst_port: udp.get_destination(),
                message: WgMessage::parse_cut(&payload[..payload.len().min(len)], len)?,
            }
        }
        p if p.0 == PROTO_ESP => Seal::Esp {
            spi: u32::from_be_bytes(body.get(0..4)?.try_into().ok()?),
            seq: u32::from_be_bytes(body.get(4..8)?.try_into().ok()?),
        },
        _ => return None,
    };
    Some(Sealed {
        src: ip.get_source(),
        dst: ip.get_destination(),
        seal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dissect::build::{ether, ipv4, udp};

    fn message(kind: u8, len: usize) -> Vec<u8> {
        let mut m = vec![0u8; len];
        m[0] = kind;
        m[4..8].copy_from_slice(&0x1122_3344u32.to_le_bytes());
        m
    }

    fn frame(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let (a, b) = (
            "192.168.0.50".parse().unwrap(),
            "192.168.0.100".parse().unwrap(),
        );
        ether(0x0800, &ipv4(a, b, 17, &udp(sport, dport, payload)))
    }

    #[test]
    fn each_wireguard_message_is_told_by_type_and_length() {
        let seen = |kind, len| WgMessage::parse(&message(kind, len));
        assert_eq!(
            seen(1, 148),
            Some(WgMessage::Initiation {
                sender: 0x1122_3344
            })
        );
        assert!(matches!(seen(2, 92), Some(WgMessage::Response { .. })));
        assert!(matches!(seen(3, 64), Some(WgMessage::Cookie { .. })));
        let mut data = message(4, 16 + 96 + 16);
        data[8..16].copy_from_slice(&7u64.to_le_bytes());
        assert_eq!(
            WgMessage::parse(&data),
            Some(WgMessage::Transport {
                receiver: 0x1122_3344,
                counter: 7,
                sealed_len: 112
            })
        );
        // A keepalive: no packet, the tag only.
        assert!(seen(4, 32).is_some_and(|m| m.is_transport()));
    }

    #[test]
    fn what_is_not_wireguard_is_not_taken_for_it() {
        assert_eq!(WgMessage::parse(&message(1, 147)), None, "short initiation");
        assert_eq!(
            WgMessage::parse(&message(4, 16 + 17)),
            None,
            "unpadded data"
        );
        assert_eq!(WgMessage::parse(&message(5, 64)), None, "no such type");
        let mut reserved = message(4, 48);
        reserved[2] = 1;
        assert_eq!(WgMessage::parse(&reserved), None, "reserved bytes set");
        // A DNS query is UDP too.
        assert_eq!(sealed(&frame(5353, 53, b"\x12\x34\x01\x00\x00\x01")), None);
    }

    #[test]
    fn a_frame_with_transport_data_to_51820_is_sealed_wireguard() {
        let s = sealed(&frame(51820, 51820, &message(4, 16 + 16 + 16))).unwrap();
        assert_eq!(s.src, "192.168.0.50".parse::<Ipv4Addr>().unwrap());
        assert!(s.wireguard_data_to(51820));
        assert!(!s.wireguard_data_to(51871));
        let hello = sealed(&frame(51820, 51820, &message(1, 148))).unwrap();
        assert!(
            !hello.wireguard_data_to(51820),
            "a handshake carries no packet"
        );
    }

    #[test]
    fn a_frame_cut_by_the_snap_length_is_still_told_by_its_udp_length() {
        let whole = frame(51820, 51820, &message(4, 16 + 96 + 16));
        assert!(sealed(&whole[..100]).is_some_and(|s| s.wireguard_data_to(51820)));
    }

    #[test]
    fn esp_gives_its_spi_and_sequence() {
        let mut body = vec![0u8; 40];
        body[0..4].copy_from_slice(&0x0000_0a0bu32.to_be_bytes());
        body[4..8].copy_from_slice(&3u32.to_be_bytes());
        let (a, b) = ("10.1.1.2".parse().unwrap(), "10.1.2.2".parse().unwrap());
        let s = sealed(&ether(0x0800, &ipv4(a, b, PROTO_ESP, &body))).unwrap();
        assert_eq!(s.seal, Seal::Esp { spi: 0xa0b, seq: 3 });
    }
}
