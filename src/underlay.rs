//! How the hosts' underlay is cabled: one L2 segment, a router per host, or racks of hosts
//! joined by routers.
//!
//! Pure data, like the plan: which rack a host sits in and which addresses the racks and their
//! routers get. The templates say how that is built.

use serde::{Serialize, Serializer};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The underlay a lab's hosts share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Underlay {
    /// One L2 segment (a switch): the article's host-gw lab.
    Flat,
    /// Every host behind its own router, as in the article's VXLAN lab.
    Routed,
    /// The hosts split into this many L2 segments, each behind a router.
    Racks(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnderlayError {
    #[error("unknown underlay `{0}`: expected flat, routed or racks:R (R racks of hosts, R ≥ 2)")]
    Unknown(String),
    #[error(
        "racks:{racks} needs 2 to {hosts} racks: each rack holds at least one of the {hosts} hosts"
    )]
    RacksOutOfRange { racks: usize, hosts: usize },
}

impl Underlay {
    /// How many segments of hosts there are for `hosts` hosts (flat: one, without a router).
    pub fn rack_count(self, hosts: usize) -> usize {
        match self {
            Underlay::Flat => 1,
            Underlay::Routed => hosts,
            Underlay::Racks(r) => r,
        }
    }

    /// Whether `racks:R` fits `hosts`: every rack gets a host.
    pub fn check(self, hosts: usize) -> Result<(), UnderlayError> {
        match self {
            Underlay::Racks(racks) if !(2..=hosts).contains(&racks) => {
                Err(UnderlayError::RacksOutOfRange { racks, hosts })
            }
            _ => Ok(()),
        }
    }

    /// The rack (1-based) of host `i` (1-based): consecutive hosts share a rack, and the racks
    /// differ in size by one host at most, so none is empty.
    pub fn rack_of(self, i: usize, hosts: usize) -> usize {
        (i - 1) * self.rack_count(hosts) / hosts + 1
    }
}

impl fmt::Display for Underlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Underlay::Flat => f.write_str("flat"),
            Underlay::Routed => f.write_str("routed"),
            Underlay::Racks(r) => write!(f, "racks:{r}"),
        }
    }
}

impl FromStr for Underlay {
    type Err = UnderlayError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "flat" => Ok(Underlay::Flat),
            "routed" => Ok(Underlay::Routed),
            _ => s
                .strip_prefix("racks:")
                .and_then(|r| r.parse::<usize>().ok())
                .filter(|&r| r >= 2)
                .map(Underlay::Racks)
                .ok_or_else(|| UnderlayError::Unknown(s.to_string())),
        }
    }
}

/// As the label and the file header write it: `flat`, `routed`, `racks:2`.
impl Serialize for Underlay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One L2 segment of hosts behind its router (routed and racks underlays only).
#[derive(Debug, Clone, Serialize)]
pub struct Rack {
    pub index: usize,
    /// The router in front of the rack.
    pub router: String,
    /// The rack's switch, where it has more than one host; a lone host is cabled to the router.
    pub switch: Option<String>,
    pub subnet: String,
    /// The router's address in the rack, every host's default gateway.
    pub gateway: Ipv4Addr,
    /// The router's address on the WAN the routers share.
    pub wan_ip: Ipv4Addr,
    /// The router's interface on the WAN, and its leg into the rack.
    pub wan_if: &'static str,
    pub lan_if: &'static str,
    /// The hosts in the rack, by index.
    pub hosts: Vec<usize>,
    /// With `--routing bgp`: the router's AS and its BIRD folder, relative to the topology file.
    pub asn: Option<u32>,
    pub bird_dir: Option<String>,
    /// The rack's IPv6 side, in an ipv6 or dual lab.
    pub v6: Option<RackV6>,
}

/// A rack's IPv6 side: each address is `family::six` of its IPv4 counterpart.
#[derive(Debug, Clone, Serialize)]
pub struct RackV6 {
    pub subnet: ipnet::Ipv6Net,
    pub gateway: std::net::Ipv6Addr,
    pub wan_ip: std::net::Ipv6Addr,
}

/// The router's interface on the WAN and its leg into the rack.
pub const ROUTER_WAN_IF: &str = "eth1";
pub const ROUTER_LAN_IF: &str = "eth2";

/// Rack `r` is 192.168.r.0/24, its router .1 there and 192.168.0.(s·r) on the WAN (s as for
/// the flat segment, so two racks give the article's .100/.200); its hosts follow from .2.
pub fn racks(underlay: Underlay, hosts: usize) -> Vec<Rack> {
    if underlay == Underlay::Flat {
        return Vec::new();
    }
    let count = underlay.rack_count(hosts);
    let step = segment_step(count);
    (1..=count)
        .map(|r| {
            let members: Vec<usize> = (1..=hosts)
                .filter(|&i| underlay.rack_of(i, hosts) == r)
                .collect();
            let n = octet(r);
            Rack {
                index: r,
                router: format!("gw{r}"),
                switch: (members.len() > 1).then(|| format!("rack{r}")),
                subnet: format!("192.168.{n}.0/24"),
                gateway: Ipv4Addr::new(192, 168, n, 1),
                wan_ip: Ipv4Addr::new(192, 168, 0, step * n),
                wan_if: ROUTER_WAN_IF,
                lan_if: ROUTER_LAN_IF,
                hosts: members,
                asn: None,
                bird_dir: None,
                v6: None,
            }
        })
        .collect()
}

/// Host `i`'s address in its rack: .2 for the rack's first host, then on.
pub fn host_ip(rack: &Rack, i: usize) -> Ipv4Addr {
    let position = rack
        .hosts
        .iter()
        .position(|&h| h == i)
        .expect("the host is in its rack");
    let [a, b, c, _] = rack.gateway.octets();
    Ipv4Addr::new(a, b, c, octet(position + 2))
}

/// The hosts outside `rack`, as ranges of indices: `3-4`, `1,3-8`. host-gw reaches none of
/// their pods from inside the rack.
pub fn hosts_outside(rack: &Rack, hosts: usize) -> String {
    ranges((1..=hosts).filter(|i| !rack.hosts.contains(i)))
}

/// Host `i`'s rack mates, as ranges: the peers it reaches on-link, without a router between.
pub fn rack_mates(rack: &Rack, i: usize) -> String {
    ranges(rack.hosts.iter().copied().filter(|&h| h != i))
}

/// Ascending host indices as ranges: `1,3-8`.
fn ranges(indices: impl Iterator<Item = usize>) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for i in indices {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => ranges.push((i, i)),
        }
    }
    let text: Vec<String> = ranges
        .into_iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    text.join(",")
}

fn octet(i: usize) -> u8 {
    u8::try_from(i).expect("rack numbers and positions are bounded by MAX_HOSTS")
}

/// The step between hosts on the shared 192.168.0.0/24 segment: the largest "round" step that
/// still fits every host. It yields the article's .100/.200 at two hosts without a special case.
pub fn segment_step(hosts: usize) -> u8 {
    [100u8, 50, 20, 10, 5, 2, 1]
        .into_iter()
        .find(|&s| usize::from(s) * hosts <= 254)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for text in ["flat", "routed", "racks:2", "racks:7"] {
            assert_eq!(text.parse::<Underlay>().unwrap().to_string(), text);
        }
        for bad in ["", "rack:2", "racks:", "racks:1", "racks:x", "Flat"] {
            assert!(bad.parse::<Underlay>().is_err(), "{bad}");
        }
    }

    #[test]
    fn racks_fill_in_order_and_every_rack_gets_a_host() {
        let u = Underlay::Racks(2);
        let r = racks(u, 5);
        assert_eq!(r[0].hosts, [1, 2, 3]);
        assert_eq!(r[1].hosts, [4, 5]);
        assert_eq!(host_ip(&r[1], 5).to_string(), "192.168.2.3");
        assert_eq!(r[1].wan_ip.to_string(), "192.168.0.200");
        for hosts in 2..=40 {
            for count in 2..=hosts {
                let r = racks(Underlay::Racks(count), hosts);
                let total: usize = r.iter().map(|r| r.hosts.len()).sum();
                assert_eq!(total, hosts);
                assert!(r.iter().all(|r| !r.hosts.is_empty()), "{hosts}/{count}");
            }
        }
        assert!(Underlay::Racks(3).check(2).is_err());
        assert_eq!(hosts_outside(&r[0], 5), "4-5");
        assert_eq!(hosts_outside(&racks(Underlay::Routed, 4)[1], 4), "1,3-4");
        assert_eq!(rack_mates(&r[0], 2), "1,3");
        assert_eq!(rack_mates(&racks(Underlay::Racks(2), 4)[1], 3), "4");
    }

    #[test]
    fn routed_is_a_router_per_host_without_switches() {
        let r = racks(Underlay::Routed, 3);
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|r| r.switch.is_none() && r.hosts.len() == 1));
        assert_eq!(host_ip(&r[2], 3).to_string(), "192.168.3.2");
        assert!(racks(Underlay::Flat, 3).is_empty());
    }
}
