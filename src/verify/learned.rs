//! State the lab's nodes learnt from traffic: dynamic neighbour entries, learned VXLAN FDB
//! entries and bridge-learned MACs. verify reads it back before probing and wipes it between
//! probe phases, so that no direction is proven with state only the other direction (or a third
//! pair) could have taught. Permanent entries are the lab's configuration and never touched.
//!
//! Reading runs `ip`/`bridge` inside each node's namespace and flushing speaks rtnetlink there
//! ([`crate::sys::neigh`], [`crate::sys::neigh_device`]); what to delete is decided by the
//! pure functions below, which unit tests cover.

use crate::family::Family;
use crate::lab::Lab;
use crate::sys::netns::in_netns;
pub use crate::sys::tables::FdbEntry;
use crate::sys::tables::LinkRow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum LearnedError {
    #[error("cannot {what} in node `{node}`: `{command}` failed: {why}")]
    Command {
        node: String,
        what: &'static str,
        command: String,
        why: String,
    },
}

impl LearnedError {
    /// A tool that failed in `node` while verify tried to `what`.
    pub fn from_tool(node: &str, what: &'static str, e: crate::sys::tool::ToolError) -> Self {
        LearnedError::Command {
            node: node.to_string(),
            what,
            command: e.command,
            why: e.why,
        }
    }
}

/// A host's FDB as read before verify touched anything.
#[derive(Debug, Clone)]
pub struct HostFdb {
    pub node: String,
    /// Where peers' VTEPs send to it, one address per family the lab tunnels: its underlay
    /// address, or its WireGuard tunnel address where the mode runs inside the tunnel
    /// ([`crate::lab::LabHost::outer_ip`]).
    pub outer: Vec<IpAddr>,
    pub entries: Vec<FdbEntry>,
    /// A flow-based tunnel (Cilium): no FDB by design, so no gap to report.
    pub flow_based: bool,
}

/// A host that has no configured way to reach a peer's VTEP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodGap {
    pub node: String,
    pub device: String,
    pub peer: IpAddr,
    /// A learned entry towards the peer was there: traffic from elsewhere taught it.
    pub learned: bool,
}

impl FloodGap {
    pub fn reason(&self) -> super::reason::Reason {
        super::reason::Reason::FloodGap {
            node: self.node.clone(),
            device: self.device.clone(),
            peer: self.peer,
            learned: self.learned,
        }
    }
}

/// In a VXLAN lab every host must be able to reach every peer VTEP by configuration: a
/// permanent entry (the all-zeros flood entry, or a per-MAC one as flanneld writes) with that
/// peer as `dst`. A learned entry is not enough: it was taught by the peer's traffic and ages out.
pub fn flood_gaps(fdbs: &[HostFdb]) -> Vec<FloodGap> {
    let mut gaps = Vec::new();
    for host in fdbs.iter().filter(|h| !h.flow_based) {
        let device = host
            .entries
            .iter()
            .find(|e| e.dst.is_some() && e.master.is_none())
            .map(|e| e.ifname.clone())
            .unwrap_or_else(|| "the VXLAN device".to_string());
        let peers = fdbs.iter().filter(|p| p.node != host.node);
        for &vtep in peers.flat_map(|p| &p.outer) {
            let towards = || host.entries.iter().filter(|e| e.dst == Some(vtep));
            if towards().any(|e| !e.is_learned()) {
                continue;
            }
            gaps.push(FloodGap {
                node: host.node.clone(),
                device: device_of(host, Family::of(vtep)).unwrap_or_else(|| device.clone()),
                peer: vtep,
                learned: towards().any(|e| e.is_learned() && !e.is_flood()),
            });
        }
    }
    gaps
}

impl HostFdb {
    /// The VTEPs the host floods to in `family`: the `dst` of its permanent all-zeros entries
    /// (a dual-stack host has a flood list per VTEP, one over each underlay family).
    pub fn flood_list(&self, family: Family) -> Vec<IpAddr> {
        self.entries
            .iter()
            .filter(|e| e.is_flood() && !e.is_learned())
            .filter_map(|e| e.dst)
            .filter(|&d| Family::of(d) == family)
            .collect()
    }
}

/// Every host's flood list in each family, read once from the FDBs verify read at its start
/// and shared by every pair that starts or ends at the host.
#[derive(Debug, Default)]
pub struct FloodLists(HashMap<String, ByFamily>);

#[derive(Debug, Default)]
struct ByFamily {
    ipv4: Arc<[IpAddr]>,
    ipv6: Arc<[IpAddr]>,
}

impl FloodLists {
    /// `fdbs` holds each host once, as [`read_hosts`] reads them.
    pub fn new(fdbs: &[HostFdb]) -> FloodLists {
        let lists = fdbs.iter().map(|host| {
            let by_family = ByFamily {
                ipv4: host.flood_list(Family::Ipv4).into(),
                ipv6: host.flood_list(Family::Ipv6).into(),
            };
            (host.node.clone(), by_family)
        });
        FloodLists(lists.collect())
    }

    /// `node`'s flood list in `family`; empty for a node whose FDB was not read.
    pub fn of(&self, node: &str, family: Family) -> Arc<[IpAddr]> {
        let Some(lists) = self.0.get(node) else {
            return Arc::default();
        };
        match family {
            Family::Ipv4 => lists.ipv4.clone(),
            Family::Ipv6 => lists.ipv6.clone(),
        }
    }
}

/// The VXLAN device whose FDB sends over `family`'s underlay, where the host has one.
fn device_of(host: &HostFdb, family: Family) -> Option<String> {
    host.entries
        .iter()
        .find(|e| e.master.is_none() && e.dst.is_some_and(|d| Family::of(d) == family))
        .map(|e| e.ifname.clone())
}

/// Each host's FDB, as the lab holds it right now: read side by side, since each is a
/// `bridge` process to wait for, and at 254 hosts waiting one after another costs seconds.
pub fn read_hosts(lab: &Lab) -> Result<Vec<HostFdb>, LearnedError> {
    crate::sys::side_by_side::map(&lab.hosts, |h| {
        Ok(HostFdb {
            node: h.node.clone(),
            outer: lab.families().into_iter().map(|f| h.outer_ip(f)).collect(),
            entries: crate::sys::tables::fdb(&h.namespace)
                .map_err(|e| LearnedError::from_tool(&h.node, "read the FDB", e))?,
            flow_based: h.flow_based,
        })
    })
    .into_iter()
    .collect()
}

/// A node whose learned state verify wipes before each phase.
#[derive(Debug, Clone)]
pub struct Flush {
    node: String,
    namespace: String,
    way: FlushWay,
}

/// How a node's neighbours are flushed (its learned FDB entries are always deleted one by one).
#[derive(Debug, Clone, PartialEq, Eq)]
enum FlushWay {
    /// Dump the table and delete each dynamic entry; with `ipv6`, NDP's too. For a node with
    /// static neighbours, or in a lab that carries IPv6.
    Dump { ipv6: bool },
    /// Empty each of these devices' neighbours without a dump
    /// ([`crate::sys::neigh_device`]): the node has no static neighbour to keep.
    Devices(Vec<String>),
}

impl Flush {
    fn run(&self) -> Result<(), LearnedError> {
        let err = |why: String| LearnedError::Command {
            node: self.node.clone(),
            what: "flush learned state",
            command: "rtnetlink RTM_DELNEIGH (neighbours and FDB)".into(),
            why,
        };
        in_netns(&self.namespace, || match &self.way {
            FlushWay::Dump { ipv6 } => crate::sys::neigh::flush_dynamic(*ipv6),
            FlushWay::Devices(devices) => crate::sys::neigh_device::flush(devices)
                .and_then(|()| crate::sys::neigh::flush_learned_fdb()),
        })
        .map_err(|e| err(e.to_string()))?
        .map_err(|e| err(e.to_string()))
    }

    /// Looks at the node once: in an IPv4 lab, a node is flushed device by device from now
    /// on unless one of its devices holds static neighbours and could learn others. `known`
    /// is what verify has read of the node already (a host's).
    fn survey(
        node: &str,
        namespace: &str,
        ipv6: bool,
        known: Known<'_>,
    ) -> Result<Flush, LearnedError> {
        let err = |why: String| LearnedError::Command {
            node: node.to_string(),
            what: "read the neighbour table",
            command: "rtnetlink RTM_GETNEIGH and SIOCGIFFLAGS".into(),
            why,
        };
        let flush = |way| Flush {
            node: node.to_string(),
            namespace: namespace.to_string(),
            way,
        };
        if ipv6 {
            return Ok(flush(FlushWay::Dump { ipv6 }));
        }
        let here = in_netns(namespace, || survey_here(known.static_neighbours()))
            .map_err(|e| err(e.to_string()))?
            .map_err(|e| err(e.to_string()))?;
        if here.holding_static.is_empty() {
            return Ok(flush(FlushWay::Devices(here.devices)));
        }
        let learnless = match known.learnless_tunnels() {
            Some(devices) => devices.to_vec(),
            // Only a way to skip the dump: if the devices cannot be read, the dump it is.
            None => learnless_tunnels(namespace, known.fdb).unwrap_or_default(),
        };
        Ok(flush(here.way_with(&learnless)))
    }
}

/// What an earlier step of verify (the programmed check) read of a host that the flush survey
/// needs too, so that the survey does not read it again: at 254 hosts, a walk of the shared
/// neighbour table and an `ip` process per host.
#[derive(Debug, Clone, Default)]
pub struct ReadBefore {
    /// The devices that hold a static (permanent or noarp) IPv4 neighbour, where every IPv4
    /// neighbour was read.
    pub static_neighbours: Option<Vec<String>>,
    /// The VXLAN devices that cannot learn ([`learnless_among`]), where every VXLAN device
    /// was read.
    pub learnless_tunnels: Option<Vec<String>>,
}

/// What verify has read of a node before its survey: its FDB, and what else an earlier step
/// read of it.
#[derive(Debug, Clone, Copy, Default)]
struct Known<'a> {
    fdb: Option<&'a [FdbEntry]>,
    read: Option<&'a ReadBefore>,
}

impl Known<'_> {
    fn static_neighbours(&self) -> Option<&[String]> {
        self.read.and_then(|r| r.static_neighbours.as_deref())
    }

    fn learnless_tunnels(&self) -> Option<&[String]> {
        self.read.and_then(|r| r.learnless_tunnels.as_deref())
    }
}

/// A namespace's devices as a flush sees them.
struct Surveyed {
    /// Every device that resolves neighbours.
    devices: Vec<String>,
    /// The devices that hold a static (permanent or noarp) IPv4 neighbour.
    holding_static: Vec<String>,
}

impl Surveyed {
    /// Device by device, leaving out the devices with static neighbours, when each of those
    /// is one of the `learnless` tunnels; else the dump.
    fn way_with(self, learnless: &[String]) -> FlushWay {
        if !self.holding_static.iter().all(|d| learnless.contains(d)) {
            return FlushWay::Dump { ipv6: false };
        }
        let holding = &self.holding_static;
        FlushWay::Devices(
            (self.devices.into_iter())
                .filter(|d| !holding.contains(d))
                .collect(),
        )
    }
}

/// The calling thread's namespace, in an IPv4 lab; its neighbours are dumped unless the
/// devices holding static ones are `known` (a dump walks the table all namespaces share).
fn survey_here(known: Option<&[String]>) -> std::io::Result<Surveyed> {
    let holding_static = match known {
        Some(devices) => devices.to_vec(),
        None => static_holders()?,
    };
    Ok(Surveyed {
        devices: crate::sys::neigh_device::devices()?,
        holding_static,
    })
}

/// The devices holding a static IPv4 neighbour, from a dump of the calling thread's namespace.
fn static_holders() -> std::io::Result<Vec<String>> {
    let mut holding_static = Vec::new();
    for n in crate::sys::neigh::list(libc::AF_INET as u8)? {
        let Ok(name) = nix::net::if_::if_indextoname(n.ifindex as u32) else {
            continue;
        };
        let name = name.to_string_lossy().into_owned();
        if !n.is_dynamic() && !holding_static.contains(&name) {
            holding_static.push(name);
        }
    }
    Ok(holding_static)
}

/// The VXLAN devices of a namespace that cannot learn (see [`learnless_among`]), read from
/// it; the FDB is read too unless given.
fn learnless_tunnels(
    namespace: &str,
    fdb: Option<&[FdbEntry]>,
) -> Result<Vec<String>, crate::sys::tool::ToolError> {
    let read;
    let fdb = match fdb {
        Some(fdb) => fdb,
        None => {
            read = crate::sys::tables::fdb(namespace)?;
            &read
        }
    };
    let tunnels = crate::sys::tables::links(namespace, Some("vxlan"))?;
    Ok(learnless_among(&tunnels, fdb))
}

/// Of `tunnels` (VXLAN devices), those that cannot learn a neighbour from traffic: learning
/// is off and no all-zeros entry of `fdb` floods their ARP requests, so a request for an
/// address nobody programmed goes nowhere and its entry never resolves. Their neighbours are
/// all configured (flannel's, Calico's), so a flush leaves them alone rather than dump the
/// shared table to find none.
pub fn learnless_among(tunnels: &[LinkRow], fdb: &[FdbEntry]) -> Vec<String> {
    let floods = |dev: &str| fdb.iter().any(|e| e.ifname == dev && e.is_flood());
    tunnels
        .iter()
        .filter(|l| l.vxlan().and_then(|v| v.learning) == Some(false))
        .filter(|l| !floods(&l.ifname))
        .map(|l| l.ifname.clone())
        .collect()
}

/// The hosts (neighbours, bridge and VXLAN FDBs) and pods (neighbours), each surveyed once for
/// the way its neighbours are flushed; `fdbs` are the hosts' FDBs as [`read_hosts`] read them,
/// and `read_before` what the programmed check read of each host, by node.
/// Not the underlay routers: see [`super::underlay`] for why their neighbours are resolved
/// once and kept.
pub fn plan_flush(
    lab: &Lab,
    fdbs: &[HostFdb],
    read_before: &HashMap<String, ReadBefore>,
) -> Result<Vec<Flush>, LearnedError> {
    let ipv6 = lab.ip_family.has_v6();
    let known = |node: &str| Known {
        fdb: (fdbs.iter().find(|f| f.node == node)).map(|host| host.entries.as_slice()),
        read: read_before.get(node),
    };
    let nodes: Vec<(&str, &str)> = lab
        .hosts
        .iter()
        .map(|h| (h.node.as_str(), h.namespace.as_str()))
        .chain(
            lab.pods
                .iter()
                .map(|p| (p.node.as_str(), p.namespace.as_str())),
        )
        .collect();
    crate::sys::side_by_side::map_on(&nodes, FLUSH_THREADS, |(node, ns)| {
        Flush::survey(node, ns, ipv6, known(node))
    })
    .into_iter()
    .collect()
}

/// Namespaces flushed side by side. Most of a dump's cost is the kernel's: it walks the one
/// table every namespace shares, so more threads than a few would only queue for it.
const FLUSH_THREADS: usize = 8;

/// Wipes learned state in every node, several namespaces at a time.
pub fn flush(plan: &[Flush]) -> Result<(), LearnedError> {
    crate::sys::side_by_side::map_on(plan, FLUSH_THREADS, Flush::run)
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A namespace without static neighbours is flushed device by device, its loopback left
    /// out; one whose static neighbours sit on a learnless tunnel too, that tunnel left out;
    /// any other keeps the dump.
    #[test]
    fn only_static_neighbours_on_a_learnless_tunnel_spare_the_dump() {
        use crate::sys::neigh::tests::ip;
        let hung = "surveying hung";
        let (without, with) = crate::sys::netns::testing::in_private_netns(hung, || {
            ip("ip", "link add d0 type veth peer name d1");
            ip("ip", "link set d0 up");
            ip("ip", "addr add 10.9.0.1/24 dev d0");
            ip(
                "ip",
                "neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev d0 nud stale",
            );
            let without = survey_here(None).unwrap();
            ip(
                "ip",
                "neigh add 10.9.0.3 lladdr 02:00:00:00:00:03 dev d0 nud permanent",
            );
            (without, survey_here(None).unwrap())
        });
        assert!(without.holding_static.is_empty());
        match without.way_with(&[]) {
            FlushWay::Devices(devices) => {
                assert!(devices.contains(&"d0".to_string()), "{devices:?}");
                assert!(!devices.contains(&"lo".to_string()), "{devices:?}");
            }
            other => panic!("no static neighbour, yet {other:?}"),
        }
        assert_eq!(with.holding_static, ["d0"]);
        let devices = with.devices.clone();
        assert_eq!(
            Surveyed {
                devices,
                holding_static: vec!["d0".into()]
            }
            .way_with(&[]),
            FlushWay::Dump { ipv6: false }
        );
        match with.way_with(&["d0".to_string()]) {
            FlushWay::Devices(devices) => assert!(!devices.contains(&"d0".to_string())),
            other => panic!("d0 is learnless, yet {other:?}"),
        }
    }

    /// The survey takes a host's static neighbours from the programmed check's reading
    /// (`ip -j neigh`) instead of its own dump: both must name the same devices.
    #[test]
    fn the_programmed_check_s_reading_names_the_devices_the_dump_names() {
        let scratch = crate::sys::netns::testing::Scratch::new(
            "statics",
            &[
                "link add d0 type veth peer name d1",
                "link set d0 up",
                "link set d1 up",
                "addr add 10.9.0.1/24 dev d0",
                "addr add 10.8.0.1/24 dev d1",
                "neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev d0 nud stale",
                "neigh add 10.9.0.3 lladdr 02:00:00:00:00:03 dev d0 nud reachable",
                "neigh add 10.8.0.2 lladdr 02:00:00:00:00:04 dev d1 nud permanent",
                "neigh add 10.8.0.3 lladdr 02:00:00:00:00:05 dev d1 nud noarp",
            ],
        );
        let ns = scratch.name();
        let dumped = in_netns(ns, static_holders).unwrap().unwrap();
        let read = super::super::programmed::HostState {
            neighbours: crate::sys::tables::neighbours_of(ns, false).unwrap(),
            ipv4_neighbours_read: true,
            ..Default::default()
        };
        assert_eq!(dumped, ["d1"]);
        assert_eq!(read.static_ipv4(), Some(dumped));
        let unread = super::super::programmed::HostState::default();
        assert_eq!(unread.static_ipv4(), None);
        // What is known is taken as it is: the dump is not walked again.
        let surveyed = in_netns(ns, || survey_here(Some(&[]))).unwrap().unwrap();
        assert!(surveyed.holding_static.is_empty());
        assert!(surveyed.devices.contains(&"d1".to_string()));
    }

    /// flannel's and Calico's kind of VTEP (nolearning, no flood entry) cannot learn; the
    /// article's (learning) can, and so can a nolearning one that floods.
    #[test]
    fn a_vtep_is_learnless_without_learning_and_without_a_flood_entry() {
        let scratch = crate::sys::netns::testing::Scratch::new(
            "learnless",
            &[
                "link add d0 type veth peer name d1",
                "addr add 10.9.0.1/24 dev d0",
                "link add vx0 type vxlan id 1 dstport 8472 local 10.9.0.1 dev d0 nolearning",
                "link add vx1 type vxlan id 2 dstport 8473 local 10.9.0.1 dev d0",
                "link add vx2 type vxlan id 3 dstport 8474 local 10.9.0.1 dev d0 nolearning",
            ],
        );
        let ns = scratch.name();
        let ok = std::process::Command::new("bridge")
            .args([
                "-n",
                ns,
                "fdb",
                "append",
                "00:00:00:00:00:00",
                "dev",
                "vx2",
                "dst",
                "10.9.0.2",
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "bridge fdb append");
        assert_eq!(learnless_tunnels(ns, None).unwrap(), ["vx0"]);
        let fdb = crate::sys::tables::fdb(ns).unwrap();
        assert_eq!(learnless_tunnels(ns, Some(&fdb)).unwrap(), ["vx0"]);
        assert_eq!(learnless_tunnels(ns, Some(&[])).unwrap(), ["vx0", "vx2"]);
        // The programmed check's reading of the same devices names the same, and is handed
        // over only where the devices were read.
        let mut read = super::super::programmed::HostState {
            fdb,
            ..Default::default()
        };
        assert!(read.read_before().learnless_tunnels.is_none());
        read.tunnels = crate::sys::tables::links(ns, Some("vxlan")).unwrap();
        read.tunnels_read = true;
        let learnless = read.read_before().learnless_tunnels;
        assert_eq!(learnless, Some(vec!["vx0".to_string()]));
    }

    /// The survey takes the learnless tunnels the programmed check found rather than reading
    /// the devices again: here they name a device that the namespace has as a plain veth, and
    /// the survey believes the reading.
    #[test]
    fn the_survey_takes_the_tunnels_read_before() {
        let scratch = crate::sys::netns::testing::Scratch::new(
            "readbefore",
            &[
                "link add d0 type veth peer name d1",
                "link set d0 up",
                "addr add 10.9.0.1/24 dev d0",
                "neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent",
            ],
        );
        let ns = scratch.name();
        let survey = |read: &ReadBefore| {
            let known = Known {
                fdb: Some(&[]),
                read: Some(read),
            };
            Flush::survey("host1", ns, false, known).unwrap().way
        };
        let unread = ReadBefore::default();
        assert_eq!(survey(&unread), FlushWay::Dump { ipv6: false });
        let read = ReadBefore {
            static_neighbours: Some(vec!["d0".into()]),
            learnless_tunnels: Some(vec!["d0".into()]),
        };
        match survey(&read) {
            FlushWay::Devices(devices) => assert!(!devices.contains(&"d0".to_string())),
            other => panic!("the reading names d0 learnless, yet {other:?}"),
        }
    }

    fn entry(
        mac: &str,
        ifname: &str,
        dst: Option<&str>,
        master: Option<&str>,
        state: &str,
    ) -> FdbEntry {
        FdbEntry {
            mac: mac.into(),
            ifname: ifname.into(),
            dst: dst.map(|d| d.parse().unwrap()),
            master: master.map(str::to_string),
            state: state.into(),
        }
    }

    fn host(node: &str, ip: &str, entries: Vec<FdbEntry>) -> HostFdb {
        HostFdb {
            node: node.into(),
            outer: vec![ip.parse().unwrap()],
            entries,
            flow_based: false,
        }
    }

    #[test]
    fn flood_lists_hold_each_host_s_permanent_head_ends_by_family() {
        let zeros = "00:00:00:00:00:00";
        let a = host(
            "host1",
            "10.0.1.2",
            vec![
                entry(zeros, "vxlan0", Some("10.0.2.2"), None, "permanent"),
                entry(zeros, "vxlan0", Some("10.0.3.2"), None, "permanent"),
                entry(zeros, "vxlan6", Some("fd00::3"), None, "permanent"),
                // Learned (no state), and a unicast entry: neither is a flood list's.
                entry(zeros, "vxlan0", Some("10.0.4.2"), None, ""),
                entry(
                    "aa:bb:cc:00:00:02",
                    "vxlan0",
                    Some("10.0.5.2"),
                    None,
                    "permanent",
                ),
            ],
        );
        let b = host(
            "host2",
            "10.0.2.2",
            vec![entry(zeros, "vxlan0", Some("10.0.1.2"), None, "permanent")],
        );
        let lists = FloodLists::new(&[a, b]);
        let ips = |list: Arc<[IpAddr]>| list.iter().map(|ip| ip.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ips(lists.of("host1", Family::Ipv4)),
            ["10.0.2.2", "10.0.3.2"]
        );
        assert_eq!(ips(lists.of("host1", Family::Ipv6)), ["fd00::3"]);
        assert_eq!(ips(lists.of("host2", Family::Ipv4)), ["10.0.1.2"]);
        assert!(lists.of("host2", Family::Ipv6).is_empty());
        assert!(
            lists.of("host9", Family::Ipv4).is_empty(),
            "an unread host floods nowhere"
        );
    }

    #[test]
    fn a_flow_based_tunnel_needs_no_fdb() {
        let mut bare = vec![
            host("host1", "10.0.1.2", vec![]),
            host("host2", "10.0.2.2", vec![]),
        ];
        assert_eq!(flood_gaps(&bare).len(), 2);
        for h in &mut bare {
            h.flow_based = true;
        }
        assert!(flood_gaps(&bare).is_empty());
    }

    #[test]
    fn parses_iproute2_json() {
        let json = r#"[{"mac":"ce:cc:30:ed:9a:e4","ifname":"flannel.1","dst":"10.0.3.2","flags":["self"],"state":""},
            {"mac":"00:00:00:00:00:00","ifname":"flannel.1","dst":"10.0.2.2","flags":["self"],"state":"permanent"},
            {"mac":"2a:df:06:ca:81:54","ifname":"veth1","master":"cni0","state":""}]"#;
        let e: Vec<FdbEntry> = serde_json::from_str(json).unwrap();
        assert!(e[0].is_learned() && !e[1].is_learned());
        assert_eq!(e[2].master.as_deref(), Some("cni0"));
    }

    #[test]
    fn a_missing_flood_entry_is_a_gap_and_says_whether_learning_hid_it() {
        let fdbs = [
            host(
                "host1",
                "10.0.1.2",
                vec![entry(
                    "32:35:7b:dd:33:b3",
                    "flannel.1",
                    Some("10.0.2.2"),
                    None,
                    "",
                )],
            ),
            host(
                "host2",
                "10.0.2.2",
                vec![entry(
                    "00:00:00:00:00:00",
                    "flannel.1",
                    Some("10.0.1.2"),
                    None,
                    "permanent",
                )],
            ),
        ];
        let gaps = flood_gaps(&fdbs);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert_eq!(
            gaps[0].reason().to_string(),
            "host1 reached 10.0.2.2 only through a learned FDB entry: its flood entry is missing (bridge fdb append 00:00:00:00:00:00 dst 10.0.2.2 dev flannel.1)"
        );
        let bare = [host("host1", "10.0.1.2", vec![]), fdbs[1].clone()];
        let gaps = flood_gaps(&bare);
        assert!(!gaps[0].learned);
        assert!(gaps[0]
            .reason()
            .to_string()
            .contains("has no flood entry for 10.0.2.2"));
    }

    #[test]
    fn a_permanent_per_mac_entry_counts_as_configured() {
        let fdbs = [
            host(
                "host1",
                "10.0.1.2",
                vec![entry(
                    "32:35:7b:dd:33:b3",
                    "flannel.1",
                    Some("10.0.2.2"),
                    None,
                    "permanent",
                )],
            ),
            host(
                "host2",
                "10.0.2.2",
                vec![entry(
                    "00:00:00:00:00:00",
                    "flannel.1",
                    Some("10.0.1.2"),
                    None,
                    "permanent",
                )],
            ),
        ];
        assert!(flood_gaps(&fdbs).is_empty());
    }
}
