//! IP families: which of IPv4 and IPv6 a lab carries, and the IPv6 address plan.
//!
//! The IPv6 plan is the IPv4 plan under one rule, so nothing about it is chosen twice: every
//! IPv4 address `a.b.c.d` in a /24 of the plan becomes `fd00:a:b:c::d` in a /64 (the octets
//! written as they read, each one a 16-bit group), and a /24 becomes that /64. So host-gw's pod
//! subnet 10.0.1.0/24 is fd00:10:0:1::/64 with the pod at fd00:10:0:1::2, and the VTEP at
//! 172.16.0.0/32 is fd00:172:16:0::/128. Pure: no I/O.

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The families a lab's pods and underlay speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum IpFamily {
    /// IPv4 only, with IPv6 off on every node (the default).
    #[default]
    Ipv4,
    /// IPv6 only: pods, hosts and underlay carry IPv6 addresses and no IPv4 ones.
    Ipv6,
    /// Both: every pod and host has an address of each family.
    Dual,
}

impl IpFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
            IpFamily::Dual => "dual",
        }
    }

    pub fn has_v4(self) -> bool {
        self != IpFamily::Ipv6
    }

    pub fn has_v6(self) -> bool {
        self != IpFamily::Ipv4
    }

    /// The families it carries, IPv4 first.
    pub fn families(self) -> Vec<Family> {
        let v4 = self.has_v4().then_some(Family::Ipv4);
        v4.into_iter()
            .chain(self.has_v6().then_some(Family::Ipv6))
            .collect()
    }
}

impl std::str::FromStr for IpFamily {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [IpFamily::Ipv4, IpFamily::Ipv6, IpFamily::Dual]
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| "expected ipv4, ipv6 or dual".to_string())
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One address family: what each pair verify probes is in, and what a lab's [`IpFamily`] is
/// made of.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// IPv4: ICMP echo, ARP, `ip route`.
    #[default]
    Ipv4,
    /// IPv6: ICMPv6 echo, NDP, `ip -6 route`.
    Ipv6,
}

impl Family {
    /// The JSON's and the flag's spelling: `ipv4`, `ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }

    /// The family of an address.
    pub fn of(ip: std::net::IpAddr) -> Family {
        match ip {
            std::net::IpAddr::V4(_) => Family::Ipv4,
            std::net::IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The fixed IP header's length: what a probe's IP total length holds besides its ICMP.
    pub fn ip_header_len(self) -> usize {
        match self {
            Family::Ipv4 => 20,
            Family::Ipv6 => 40,
        }
    }
}

impl std::str::FromStr for Family {
    type Err = String;
    /// The JSON's and the flag's spelling: `ipv4`, `ipv6`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Family::Ipv4, Family::Ipv6]
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| "expected ipv4 or ipv6".to_string())
    }
}

impl fmt::Display for Family {
    /// As a person writes it: IPv4, IPv6.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

/// The IPv6 address an IPv4 address of the plan maps to: `a.b.c.d` → `fd00:a:b:c::d`.
pub fn six(v4: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, d] = v4.octets();
    let group = |octet: u8| hex_digits_of(octet);
    Ipv6Addr::new(0xfd00, group(a), group(b), group(c), 0, 0, 0, group(d))
}

/// The /64 an IPv4 /24 of the plan maps to.
pub fn six_net(v4: Ipv4Net) -> Ipv6Net {
    Ipv6Net::new(six(v4.network()), 64).expect("64 fits IPv6")
}

/// The IPv6 prefix an IPv4 prefix of the plan maps to, by the same rule: each whole octet of
/// the prefix is a 16-bit group after `fd00`, so a /16 is a /48 and a /24 a /64 (what
/// [`six_net`] gives). A prefix that ends inside an octet keeps that octet's group whole, the
/// only way the digit-for-digit rule keeps every mapped address inside: 10.96.0.0/12 → /48.
pub fn six_prefix(v4: Ipv4Net) -> Ipv6Net {
    let octets = u8::min(v4.prefix_len() / 8, 3);
    let net = Ipv4Net::new(v4.network(), octets * 8).expect("a shorter prefix fits");
    Ipv6Net::new(six(net.network()), 16 + 16 * octets).expect("at most 64 fits IPv6")
}

/// The IPv4 address `v6` is [`six`] of, where it is one.
pub fn four(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let g = v6.segments();
    if g[0] != 0xfd00 || g[4..7] != [0, 0, 0] {
        return None;
    }
    let octet = |group: u16| format!("{group:x}").parse::<u8>().ok();
    Some(Ipv4Addr::new(
        octet(g[1])?,
        octet(g[2])?,
        octet(g[3])?,
        octet(g[7])?,
    ))
}

/// An octet's decimal digits read as a hexadecimal group, so 192 is written `192` in the IPv6
/// address too (0x192): the two plans read alike.
fn hex_digits_of(octet: u8) -> u16 {
    u16::from_str_radix(&octet.to_string(), 16).expect("decimal digits are hex digits")
}

/// IPv6 over an IPv6 underlay in VXLAN: outer IPv6 (40) + UDP (8) + VXLAN (8) + inner
/// Ethernet (14).
pub const VXLAN6_OVERHEAD: u16 = 70;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_maps_octets_to_groups_that_read_the_same() {
        let cases = [
            ("192.168.0.100", "fd00:192:168::100"),
            ("10.0.1.2", "fd00:10:0:1::2"),
            ("172.16.0.0", "fd00:172:16::"),
            ("172.16.255.254", "fd00:172:16:255::254"),
        ];
        for (v4, v6) in cases {
            assert_eq!(six(v4.parse().unwrap()).to_string(), v6, "{v4}");
        }
    }

    #[test]
    fn a_24_maps_to_a_64_and_keeps_its_hosts_inside() {
        let net: Ipv4Net = "10.0.3.0/24".parse().unwrap();
        let six_of = six_net(net);
        assert_eq!(six_of.to_string(), "fd00:10:0:3::/64");
        for host in net.hosts() {
            assert!(six_of.contains(&six(host)), "{host}");
        }
        let other: Ipv4Net = "10.0.4.0/24".parse().unwrap();
        assert!(!six_of.contains(&six(other.network())));
    }

    #[test]
    fn wider_prefixes_map_octet_by_octet_and_four_undoes_six() {
        let at = |s: &str| six_prefix(s.parse().unwrap()).to_string();
        assert_eq!(at("10.96.0.0/16"), "fd00:10:96::/48");
        assert_eq!(at("172.16.0.0/16"), "fd00:172:16::/48");
        assert_eq!(at("10.0.3.0/24"), "fd00:10:0:3::/64");
        assert_eq!(at("10.96.0.0/12"), "fd00:10::/32");
        let wide = six_prefix("10.96.0.0/16".parse().unwrap());
        for v4 in ["10.96.0.11", "10.96.255.110"] {
            let v4: Ipv4Addr = v4.parse().unwrap();
            assert!(wide.contains(&six(v4)), "{v4}");
            assert_eq!(four(six(v4)), Some(v4));
        }
        assert_eq!(four("fd00:10:96::1a".parse().unwrap()), None);
        assert_eq!(four("2001:db8::1".parse().unwrap()), None);
    }

    #[test]
    fn families_say_what_they_carry() {
        let carries = |f: IpFamily| (f.has_v4(), f.has_v6());
        assert_eq!(carries(IpFamily::Ipv4), (true, false));
        assert_eq!(carries(IpFamily::Ipv6), (false, true));
        assert_eq!(carries(IpFamily::Dual), (true, true));
        assert_eq!(IpFamily::default(), IpFamily::Ipv4);
        assert_eq!(IpFamily::Dual.families(), [Family::Ipv4, Family::Ipv6]);
        assert_eq!(IpFamily::Ipv6.families(), [Family::Ipv6]);
        assert_eq!(IpFamily::Ipv4.families(), [Family::Ipv4]);
    }

    #[test]
    fn a_family_is_named_by_its_address_and_sized_by_its_header() {
        let v6: std::net::IpAddr = "fd00:10:0:1::2".parse().unwrap();
        let v4: std::net::IpAddr = "10.0.1.2".parse().unwrap();
        assert_eq!(
            (Family::of(v4), Family::of(v6)),
            (Family::Ipv4, Family::Ipv6)
        );
        assert_eq!(Family::Ipv6.ip_header_len(), 40);
        assert_eq!(
            (Family::Ipv6.to_string(), Family::Ipv6.as_str()),
            ("IPv6".into(), "ipv6")
        );
    }
}
