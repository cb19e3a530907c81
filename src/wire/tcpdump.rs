//! A [`Wire`] in the words tcpdump prints for it, outer header first and each layer of a
//! tunnel after a `|`, so that a walk reads like the capture a person would take by hand.

use super::dissect::{Ip, L4};
use super::Wire;
use std::fmt;

/// Lengths below assume a 20-byte IPv4 header: cnilab's labs send no IP options.
const IPV4_HEADER: u16 = 20;
const UDP_HEADER: u16 = 8;

/// `format!("{}", Tcpdump(&wire))` gives tcpdump's line for the frame.
pub struct Tcpdump<'a>(pub &'a Wire);

impl fmt::Display for Tcpdump<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Wire::Plain(ip) => ip_line(f, ip),
            Wire::Ipip {
                outer_src,
                outer_dst,
                inner,
            } => {
                write!(f, "IP {outer_src} > {outer_dst}: (ipip-proto-4) | ")?;
                ip_line(f, inner)
            }
            Wire::Vxlan {
                outer_src,
                outer_dst,
                src_port,
                port,
                vni,
                inner,
                arp,
            } => {
                write!(
                    f,
                    "IP {outer_src}.{src_port} > {outer_dst}.{port}: UDP, VXLAN, flags [I] (0x08), vni {vni} | "
                )?;
                match (inner, arp) {
                    (Some(ip), _) => ip_line(f, ip),
                    (None, Some(arp)) => write!(f, "{arp}, length 28"),
                    (None, None) => f.write_str("not IPv4"),
                }
            }
            Wire::Arp(arp) => write!(f, "{arp}, length 28"),
            Wire::Other(what) => f.write_str(what),
        }
    }
}

fn ip_line(f: &mut fmt::Formatter<'_>, ip: &Ip) -> fmt::Result {
    let (src, dst) = (ip.src, ip.dst);
    let payload = ip.len.saturating_sub(IPV4_HEADER);
    match &ip.l4 {
        L4::Echo { reply, id, seq, .. } => {
            let what = if *reply { "reply" } else { "request" };
            write!(
                f,
                "IP {src} > {dst}: ICMP echo {what}, id {id}, seq {seq}, length {payload}"
            )
        }
        L4::Unreachable { code, original, .. } => icmp_error(f, ip, 3, *code, original),
        L4::OtherIcmp {
            icmp_type,
            code,
            original,
        } => icmp_error(f, ip, *icmp_type, *code, original),
        L4::Udp {
            src_port, dst_port, ..
        } => {
            let len = payload.saturating_sub(UDP_HEADER);
            write!(
                f,
                "IP {src}.{src_port} > {dst}.{dst_port}: UDP, length {len}"
            )
        }
        L4::Tcp {
            src_port,
            dst_port,
            syn,
            ..
        } => {
            let flags = if *syn { "S" } else { "." };
            write!(f, "IP {src}.{src_port} > {dst}.{dst_port}: Flags [{flags}]")
        }
        L4::Fragment => write!(f, "IP {src} > {dst}: fragment"),
        L4::Other { protocol } => write!(f, "IP {src} > {dst}: ip-proto-{protocol}"),
    }
}

fn icmp_error(
    f: &mut fmt::Formatter<'_>,
    ip: &Ip,
    icmp_type: u8,
    code: u8,
    original: &Option<super::dissect::Quoted>,
) -> fmt::Result {
    write!(
        f,
        "IP {} > {}: ICMP type {icmp_type} code {code}",
        ip.src, ip.dst
    )?;
    match original {
        Some(q) => write!(f, " for {} > {}", q.src, q.dst),
        None => Ok(()),
    }
}
