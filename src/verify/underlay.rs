//! The underlay routers' neighbours, taught before the first phase and taken out after the
//! last.
//!
//! Routers share one flat segment (the WAN bridge). A router that knows none of its peers turns
//! the first flooded VXLAN frame into an ARP request for every peer at once, and the bridge
//! copies each request to every port: about N² frames in one burst, far past the CPU's backlog
//! queue (net.core.netdev_max_backlog, 1000). The kernel drops the excess, an overlay ARP
//! among it, and a healthy pair fails. Asked one at a time, the N·(N−1)/2 requests still cost
//! N copies each: 8 million frames and 76 s at 254 hosts, and in a run longer than a minute
//! the kernel ages and collects what they taught, so the broadcasts come back mid-run. So
//! verify reads each router's address and MAC on the segment, writes them into its peers'
//! ARP tables as static entries (see [`Teacher`]), and makes the switch learn each router's
//! port with one frame that reaches no other port (`announce`): no broadcast at all.
//! [`forget`] deletes the entries when the run ends, and the routers resolve their peers
//! themselves again. The entries carry verify's own protocol ([`TAUGHT_BY_VERIFY`]), so a
//! static entry the lab made is never taught over nor deleted, and one a killed run left is.
//!
//! This does not weaken the cold start: a router forwards both the request and the reply of
//! every pair, so the phases could never separate what it learns, and what it learns (which
//! MAC a next-hop router has) teaches no host anything about pods, VTEPs or the overlay. The
//! MACs are read from the routers' interfaces just before, so a frame sent to one reaches that
//! router or shows where it was lost. Hosts and pods are still flushed before every phase,
//! and resolve their own gateways.
//!
//! In a dual-stack lab the routers' IPv6 legs are taught the same way, into their NDP tables:
//! left to solicit each other, the first IPv6 contacts of a run wait for NDP and pass only on
//! their retry. Link-local addresses are left to the kernel; routes name global next hops.

use crate::lab::Lab;
use crate::sys::neigh::{Teacher, TAUGHT_BY_VERIFY};
use crate::sys::netns::in_netns;
use crate::sys::side_by_side;
use std::collections::HashSet;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

#[derive(Debug, thiserror::Error)]
#[error("cannot resolve the underlay neighbours of router `{node}`: {why}")]
pub struct UnderlayError {
    pub node: String,
    pub why: String,
}

/// One address of a router's interface, IPv4 or (global) IPv6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub ifindex: i32,
    pub addr: IpAddr,
    pub prefix: u8,
    pub mac: [u8; 6],
}

/// A neighbour a router should know: its own interface, the peer's address and MAC.
pub type Peer = (i32, IpAddr, [u8; 6]);

/// Per router, in the lab's order: every other router's leg on a segment it shares.
pub fn plan(legs: &[Vec<Leg>]) -> Vec<Vec<Peer>> {
    legs.iter()
        .enumerate()
        .map(|(i, own)| {
            own.iter()
                .flat_map(|leg| {
                    legs.iter()
                        .enumerate()
                        .filter(move |&(j, _)| j != i)
                        .flat_map(|(_, l)| l)
                        .filter(|peer| same_subnet(leg, peer.addr))
                        .map(|peer| (leg.ifindex, peer.addr, peer.mac))
                })
                .collect()
        })
        .collect()
}

fn same_subnet(leg: &Leg, addr: IpAddr) -> bool {
    let net = ipnet::IpNet::new(leg.addr, leg.prefix).map(|n| n.trunc());
    leg.addr != addr && net.is_ok_and(|n| n.contains(&addr))
}

/// What [`teach`] taught each router, for [`forget`]: its interface and the peer's address.
#[derive(Debug, Default)]
pub struct Taught(Vec<Vec<(i32, IpAddr)>>);

/// Teaches every router its peers, replacing what it had resolved itself. The routers are
/// taught side by side: each closes a packet socket, which waits for an RCU grace period.
/// If one cannot be taught, what the others were taught is taken out again.
pub fn teach(lab: &Lab) -> Result<Taught, UnderlayError> {
    let legs = side_by_side::map(&lab.routers, |r| in_router(&r.node, &r.namespace, legs))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let jobs: Vec<_> = lab.routers.iter().zip(&legs).zip(plan(&legs)).collect();
    let done = side_by_side::map(&jobs, |((router, own), wanted)| {
        in_router(&router.node, &router.namespace, || teach_one(own, wanted))
    });
    // A router that failed has taken out what it wrote itself (see teach_one).
    let (mut taught, mut failed) = (Taught::default(), None);
    for d in done {
        taught.0.push(d.unwrap_or_else(|e| {
            failed.get_or_insert(e);
            Vec::new()
        }));
    }
    match failed {
        None => Ok(taught),
        Some(e) => {
            let _ = forget(lab, &taught);
            Err(e)
        }
    }
}

/// One router: its peers' entries, then one frame from each leg that has peers. A peer the
/// lab gave the router a static entry for keeps it: taught over, it would be forgotten (deleted)
/// when the run ends. An entry verify taught before (its protocol says so) is taught again: a
/// run killed before it could forget leaves such entries behind. If the router cannot be
/// taught, what was written is taken out again.
fn teach_one(own: &[Leg], wanted: &[Peer]) -> std::io::Result<Vec<(i32, IpAddr)>> {
    let the_lab_s = static_entries(wanted)?;
    let to_teach: Vec<Peer> = wanted
        .iter()
        .filter(|&&(i, a, _)| !the_lab_s.contains(&(i, a)))
        .copied()
        .collect();
    let taught: Vec<(i32, IpAddr)> = to_teach.iter().map(|&(i, a, _)| (i, a)).collect();
    let announced = || {
        let socket = crate::sys::packet_socket::unbound()?;
        own.iter()
            .filter(|l| wanted.iter().any(|w| w.0 == l.ifindex))
            .try_for_each(|leg| announce(&socket, leg))
    };
    match write(&to_teach).and_then(|()| announced()) {
        Ok(()) => Ok(taught),
        Err(e) => {
            let _ = unwrite(&taught);
            Err(e)
        }
    }
}

/// The static neighbours the lab itself gave the calling thread's namespace, in each family
/// `wanted` has.
fn static_entries(wanted: &[Peer]) -> std::io::Result<HashSet<(i32, IpAddr)>> {
    let mut entries = crate::sys::neigh::list(libc::AF_INET as u8)?;
    if wanted.iter().any(|p| p.1.is_ipv6()) {
        entries.extend(crate::sys::neigh::list(libc::AF_INET6 as u8)?);
    }
    let dst = |n: &crate::sys::neigh::Neighbour| -> Option<IpAddr> {
        n.dst.map(IpAddr::from).or(n.dst6.map(IpAddr::from))
    };
    Ok(entries
        .iter()
        .filter(|n| !n.is_dynamic() && n.protocol != Some(TAUGHT_BY_VERIFY))
        .filter_map(|n| Some((n.ifindex, dst(n)?)))
        .collect())
}

/// Deletes what [`teach`] taught, so the routers are left to resolve their peers from traffic
/// again, as the lab has them.
pub fn forget(lab: &Lab, taught: &Taught) -> Result<(), UnderlayError> {
    for (router, entries) in lab.routers.iter().zip(&taught.0) {
        if entries.is_empty() {
            continue;
        }
        in_router(&router.node, &router.namespace, || unwrite(entries))?;
    }
    Ok(())
}

/// Makes the segment's switch learn which port `leg` is on, as an ARP request would have: one
/// frame from the leg's MAC to that same MAC. A learning bridge records the source and then
/// drops the frame, which would go back out the port it came in, so it reaches no other port.
/// Without it, the first frame to each router would be flooded to every port.
fn announce(fd: &std::os::fd::OwnedFd, leg: &Leg) -> std::io::Result<()> {
    use nix::sys::socket::{sendto, MsgFlags};
    /// IEEE 802 local experimental EtherType: no protocol takes it for its own.
    const ETH_P_LOCAL_EXP: u16 = 0x88b5;
    let mut frame = [0u8; 60];
    frame[0..6].copy_from_slice(&leg.mac);
    frame[6..12].copy_from_slice(&leg.mac);
    frame[12..14].copy_from_slice(&ETH_P_LOCAL_EXP.to_be_bytes());
    let to = crate::sys::packet_socket::link_addr(leg.ifindex as u32);
    sendto(fd.as_raw_fd(), &frame, &to, MsgFlags::empty())?;
    Ok(())
}

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

/// The calling thread's namespace's IPv4 and global IPv6 addresses on interfaces with a MAC,
/// loopback and link-local addresses left out.
fn legs() -> std::io::Result<Vec<Leg>> {
    let addrs: Vec<_> = nix::ifaddrs::getifaddrs()
        .map_err(std::io::Error::from)?
        .collect();
    let mac_of = |name: &str| {
        addrs
            .iter()
            .filter(|a| a.interface_name == name)
            .find_map(|a| a.address?.as_link_addr()?.addr())
    };
    Ok(addrs
        .iter()
        .filter_map(|a| {
            let (addr, prefix) = address_and_prefix(a)?;
            let ifindex = nix::net::if_::if_nametoindex(a.interface_name.as_str()).ok()?;
            Some(Leg {
                ifindex: ifindex as i32,
                addr,
                prefix,
                mac: mac_of(&a.interface_name)?,
            })
        })
        .collect())
}

fn address_and_prefix(a: &nix::ifaddrs::InterfaceAddress) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match (a.address?, a.netmask?) {
        (addr, mask) if addr.as_sockaddr_in().is_some() => (
            IpAddr::V4(addr.as_sockaddr_in()?.ip()),
            u32::from(mask.as_sockaddr_in()?.ip()).count_ones(),
        ),
        (addr, mask) => (
            IpAddr::V6(addr.as_sockaddr_in6()?.ip()),
            u128::from(mask.as_sockaddr_in6()?.ip()).count_ones(),
        ),
    };
    let link_local = matches!(addr, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
    (!addr.is_loopback() && !link_local).then_some((addr, prefix as u8))
}

fn write(wanted: &[Peer]) -> std::io::Result<()> {
    let mut teacher = Teacher::open()?;
    wanted
        .iter()
        .try_for_each(|&(ifindex, addr, mac)| teacher.teach(ifindex, addr, mac))
}

/// Deletes the calling thread's namespace's `entries`; one already gone is fine.
fn unwrite(entries: &[(i32, IpAddr)]) -> std::io::Result<()> {
    let mut teacher = Teacher::open()?;
    entries
        .iter()
        .try_for_each(|&(ifindex, addr)| teacher.forget(ifindex, addr))
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
    use crate::sys::neigh::tests::ip;

    fn leg(ifindex: i32, addr: &str, prefix: u8) -> Leg {
        let addr: IpAddr = addr.parse().unwrap();
        let [c, d] = match addr {
            IpAddr::V4(v4) => [v4.octets()[2], v4.octets()[3]],
            IpAddr::V6(v6) => [v6.octets()[14], v6.octets()[15]],
        };
        Leg {
            ifindex,
            addr,
            prefix,
            mac: [2, 0, 0, 0, c, d],
        }
    }

    #[test]
    fn every_router_learns_every_peer_on_its_segments_and_no_other() {
        let legs = vec![
            vec![leg(2, "192.168.0.50", 24), leg(3, "10.0.1.1", 24)],
            vec![leg(2, "192.168.0.100", 24), leg(3, "10.0.2.1", 24)],
            vec![leg(5, "192.168.0.150", 24), leg(6, "10.0.3.1", 24)],
        ];
        let wanted = plan(&legs);
        let peer = |ifindex: i32, s: &str| {
            let l = leg(ifindex, s, 24);
            (ifindex, l.addr, l.mac)
        };
        assert_eq!(
            wanted[0],
            [peer(2, "192.168.0.100"), peer(2, "192.168.0.150")]
        );
        assert_eq!(
            wanted[1],
            [peer(2, "192.168.0.50"), peer(2, "192.168.0.150")]
        );
        assert_eq!(
            wanted[2],
            [peer(5, "192.168.0.50"), peer(5, "192.168.0.100")]
        );
    }

    #[test]
    fn a_dual_stack_router_learns_its_peers_in_each_family_on_the_same_segment() {
        let legs = vec![
            vec![leg(2, "10.0.0.1", 24), leg(2, "fd00:10::1", 64)],
            vec![leg(4, "10.0.0.2", 24), leg(4, "fd00:10::2", 64)],
            vec![leg(7, "fd00:11::3", 64)],
        ];
        let wanted = plan(&legs);
        let peer = |ifindex: i32, s: &str, prefix| {
            let l = leg(ifindex, s, prefix);
            (ifindex, l.addr, l.mac)
        };
        assert_eq!(
            wanted[0],
            [peer(2, "10.0.0.2", 24), peer(2, "fd00:10::2", 64)]
        );
        assert_eq!(
            wanted[1],
            [peer(4, "10.0.0.1", 24), peer(4, "fd00:10::1", 64)]
        );
        assert_eq!(wanted[2], [], "another /64 is another segment");
    }

    /// A router on 10.9.0.0/24, its leg a veth (`w`) that is up or not, then `more` steps.
    fn router(
        test: &str,
        octet: u8,
        up: bool,
        more: &[&str],
    ) -> crate::sys::netns::testing::Scratch {
        let addr = format!("addr add 10.9.0.{octet}/24 dev w");
        let mut steps = vec!["link add w type veth peer name x", &addr, "link set x up"];
        if up {
            steps.push("link set w up");
        }
        steps.extend(more);
        crate::sys::netns::testing::Scratch::new(test, &steps)
    }

    fn lab_of(routers: &[&crate::sys::netns::testing::Scratch]) -> Lab {
        Lab {
            name: "teach".into(),
            encap: crate::lab::Encap::Plain,
            encap6: None,
            underlay_protocol: None,
            flavor: Default::default(),
            tunnel_dev: None,
            services: None,
            encryption: None,
            ip_family: Default::default(),
            hosts: vec![],
            pods: vec![],
            routers: routers
                .iter()
                .map(|r| crate::lab::LabRouter {
                    node: r.name().into(),
                    namespace: r.name().into(),
                    capture: vec![],
                })
                .collect(),
        }
    }

    /// The router's static neighbours, as `ip neigh` shows them.
    fn statics(router: &crate::sys::netns::testing::Scratch) -> Vec<String> {
        let out = std::process::Command::new("ip")
            .args(["-n", router.name(), "neigh", "show", "nud", "permanent"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn permanent(router: &crate::sys::netns::testing::Scratch) -> usize {
        statics(router).len()
    }

    #[test]
    fn a_router_that_cannot_be_taught_leaves_no_router_taught() {
        let (a, b) = (
            router("teach-a", 1, true, &[]),
            router("teach-b", 2, true, &[]),
        );
        // A leg that is down takes its entries but cannot send the switch its frame.
        let down = router("teach-down", 3, false, &[]);
        let taught = teach(&lab_of(&[&a, &b])).unwrap();
        assert_eq!(
            (permanent(&a), permanent(&b)),
            (1, 1),
            "each learns the other"
        );
        forget(&lab_of(&[&a, &b]), &taught).unwrap();
        assert_eq!((permanent(&a), permanent(&b)), (0, 0));

        let failed = teach(&lab_of(&[&a, &b, &down])).unwrap_err();
        assert_eq!(failed.node, down.name());
        let left = [permanent(&a), permanent(&b), permanent(&down)];
        assert_eq!(left, [0, 0, 0], "entries left behind after a failed teach");
    }

    #[test]
    fn the_lab_s_static_entries_outlive_a_run_and_a_killed_run_s_do_not() {
        let lab_s = "neigh add 10.9.0.2 lladdr 02:00:00:00:00:42 dev w nud permanent";
        let a = router("own-a", 1, true, &[lab_s]);
        let killed_run_s =
            "neigh add 10.9.0.1 lladdr 02:00:00:00:00:43 dev w nud permanent protocol 203";
        let b = router("own-b", 2, true, &[killed_run_s]);
        let lab = lab_of(&[&a, &b]);
        let taught = teach(&lab).unwrap();
        let kept = statics(&a);
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(
            kept[0].contains("02:00:00:00:00:42"),
            "taught over: {kept:?}"
        );
        let retaught = statics(&b);
        assert!(!retaught[0].contains("02:00:00:00:00:43"), "{retaught:?}");
        forget(&lab, &taught).unwrap();
        let kept = statics(&a);
        assert!(
            kept.len() == 1 && kept[0].contains("02:00:00:00:00:42"),
            "{kept:?}"
        );
        assert_eq!(permanent(&b), 0, "the killed run's entry is still there");
    }

    #[test]
    fn backlog_drops_are_the_second_column_summed() {
        let text = "00a1b2c3 00000010 00000000 00000000\n00000001 0000000f 00000000 00000000\n";
        assert_eq!(parse_backlog_drops(text), 31);
    }

    /// In a private namespace with a bridge of two ports: the bridge learns the announcing
    /// leg's MAC on its port, and the frame reaches no other port.
    #[test]
    fn an_announced_leg_is_learned_by_the_switch_and_reaches_no_other_port() {
        use nix::sys::socket::{bind, recv, setsockopt, sockopt, MsgFlags};
        let hung = "announcing hung";
        let (fdb, others) = crate::sys::netns::testing::in_private_netns(hung, || {
            ip("ip", "link add br0 type bridge");
            ip("ip", "link add r type veth peer name rp");
            ip("ip", "link add o type veth peer name op");
            for port in ["rp", "op"] {
                ip("ip", &format!("link set {port} master br0"));
            }
            for dev in ["br0", "r", "rp", "o", "op"] {
                ip("ip", &format!("link set {dev} up"));
            }
            let index = |name: &str| nix::net::if_::if_nametoindex(name).unwrap();
            let mac = crate::sys::packet_socket::mac_of("r").unwrap();
            let other = crate::sys::packet_socket::unbound().unwrap();
            bind(
                other.as_raw_fd(),
                &crate::sys::packet_socket::link_addr(index("o")),
            )
            .unwrap();
            let wait = nix::sys::time::TimeVal::new(0, 300_000);
            setsockopt(&other, sockopt::ReceiveTimeout, &wait).unwrap();
            let leg = Leg {
                ifindex: index("r") as i32,
                addr: IpAddr::from([192, 168, 9, 1]),
                prefix: 24,
                mac,
            };
            announce(&crate::sys::packet_socket::unbound().unwrap(), &leg).unwrap();
            let mut buf = [0u8; 2048];
            let mut others = 0;
            while let Ok(n) = recv(other.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                others += usize::from(n >= 14 && buf[12..14] == [0x88, 0xb5]);
            }
            let fdb = crate::sys::neigh::list(libc::AF_BRIDGE as u8)
                .unwrap()
                .into_iter()
                .filter(|n| n.lladdr == Some(mac) && n.ifindex == index("rp") as i32)
                .count();
            (fdb, others)
        });
        assert_eq!(fdb, 1, "the bridge did not learn the leg's MAC on its port");
        assert_eq!(others, 0, "the announcement reached another port");
    }
}
