//! The underlay routers' neighbours, resolved once before the first phase, one ARP request at a
//! time, and then kept.
//!
//! Routers share one flat segment (the WAN bridge). A router that knows none of its peers turns
//! the first flooded VXLAN frame into an ARP request for every peer at once, and the bridge
//! copies each request to every port: about N² frames in one burst, far past the CPU's backlog
//! queue (net.core.netdev_max_backlog, 1000). The kernel drops the excess, an overlay ARP
//! among it, and a healthy pair fails. Flushed before every phase, this came back 2·log₂ N
//! times a run.
//!
//! Keeping the routers' entries does not weaken the cold start: a router forwards both the
//! request and the reply of every pair, so the phases could never separate what it learns, and
//! what it learns (which MAC a next-hop router has) teaches no host anything about pods, VTEPs
//! or the overlay. Hosts and pods are still flushed before every phase.

use super::neigh::{self, Neighbour, Resolver};
use crate::lab::Lab;
use crate::netns::in_netns;
use std::net::Ipv4Addr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("cannot resolve the underlay neighbours of router `{node}`: {why}")]
pub struct UnderlayError {
    pub node: String,
    pub why: String,
}

/// One IPv4 address of a router's interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub ifindex: i32,
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// Per router, in the lab's order: the neighbours it should resolve (its interface, the peer's
/// address). Each pair of routers on a segment is resolved once, by the first of the two: the
/// answering router learns the asker from its request.
pub fn plan(legs: &[Vec<Leg>]) -> Vec<Vec<(i32, Ipv4Addr)>> {
    legs.iter()
        .enumerate()
        .map(|(i, own)| {
            own.iter()
                .flat_map(|leg| {
                    legs[i + 1..]
                        .iter()
                        .flatten()
                        .filter(|peer| same_subnet(leg, peer.addr))
                        .map(|peer| (leg.ifindex, peer.addr))
                })
                .collect()
        })
        .collect()
}

fn same_subnet(leg: &Leg, addr: Ipv4Addr) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(leg.prefix))
        .unwrap_or(0);
    leg.addr != addr && u32::from(leg.addr) & mask == u32::from(addr) & mask
}

/// Resolves every router-to-router neighbour not yet resolved; returns how many it asked for.
/// A request floods one ARP to every port of the segment, so requests go one at a time with a
/// pause that lets the backlog drain.
pub fn warm(lab: &Lab) -> Result<usize, UnderlayError> {
    let legs = lab
        .routers
        .iter()
        .map(|r| in_router(&r.node, &r.namespace, legs))
        .collect::<Result<Vec<_>, _>>()?;
    let segment = legs.iter().filter(|l| !l.is_empty()).count() as u32;
    let pause = PAUSE_PER_PORT * segment;
    let mut asked = 0;
    for (router, wanted) in lab.routers.iter().zip(plan(&legs)) {
        if wanted.is_empty() {
            continue;
        }
        asked += in_router(&router.node, &router.namespace, || {
            resolve_missing(&wanted, pause)
        })?;
    }
    Ok(asked)
}

/// What a flooded ARP costs the backlog per port, roughly: enough that one request's copies
/// are handled before the next request adds its own.
const PAUSE_PER_PORT: Duration = Duration::from_micros(2);

fn in_router<T>(
    node: &str,
    namespace: &str,
    work: impl FnOnce() -> std::io::Result<T> + Send,
) -> Result<T, UnderlayError>
where
    T: Send,
{
    let err = |why: String| UnderlayError {
        node: node.to_string(),
        why,
    };
    in_netns(namespace, work)
        .map_err(|e| err(e.to_string()))?
        .map_err(|e| err(e.to_string()))
}

/// The calling thread's namespace's IPv4 addresses, loopback left out.
fn legs() -> std::io::Result<Vec<Leg>> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)?;
    Ok(addrs
        .filter_map(|a| {
            let addr = a.address?.as_sockaddr_in()?.ip();
            let mask = a.netmask?.as_sockaddr_in()?.ip();
            let ifindex = nix::net::if_::if_nametoindex(a.interface_name.as_str()).ok()?;
            (!addr.is_loopback()).then_some(Leg {
                ifindex: ifindex as i32,
                addr,
                prefix: u32::from(mask).count_ones() as u8,
            })
        })
        .collect())
}

fn resolve_missing(wanted: &[(i32, Ipv4Addr)], pause: Duration) -> std::io::Result<usize> {
    let known: Vec<Neighbour> = neigh::list(libc::AF_INET as u8)?;
    let resolved = |&(ifindex, addr): &(i32, Ipv4Addr)| {
        known
            .iter()
            .any(|n| n.ifindex == ifindex && n.dst == Some(addr.octets()) && n.is_valid())
    };
    let mut resolver = Resolver::open()?;
    let mut asked = 0;
    for target in wanted.iter().filter(|t| !resolved(t)) {
        resolver.resolve(target.0, target.1.octets())?;
        asked += 1;
        std::thread::sleep(pause);
    }
    Ok(asked)
}

/// Frames the kernel dropped because a CPU's backlog queue was full, machine-wide, since boot:
/// the second column of /proc/net/softnet_stat, summed over CPUs. None if unreadable.
pub fn backlog_drops() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/softnet_stat").ok()?;
    Some(parse_backlog_drops(&text))
}

fn parse_backlog_drops(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|w| u64::from_str_radix(w, 16).ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(ifindex: i32, addr: &str, prefix: u8) -> Leg {
        Leg {
            ifindex,
            addr: addr.parse().unwrap(),
            prefix,
        }
    }

    #[test]
    fn each_pair_of_routers_on_a_segment_is_resolved_once() {
        let legs = vec![
            vec![leg(2, "192.168.0.50", 24), leg(3, "10.0.1.1", 24)],
            vec![leg(2, "192.168.0.100", 24), leg(3, "10.0.2.1", 24)],
            vec![leg(5, "192.168.0.150", 24), leg(6, "10.0.3.1", 24)],
        ];
        let wanted = plan(&legs);
        let addr = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            wanted[0],
            [(2, addr("192.168.0.100")), (2, addr("192.168.0.150"))]
        );
        assert_eq!(wanted[1], [(2, addr("192.168.0.150"))]);
        assert!(wanted[2].is_empty());
    }

    #[test]
    fn backlog_drops_are_the_second_column_summed() {
        let text = "00a1b2c3 00000010 00000000 00000000\n00000001 0000000f 00000000 00000000\n";
        assert_eq!(parse_backlog_drops(text), 31);
    }
}
