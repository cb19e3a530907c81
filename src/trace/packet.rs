//! A captured frame as the walk reads it: its [`Wire`], from the one dissector verify uses,
//! and the next hop it was sent to. Its text is [`Tcpdump`] over that value.

use crate::wire::tcpdump::Tcpdump;
use crate::wire::{dissect, dissect_ip, mac_text, Arp, Ndp, Tunnel, Wire};
use crate::wire::{dissect::L4, ethernet_dst};
use std::net::IpAddr;

#[derive(Debug, Clone)]
pub struct Described {
    pub wire: Wire,
    /// The Ethernet destination, `aa:bb:…`; empty on a device without a link-layer header.
    pub dst_mac: String,
}

impl Described {
    /// `ethernet` is false for a device without a link-layer header (an ipip tunnel). UDP is
    /// read as VXLAN only on the lab's `vxlan_port`. A frame that does not hold together is
    /// `None`: the walk leaves it out.
    pub fn of(frame: &[u8], ethernet: bool, vxlan_port: Option<u16>) -> Option<Described> {
        let ports: Vec<u16> = vxlan_port.into_iter().collect();
        if !ethernet {
            let wire = dissect_ip(frame, &ports).ok()?;
            return Some(Described {
                wire,
                dst_mac: String::new(),
            });
        }
        Some(Described {
            wire: dissect(frame, &ports).ok()?,
            dst_mac: ethernet_dst(frame).map(|m| mac_text(&m))?,
        })
    }

    /// tcpdump's line for the frame.
    pub fn text(&self) -> String {
        Tcpdump(&self.wire).to_string()
    }

    pub fn tunnel(&self) -> Option<Tunnel> {
        self.wire.tunnel()
    }

    /// The innermost source and destination.
    pub fn inner(&self) -> Option<(IpAddr, IpAddr)> {
        let ip = self.wire.innermost()?;
        Some((ip.src, ip.dst))
    }

    pub fn arp(&self) -> Option<Arp> {
        self.wire.arp()
    }

    /// A neighbour solicitation or advertisement: NDP, ARP's part in IPv6.
    pub fn ndp(&self) -> Option<Ndp> {
        self.wire.ndp()
    }

    /// Whether the frame resolves a neighbour (ARP or NDP) rather than carrying a packet.
    pub fn resolves(&self) -> bool {
        self.arp().is_some() || self.ndp().is_some()
    }

    /// The innermost ICMP echo: whether it is the reply, its identifier and sequence.
    pub fn echo(&self) -> Option<(bool, u16, u16)> {
        match self.wire.innermost()?.l4 {
            L4::Echo { reply, id, seq, .. } => Some((reply, id, seq)),
            _ => None,
        }
    }

    /// An ICMP error (unreachable, time exceeded) quoting an echo: its identifier and sequence.
    pub fn quoted_echo(&self) -> Option<(u16, u16)> {
        match &self.wire.innermost()?.l4 {
            L4::Unreachable {
                original: Some(q), ..
            }
            | L4::OtherIcmp {
                original: Some(q), ..
            }
            | L4::TooBig {
                original: Some(q), ..
            } => Some((q.id, q.seq)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ArpOp, Encap, VxlanParams};

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
        let d = Described::of(&frame, true, Some(4789)).unwrap();
        assert_eq!(
            d.text(),
            "IP 10.0.1.2.40448 > 10.0.2.2.4789: UDP, VXLAN, flags [I] (0x08), vni 1 | \
             IP 172.16.0.2 > 172.16.1.2: ICMP echo request, id 4660, seq 1, length 64"
        );
        let vxlan = Encap::Vxlan(VxlanParams { vni: 1, port: 4789 });
        assert_eq!(d.tunnel().map(|t| t.encap), Some(vxlan));
        assert_eq!(d.echo(), Some((false, 0x1234, 1)));
        assert_eq!(d.dst_mac, "aa:00:00:00:00:01");
        // On another port it is plain UDP: nothing is guessed.
        let d = Described::of(&frame, true, Some(8472)).unwrap();
        assert!(
            d.tunnel().is_none() && d.text().ends_with("UDP, length 106"),
            "{}",
            d.text()
        );
    }

    #[test]
    fn ipip_on_the_wire_and_bare_ip_on_a_tunnel_device() {
        let outer = ipv4([10, 0, 1, 2], [10, 0, 2, 2], 4, &echo_request());
        let d = Described::of(&ether(0x0800, &outer), true, None).unwrap();
        assert!(d
            .text()
            .starts_with("IP 10.0.1.2 > 10.0.2.2: (ipip-proto-4) | IP 172.16.0.2"));
        assert_eq!(d.tunnel().map(|t| t.encap), Some(Encap::Ipip));
        assert_eq!(
            d.inner(),
            Some(("172.16.0.2".parse().unwrap(), "172.16.1.2".parse().unwrap()))
        );
        let d = Described::of(&echo_request(), false, None).unwrap();
        assert!(d.tunnel().is_none() && d.echo().is_some() && d.dst_mac.is_empty());
    }

    #[test]
    fn arp_reads_as_who_has_and_is_at_with_its_operation_as_a_field() {
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1, 0xbb, 0, 0, 0, 0, 2, 172, 16, 0, 2];
        arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 172, 16, 0, 1]);
        let d = Described::of(&ether(0x0806, &arp), true, None).unwrap();
        assert_eq!(d.arp().map(|a| a.op), Some(ArpOp::Request));
        assert_eq!(
            d.text(),
            "ARP, Request who-has 172.16.0.1 tell 172.16.0.2, length 28"
        );
        arp[7] = 2;
        let d = Described::of(&ether(0x0806, &arp), true, None).unwrap();
        assert_eq!(d.arp().map(|a| a.op), Some(ArpOp::Reply));
        assert_eq!(
            d.text(),
            "ARP, Reply 172.16.0.2 is-at bb:00:00:00:00:02, length 28"
        );
    }
}
