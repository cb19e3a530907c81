//! A [`Wire`] in the words tcpdump prints for it, outer header first and each layer of a
//! tunnel after a `|`, so that a walk reads like the capture a person would take by hand.

use super::dissect::{Ip, L4};
use super::Wire;
use std::fmt;
use std::net::IpAddr;

/// Lengths below assume a 20-byte IPv4 header and a bare 40-byte IPv6 one: cnilab's labs send
/// no IP options and no extension headers.
const IPV4_HEADER: u16 = 20;
const IPV6_HEADER: u16 = 40;
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
                ndp,
            } => {
                write!(
                    f,
                    "{} {outer_src}.{src_port} > {outer_dst}.{port}: UDP, VXLAN, flags [I] (0x08), vni {vni} | ",
                    family(outer_src)
                )?;
                match (inner, arp, ndp) {
                    (Some(ip), _, _) => ip_line(f, ip),
                    (None, Some(arp), _) => write!(f, "{arp}, length 28"),
                    (None, None, Some(ndp)) => {
                        write!(f, "IP6 {} > {}: {ndp}", ndp.sender, ndp.target)
                    }
                    (None, None, None) => f.write_str("not IP"),
                }
            }
            Wire::Arp(arp) => write!(f, "{arp}, length 28"),
            Wire::Ndp(ndp) => write!(f, "IP6 {} > {}: {ndp}", ndp.sender, ndp.target),
            Wire::Other(what) => f.write_str(what),
        }
    }
}

/// tcpdump's word for an address's family: `IP` or `IP6`.
fn family(ip: &IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "IP6"
    } else {
        "IP"
    }
}

fn ip_line(f: &mut fmt::Formatter<'_>, ip: &Ip) -> fmt::Result {
    let (src, dst) = (ip.src, ip.dst);
    let (fam, header) = match ip.src {
        IpAddr::V4(_) => ("IP", IPV4_HEADER),
        IpAddr::V6(_) => ("IP6", IPV6_HEADER),
    };
    let payload = ip.len.saturating_sub(header);
    match &ip.l4 {
        L4::Echo { reply, id, seq, .. } if ip.src.is_ipv6() => {
            let what = if *reply { "reply" } else { "request" };
            write!(
                f,
                "IP6 {src} > {dst}: ICMP6, echo {what}, id {id}, seq {seq}, length {payload}"
            )
        }
        L4::Echo { reply, id, seq, .. } => {
            let what = if *reply { "reply" } else { "request" };
            write!(
                f,
                "IP {src} > {dst}: ICMP echo {what}, id {id}, seq {seq}, length {payload}"
            )
        }
        L4::Unreachable { code, original, .. } => icmp_error(f, ip, 3, *code, original),
        L4::TooBig { mtu, .. } => {
            write!(f, "IP6 {src} > {dst}: ICMP6, packet too big, mtu {mtu}")
        }
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
                "{fam} {src}.{src_port} > {dst}.{dst_port}: UDP, length {len}"
            )
        }
        L4::Tcp {
            src_port,
            dst_port,
            syn,
            ..
        } => {
            let flags = if *syn { "S" } else { "." };
            write!(
                f,
                "{fam} {src}.{src_port} > {dst}.{dst_port}: Flags [{flags}]"
            )
        }
        L4::Fragment => write!(f, "{fam} {src} > {dst}: fragment"),
        L4::Other { protocol } => write!(f, "{fam} {src} > {dst}: ip-proto-{protocol}"),
    }
}

fn icmp_error(
    f: &mut fmt::Formatter<'_>,
    ip: &Ip,
    icmp_type: u8,
    code: u8,
    original: &Option<Box<super::dissect::Quoted>>,
) -> fmt::Result {
    let icmp = if ip.src.is_ipv6() { "ICMP6" } else { "ICMP" };
    write!(
        f,
        "{} {} > {}: {icmp} type {icmp_type} code {code}",
        family(&ip.src),
        ip.src,
        ip.dst
    )?;
    match original {
        Some(q) => write!(f, " for {} > {}", q.src, q.dst),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dissect::{build, dissect, Tag};
    use crate::wire::ipv6::build::{over_ipv6, plain6};

    const TAG: Tag = Tag {
        run: 1,
        probe: 2,
        attempt: 0,
    };

    fn line(frame: &[u8]) -> String {
        Tcpdump(&dissect(frame, &[4789]).unwrap()).to_string()
    }

    #[test]
    fn an_ipv6_echo_reads_as_tcpdumps_icmp6_line() {
        let frame = plain6("fd00:1::2", "fd00:2::2", false, Some(TAG));
        assert_eq!(
            line(&frame),
            "IP6 fd00:1::2 > fd00:2::2: ICMP6, echo request, id 225, seq 1, length 64"
        );
    }

    #[test]
    fn vxlan_over_ipv6_reads_ip6_to_port_4789() {
        let inner = plain6("fd00:1::2", "fd00:2::2", true, Some(TAG));
        let frame = over_ipv6(("fd00::64", "fd00::c8"), 4789, 1, &inner);
        assert_eq!(
            line(&frame),
            "IP6 fd00::64.55235 > fd00::c8.4789: UDP, VXLAN, flags [I] (0x08), vni 1 | \
             IP6 fd00:1::2 > fd00:2::2: ICMP6, echo reply, id 225, seq 1, length 64"
        );
    }

    #[test]
    fn an_ipv4_echo_keeps_its_ip_line() {
        let frame = build::plain("10.0.1.2", "10.0.2.2", false, None);
        assert_eq!(
            line(&frame),
            "IP 10.0.1.2 > 10.0.2.2: ICMP echo request, id 225, seq 1, length 64"
        );
    }
}
