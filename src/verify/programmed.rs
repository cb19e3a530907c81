//! What the lab file says each host programs, compared with what the host holds: the tunnel
//! device's port and VNI, a permanent neighbour and FDB entry per peer VTEP, a route to each
//! peer's pod subnet, and on routed pod veths a /32 route and proxy ARP. A lost ping says that
//! something broke; this says what. The expectations come from the labels only, and the
//! comparison is pure; [`read`] runs `ip` in each host's namespace.

use super::learned::{HostFdb, LearnedError, ReadBefore};
use super::reason::Reason;
use super::report::{PairRow, Warning};
use crate::family::Family;
use crate::lab::{Encap, Lab, LabHost};
use crate::plan::Flavor;
use crate::sys::tables::{self, FdbEntry, LinkRow, NeighRow, RouteRow};
use std::collections::HashMap;
use std::net::IpAddr;

/// Something a host must hold, as the file programs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// The VXLAN device with the lab's port and, unless flow-based, its VNI; the VTEP of
    /// `family`'s pod traffic (each family has its own device).
    Tunnel {
        dev: String,
        port: u16,
        vni: u32,
        flow_based: bool,
        family: Family,
    },
    /// `ip neigh add <ip> lladdr <mac> dev <dev> nud permanent`.
    Neighbour {
        ip: IpAddr,
        mac: String,
        dev: String,
    },
    /// `bridge fdb add <mac> dst <dst> dev <dev> self permanent`.
    Fdb {
        mac: String,
        dst: IpAddr,
        dev: String,
    },
    /// A route to `dst` (a prefix, or a pod's address for a /32) through `via` on `dev`, with
    /// route protocol `proto` where the lab states one.
    Route {
        dst: String,
        via: Option<IpAddr>,
        dev: String,
        proto: Option<u8>,
    },
    /// `net.ipv4.conf.<dev>.proxy_arp = 1`.
    ProxyArp { dev: String },
}

impl Item {
    /// The family of the pod traffic the item carries: a VTEP's, a neighbour's, an FDB entry's
    /// outer (each family has its own VTEP here) and a route's; proxy ARP is IPv4's.
    fn family(&self) -> Family {
        match self {
            Item::Tunnel { family, .. } => *family,
            Item::Neighbour { ip, .. } => Family::of(*ip),
            Item::Fdb { dst, .. } => Family::of(*dst),
            Item::Route { dst, .. } if dst.contains(':') => Family::Ipv6,
            Item::Route { .. } | Item::ProxyArp { .. } => Family::Ipv4,
        }
    }

    /// The family of a neighbour entry's address.
    fn neighbour_in(&self) -> Option<Family> {
        matches!(self, Item::Neighbour { .. }).then(|| self.family())
    }

    /// The family of a route's destination.
    fn route_in(&self) -> Option<Family> {
        matches!(self, Item::Route { .. }).then(|| self.family())
    }
}

/// Which pairs an item matters to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Traffic between the host and this peer host (by index), either way.
    Peer(usize),
    /// Traffic to or from this pod (by node name).
    Pod(String),
    /// Traffic between this host and any other.
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub host: usize,
    pub node: String,
    pub item: Item,
    pub scope: Scope,
}

/// A programmed item the host does not hold, in words, with the pairs it matters to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub host: usize,
    /// The host's node name.
    pub node: String,
    pub scope: Scope,
    /// The family of the pairs it matters to.
    pub family: Family,
    pub reason: String,
}

impl Fault {
    /// Whether the pair between pods `a` and `b` (node names, host indices) crosses it.
    pub fn touches(&self, a: (&str, usize), b: (&str, usize)) -> bool {
        match &self.scope {
            Scope::Pod(pod) => a.0 == pod || b.0 == pod,
            Scope::Peer(peer) => {
                (a.1, b.1) == (self.host, *peer) || (a.1, b.1) == (*peer, self.host)
            }
            Scope::Host => a.1 != b.1 && (a.1 == self.host || b.1 == self.host),
        }
    }
}

/// Everything the labels say each host programs. Facts a label does not state (the article's
/// labs name no tunnel device or VTEP) are not expected.
pub fn expected(lab: &Lab) -> Vec<Expected> {
    let mut out = Vec::new();
    for h in &lab.hosts {
        let peers = lab.hosts.iter().filter(|p| p.index != h.index);
        let peer_items = peers.flat_map(|p| {
            let items = peer_items(lab, h, p)
                .into_iter()
                .chain(peer_items6(lab, h, p));
            items.map(|item| (item, Scope::Peer(p.index)))
        });
        let items = (own_items(lab, h).into_iter())
            .chain(peer_items)
            .chain(pod_items(lab, h));
        out.extend(items.map(|(item, scope)| Expected {
            host: h.index,
            node: h.node.clone(),
            item,
            scope,
        }));
    }
    out
}

/// What a host programs for itself: each family's VXLAN device, and the route into its
/// WireGuard tunnel in an encrypted lab.
fn own_items(lab: &Lab, h: &LabHost) -> Vec<(Item, Scope)> {
    let mut items = Vec::new();
    for (dev, family) in vxlan_devices(lab, h) {
        // Each family's VTEP carries that family's VXLAN: an ipip lab's IPv4 device is IPIP.
        if let Encap::Vxlan(v) = lab.encap_in(family) {
            let tunnel = Item::Tunnel {
                dev,
                port: v.port,
                vni: v.vni,
                flow_based: h.flow_based,
                family,
            };
            items.push((tunnel, Scope::Host));
        }
    }
    if let Some(route) = lab.encryption.as_ref().and_then(wg_route) {
        items.push((route, Scope::Host));
    }
    items
}

/// What a host programs for each of its own pods: a /32 route to the pod's veth where the
/// flavor routes pods (Calico), and proxy ARP on that veth where it answers for the gateway.
fn pod_items(lab: &Lab, h: &LabHost) -> Vec<(Item, Scope)> {
    let mut items = Vec::new();
    for pod in lab.pods.iter().filter(|p| p.host == h.index) {
        let Some(veth) = &pod.host_if else { continue };
        let scope = || Scope::Pod(pod.node.clone());
        if let Some(ip) = pod.ip.filter(|_| h.pod_routes) {
            let route = Item::Route {
                dst: format!("{ip}/32"),
                via: None,
                dev: veth.clone(),
                proto: None,
            };
            items.push((route, scope()));
        }
        if h.proxy_arp {
            items.push((Item::ProxyArp { dev: veth.clone() }, scope()));
        }
    }
    items
}

/// The host's VXLAN devices the labels name: the flavor's (`cnilab.tunnel-dev`) where the host
/// has an IPv4 side, and its IPv6 VTEP's (`cnilab.tunnel6-dev`), which share the port and VNI.
fn vxlan_devices(lab: &Lab, h: &LabHost) -> Vec<(String, Family)> {
    let v4 = lab.tunnel_dev.clone().filter(|_| h.underlay_ip.is_some());
    // Cilium's one device carries both families: it is read back once.
    let v6 = h.v6.as_ref().and_then(|v6| v6.tunnel_dev.clone());
    let v6 = v6.filter(|dev| v4.as_ref() != Some(dev));
    let v4 = v4.map(|dev| (dev, Family::Ipv4));
    v4.into_iter()
        .chain(v6.map(|dev| (dev, Family::Ipv6)))
        .collect()
}

/// flannel's one route for the cluster network on its WireGuard device.
fn wg_route(wg: &crate::lab::wireguard::LabWireguard) -> Option<Item> {
    Some(Item::Route {
        dst: wg.route?.to_string(),
        via: None,
        dev: wg.dev.clone(),
        proto: None,
    })
}

/// What host `h` programs for peer `p` in IPv4: its VTEP's neighbour and FDB entries where the
/// peer's MAC is fixed by the file, and the route to its pods. An IPv6-only peer has none.
fn peer_items(lab: &Lab, h: &LabHost, p: &LabHost) -> Vec<Item> {
    let (Some(pod_subnet), Some(underlay)) = (p.pod_subnet, p.underlay_ip) else {
        return Vec::new();
    };
    // The address the mode's outer IPv4 header carries for the peer.
    let outer = p.tunnel_ip().unwrap_or(underlay);
    // Where the mode runs inside the tunnel, the mode's own entries stand, towards the peer's
    // tunnel address; the connected route of the tunnel addresses reaches it.
    let inside = p.tunnel_ip().is_some();
    if let Some(wg) = lab.encryption.as_ref().filter(|_| !inside) {
        // A peer's pods are behind the WireGuard device: a route of their own unless the
        // device's one route covers them. Routes in a table of their own (Calico's) are not
        // read here: the tunnel on the wire and the peers read back stand for them.
        let dst = pod_subnet.to_string();
        let dev = wg.dev.clone();
        // IPsec's peers (Cilium's) have no route of their own: the out policy catches them.
        return match (wg.route, wg.table) {
            _ if wg.ipsec_key.is_some() => Vec::new(),
            (Some(_), _) | (_, Some(_)) => Vec::new(),
            (None, None) => vec![Item::Route {
                dst,
                via: None,
                dev,
                proto: None,
            }],
        };
    }
    let mut items = Vec::new();
    let dev = lab.tunnel_dev.clone();
    // A peer on the host's own subnet gets a plain route via the peer. flannel's DirectRouting
    // programs no tunnel entries for it; Calico's CrossSubnet programs every VTEP's anyway.
    let encap = lab.encap_between(h.index, p.index, Family::Ipv4);
    let vtep_entries = match encap {
        Encap::Plain if lab.flavor == Flavor::Calico => lab.encap_in(Family::Ipv4),
        _ => encap,
    };
    if let (Encap::Vxlan(_), Some(dev), Some(ip), Some(mac)) =
        (vtep_entries, &dev, p.vtep_ip, &p.vtep_mac)
    {
        let (dev, mac) = (dev.clone(), mac.clone());
        items.push(Item::Neighbour {
            ip: ip.into(),
            mac: mac.clone(),
            dev: dev.clone(),
        });
        if !h.flow_based {
            items.push(Item::Fdb {
                mac,
                dst: outer.into(),
                dev,
            });
        }
    }
    let route = match (encap, dev) {
        // A peer in another rack is not on-link: host-gw plans no route to it (BGP's routes,
        // if any, are checked when verify waits for the routing to converge).
        (Encap::Plain, _) if h.rack != p.rack => None,
        (Encap::Plain, _) => Some((underlay, h.underlay_if.clone(), h.direct_proto)),
        (Encap::Vxlan(_), Some(dev)) => p.vtep_ip.map(|ip| (ip, dev, h.tunnel_proto)),
        (Encap::Ipip, Some(dev)) => Some((outer, dev, h.tunnel_proto)),
        _ => None,
    };
    if let Some((via, dev, proto)) = route {
        let dst = pod_subnet.to_string();
        items.push(Item::Route {
            dst,
            via: Some(via.into()),
            dev,
            proto,
        });
    }
    items
}

/// What host `h` programs for peer `p` in IPv6, where both have an IPv6 side: the route to the
/// peer's pod /64 (via the peer in host-gw, via its IPv6 VTEP on `cnilab.tunnel6-dev` in
/// vxlan), and the VTEP's neighbour and FDB entries where the file fixes its MAC. The labs
/// state no route protocol for IPv6, so none is checked. Encrypted labs carry IPv4 only.
fn peer_items6(lab: &Lab, h: &LabHost, p: &LabHost) -> Vec<Item> {
    let (Some(own), Some(peer)) = (&h.v6, &p.v6) else {
        return Vec::new();
    };
    if lab.encryption.is_some() {
        return Vec::new();
    }
    let mut items = Vec::new();
    let encap = lab.encap_between(h.index, p.index, Family::Ipv6);
    let route = match (encap, &own.tunnel_dev) {
        (Encap::Plain, _) if h.rack != p.rack => None,
        (Encap::Plain, _) => Some((peer.underlay_ip, h.underlay_if.clone())),
        (Encap::Vxlan(_), Some(dev)) => peer.vtep_ip.map(|ip| (ip, dev.clone())),
        _ => None,
    };
    // As in IPv4: DirectRouting programs no VTEP entries for a peer it routes plain, Calico's
    // CrossSubnet programs every VTEP's.
    let vtep_entries = match encap {
        Encap::Plain if lab.flavor == Flavor::Calico => lab.encap_in(Family::Ipv6),
        _ => encap,
    };
    if let (Encap::Vxlan(_), Some(dev), Some(ip), Some(mac)) =
        (vtep_entries, &own.tunnel_dev, peer.vtep_ip, &peer.vtep_mac)
    {
        items.push(Item::Neighbour {
            ip: ip.into(),
            mac: mac.clone(),
            dev: dev.clone(),
        });
        // A flow-based device (Cilium's) has no FDB: each packet's key comes from its route.
        if !h.flow_based {
            items.push(Item::Fdb {
                mac: mac.clone(),
                dst: peer.underlay_ip.into(),
                dev: dev.clone(),
            });
        }
    }
    if let Some((via, dev)) = route {
        items.push(Item::Route {
            dst: peer.pod_subnet.to_string(),
            via: Some(via.into()),
            dev,
            proto: None,
        });
    }
    items
}

/// A host's state, as far as the expectations need it.
#[derive(Debug, Clone, Default)]
pub struct HostState {
    pub tunnels: Vec<LinkRow>,
    /// Whether `tunnels` holds every VXLAN device (they are read only where expected).
    pub tunnels_read: bool,
    pub neighbours: Vec<NeighRow>,
    /// Whether `neighbours` holds every IPv4 neighbour (it is read only where expected).
    pub ipv4_neighbours_read: bool,
    pub fdb: Vec<FdbEntry>,
    /// Both families' routes, as far as the expectations need each.
    pub routes: Vec<RouteRow<IpAddr>>,
    /// proxy_arp per device; `None` where the device has no such setting (it is gone).
    pub proxy_arp: Vec<(String, Option<bool>)>,
}

impl HostState {
    /// The devices that hold a static (permanent or noarp) IPv4 neighbour, each once; `None`
    /// where the IPv4 neighbours were not read.
    pub(super) fn static_ipv4(&self) -> Option<Vec<String>> {
        if !self.ipv4_neighbours_read {
            return None;
        }
        let mut devices: Vec<String> = Vec::new();
        let is_static = |n: &NeighRow| n.state.iter().any(|s| s == "PERMANENT" || s == "NOARP");
        let ipv4 = |n: &&NeighRow| n.dst.parse::<IpAddr>().is_ok_and(|a| a.is_ipv4());
        for n in self.neighbours.iter().filter(ipv4) {
            if is_static(n) && !devices.contains(&n.dev) {
                devices.push(n.dev.clone());
            }
        }
        Some(devices)
    }

    /// What the flush survey would read again of this host ([`ReadBefore`]).
    pub(super) fn read_before(&self) -> ReadBefore {
        ReadBefore {
            static_neighbours: self.static_ipv4(),
            learnless_tunnels: (self.tunnels_read)
                .then(|| super::learned::learnless_among(&self.tunnels, &self.fdb)),
        }
    }
}

/// Each expectation the host's state does not meet, as a fault that names it.
pub fn compare(expected: &[Expected], states: &[(usize, HostState)]) -> Vec<Fault> {
    expected
        .iter()
        .filter_map(|e| {
            let (_, state) = states.iter().find(|(h, _)| *h == e.host)?;
            Some(Fault {
                host: e.host,
                node: e.node.clone(),
                scope: e.scope.clone(),
                family: e.item.family(),
                reason: missing(&e.node, &e.item, state)?,
            })
        })
        .collect()
}

/// Reads what the labels say each host programs, and names every piece that is missing.
pub fn check(lab: &Lab, fdbs: &[HostFdb]) -> Result<Checked, LearnedError> {
    let expected = expected(lab);
    let states = read(lab, &expected, fdbs)?;
    Ok(Checked {
        faults: compare(&expected, &states),
        read_before: read_before_by_node(lab, &states),
    })
}

/// What was read of each host that the flush survey needs too, by its node name: `states`
/// name hosts by their number, which is not their place in `lab.hosts`.
fn read_before_by_node(lab: &Lab, states: &[(usize, HostState)]) -> HashMap<String, ReadBefore> {
    let node = |index: usize| lab.hosts.iter().find(|h| h.index == index);
    states
        .iter()
        .filter_map(|(host, state)| Some((node(*host)?.node.clone(), state.read_before())))
        .collect()
}

/// What [`check`] found, and what it read that verify needs again.
#[derive(Debug, Default)]
pub struct Checked {
    pub faults: Vec<Fault>,
    /// Per host that was read, by node, what the flush's survey would otherwise read again.
    pub read_before: HashMap<String, ReadBefore>,
}

/// Whether a lab works is the wire's to say; the programmed state explains. Each fault goes
/// first among the reasons of every failing pair it touches. A fault that touches no failing
/// pair (every probe had the right shape, or the pair was not probed) is a warning.
pub fn blame(lab: &Lab, rows: &mut [PairRow], faults: &[Fault]) -> Vec<Warning> {
    let host_of = |pod: &str| lab.pods.iter().find(|p| p.node == pod).map(|p| p.host);
    let mut explained = vec![false; faults.len()];
    for row in rows.iter_mut().filter(|r| !r.verdict.passed()) {
        let (Some(a), Some(b)) = (host_of(&row.from), host_of(&row.to)) else {
            continue;
        };
        let mut first = Vec::new();
        for (i, f) in faults.iter().enumerate() {
            if f.family == row.family && f.touches((&row.from, a), (&row.to, b)) {
                explained[i] = true;
                first.push(Reason::Programmed {
                    node: f.node.clone(),
                    detail: f.reason.clone(),
                });
            }
        }
        row.verdict.reasons.splice(0..0, first);
    }
    faults
        .iter()
        .zip(explained)
        .filter(|(_, explained)| !explained)
        .map(|(f, _)| Warning {
            kind: "programmed",
            node: f.node.clone(),
            message: f.reason.clone(),
        })
        .collect()
}

/// Why `state` does not hold `item`, or `None` if it does.
fn missing(node: &str, item: &Item, state: &HostState) -> Option<String> {
    match item {
        Item::Tunnel {
            dev,
            port,
            vni,
            flow_based,
            ..
        } => tunnel_misfit(node, dev, (*port, *vni, *flow_based), state),
        Item::Neighbour { ip, mac, dev } => {
            let row = state
                .neighbours
                .iter()
                .find(|n| n.dst == ip.to_string() && &n.dev == dev);
            let permanent = |n: &&NeighRow| n.state.iter().any(|s| s == "PERMANENT");
            match row {
                Some(n) if permanent(&n) && same_mac(n.lladdr.as_deref(), mac) => None,
                Some(n) if permanent(&n) => Some(format!(
                    "{node} has a permanent neighbour entry for {ip} on {dev} with lladdr {}, not {mac}",
                    n.lladdr.as_deref().unwrap_or("(none)")
                )),
                _ => Some(format!(
                    "{node} has no permanent neighbour entry for {ip} on {dev} (lladdr {mac})"
                )),
            }
        }
        Item::Fdb { mac, dst, dev } => fdb_misfit(node, mac, *dst, dev, &state.fdb),
        Item::Route {
            dst,
            via,
            dev,
            proto,
        } => route_misfit(node, (dst, *via, dev), *proto, &state.routes),
        Item::ProxyArp { dev } => match state.proxy_arp.iter().find(|(d, _)| d == dev) {
            Some((_, Some(true))) => None,
            Some((_, Some(false))) => Some(format!(
                "{node} has proxy_arp off on {dev}: nothing answers the pod's ARP for its gateway"
            )),
            _ => Some(format!("{node} has no device {dev} (a pod's veth)")),
        },
    }
}

fn same_mac(have: Option<&str>, want: &str) -> bool {
    have.is_some_and(|h| h.eq_ignore_ascii_case(want))
}

fn tunnel_misfit(
    node: &str,
    dev: &str,
    (port, vni, flow_based): (u16, u32, bool),
    state: &HostState,
) -> Option<String> {
    let Some(link) = state.tunnels.iter().find(|l| l.ifname == dev) else {
        return Some(format!("{node} has no VXLAN device {dev}"));
    };
    let data = link.vxlan().cloned().unwrap_or_default();
    let mut wrong = Vec::new();
    if data.port != Some(port) {
        let seen = data.port.map_or("no".to_string(), |p| p.to_string());
        wrong.push(format!(
            "UDP port {seen}, the lab plans {port} (cnilab.vxlan-port)"
        ));
    }
    if flow_based && !data.external {
        wrong.push("is not flow-based (external), the lab's tunnel key rides on routes".into());
    }
    if !flow_based && data.id != Some(vni) {
        let seen = data.id.map_or("none".to_string(), |v| v.to_string());
        wrong.push(format!("VNI {seen}, the lab plans {vni} (cnilab.vni)"));
    }
    (!wrong.is_empty()).then(|| format!("{node}'s {dev} has {}", wrong.join("; ")))
}

fn fdb_misfit(node: &str, mac: &str, dst: IpAddr, dev: &str, fdb: &[FdbEntry]) -> Option<String> {
    let rows: Vec<&FdbEntry> = fdb
        .iter()
        .filter(|e| e.ifname == dev && e.mac.eq_ignore_ascii_case(mac))
        .collect();
    if rows.iter().any(|e| e.dst == Some(dst) && !e.is_learned()) {
        return None;
    }
    let elsewhere = rows.iter().find(|e| !e.is_learned()).and_then(|e| e.dst);
    Some(match elsewhere {
        Some(other) => {
            format!("{node}'s permanent FDB entry for {mac} on {dev} points at {other}, not {dst}")
        }
        None => format!("{node} has no permanent FDB entry for {mac} dst {dst} on {dev}"),
    })
}

fn route_misfit(
    node: &str,
    (dst, via, dev): (&str, Option<IpAddr>, &str),
    proto: Option<u8>,
    routes: &[RouteRow<IpAddr>],
) -> Option<String> {
    // `ip` prints a /32 (a /128) as the bare address.
    let bare = dst
        .strip_suffix("/32")
        .or_else(|| dst.strip_suffix("/128"))
        .unwrap_or(dst);
    let want = match via {
        Some(gw) => format!("{dst} via {gw} dev {dev}"),
        None => format!("{dst} dev {dev}"),
    };
    let row = routes.iter().find(|r| r.dst == dst || r.dst == bare);
    match row {
        Some(r) if r.gateway == via && r.dev.as_deref() == Some(dev) => {
            proto_misfit(node, &want, proto, r.proto.as_deref())
        }
        Some(r) => {
            let have = match (&r.kind, r.gateway, &r.dev) {
                (Some(kind), _, _) if kind != "unicast" => kind.clone(),
                (_, Some(gw), dev) => format!("via {gw} dev {}", dev.as_deref().unwrap_or("?")),
                (_, None, dev) => format!("dev {}", dev.as_deref().unwrap_or("?")),
            };
            Some(format!(
                "{node} routes {} {have}, the lab plans {want}",
                r.dst
            ))
        }
        None => Some(format!("{node} has no route {want}")),
    }
}

/// Why a route that goes the planned way still is not the one the lab programs: the lab states
/// its protocol (felix's own, say) and the route carries another, as a hand-made one would.
fn proto_misfit(node: &str, want: &str, proto: Option<u8>, have: Option<&str>) -> Option<String> {
    let proto = proto?;
    if have == Some(proto.to_string().as_str()) {
        return None;
    }
    let have = have.map_or("no protocol (boot, as `ip route add` gives)".into(), |p| {
        format!("proto {p}")
    });
    Some(format!(
        "{node}'s route {want} has {have}, the lab plans proto {proto}: not the route the lab programs"
    ))
}

/// Each host's state, read in its namespace; hosts the expectations do not name are skipped.
/// `fdbs` is what [`super::learned::read_hosts`] already read.
pub fn read(
    lab: &Lab,
    expected: &[Expected],
    fdbs: &[HostFdb],
) -> Result<Vec<(usize, HostState)>, LearnedError> {
    // A few processes per host, and waiting on them is the cost: several hosts at a time.
    const WORKERS: usize = 8;
    let hosts: Vec<(&LabHost, Vec<&Item>)> = lab
        .hosts
        .iter()
        .map(|h| {
            let mine = expected.iter().filter(|e| e.host == h.index);
            (h, mine.map(|e| &e.item).collect::<Vec<_>>())
        })
        .filter(|(_, items)| !items.is_empty())
        .collect();
    let chunk = hosts.len().div_ceil(WORKERS).max(1);
    let read_one = |(h, items): &(&LabHost, Vec<&Item>)| {
        let mut state = read_host(h, items)?;
        state.fdb = fdbs
            .iter()
            .find(|f| f.node == h.node)
            .map(|f| f.entries.clone())
            .unwrap_or_default();
        Ok((h.index, state))
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = hosts
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(read_one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn read_host(h: &LabHost, items: &[&Item]) -> Result<HostState, LearnedError> {
    let needs = |f: fn(&Item) -> bool| items.iter().any(|i| f(i));
    let failed = |e: crate::sys::tool::ToolError| LearnedError::from_tool(&h.node, READ, e);
    let ns = h.namespace.as_str();
    let mut state = HostState::default();
    if needs(|i| matches!(i, Item::Tunnel { .. })) {
        state.tunnels = tables::links(ns, Some("vxlan")).map_err(failed)?;
        state.tunnels_read = true;
    }
    for family in [Family::Ipv4, Family::Ipv6] {
        if items.iter().any(|i| i.neighbour_in() == Some(family)) {
            let six = family == Family::Ipv6;
            let rows = tables::neighbours_of(ns, six).map_err(failed)?;
            state.neighbours.extend(rows);
            state.ipv4_neighbours_read |= !six;
        }
        if items.iter().any(|i| i.route_in() == Some(family)) {
            let rows = tables::routes_in(ns, family).map_err(failed)?;
            state.routes.extend(rows);
        }
    }
    let devs: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            Item::ProxyArp { dev } => Some(dev.clone()),
            _ => None,
        })
        .collect();
    if !devs.is_empty() {
        state.proxy_arp = read_proxy_arp(h, devs)?;
    }
    Ok(state)
}

const READ: &str = "read what the host programs";

fn read_proxy_arp(
    h: &LabHost,
    devs: Vec<String>,
) -> Result<Vec<(String, Option<bool>)>, LearnedError> {
    let on = tables::proxy_arp(&h.namespace, &devs).map_err(|e| LearnedError::Command {
        node: h.node.clone(),
        what: "read proxy_arp",
        command: "read /proc/sys/net/ipv4/conf/*/proxy_arp".into(),
        why: e.to_string(),
    })?;
    Ok(devs.into_iter().zip(on).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::tests::flavored_lab as lab;
    use crate::plan::{Flavor, LabSpec, Mode};
    use crate::sys::tables::{LinkInfo, VxlanData};

    fn items_of(expected: &[Expected], host: usize) -> Vec<&Item> {
        expected
            .iter()
            .filter(|e| e.host == host)
            .map(|e| &e.item)
            .collect()
    }

    /// The state a host would hold if every expectation were met.
    fn healthy(expected: &[Expected], host: usize) -> HostState {
        let mut s = HostState::default();
        for item in items_of(expected, host) {
            match item.clone() {
                Item::Tunnel { dev, port, vni, .. } => s.tunnels.push(LinkRow {
                    ifname: dev,
                    linkinfo: Some(LinkInfo {
                        info_kind: Some("vxlan".into()),
                        info_data: Some(VxlanData {
                            id: Some(vni),
                            port: Some(port),
                            external: false,
                            ..VxlanData::default()
                        }),
                    }),
                    ..LinkRow::default()
                }),
                Item::Neighbour { ip, mac, dev } => s.neighbours.push(NeighRow {
                    dst: ip.to_string(),
                    dev,
                    lladdr: Some(mac),
                    state: vec!["PERMANENT".into()],
                }),
                Item::Fdb { mac, dst, dev } => s.fdb.push(FdbEntry {
                    mac,
                    ifname: dev,
                    dst: Some(dst),
                    master: None,
                    state: "permanent".into(),
                }),
                Item::Route {
                    dst,
                    via,
                    dev,
                    proto,
                } => s.routes.push(RouteRow {
                    dst: dst.strip_suffix("/32").unwrap_or(&dst).to_string(),
                    gateway: via,
                    dev: Some(dev),
                    kind: None,
                    proto: proto.map(|p| p.to_string()),
                    ..RouteRow::default()
                }),
                Item::ProxyArp { dev } => s.proxy_arp.push((dev, Some(true))),
            }
        }
        s
    }

    #[test]
    fn flannel_programs_a_neighbour_an_fdb_entry_and_a_route_per_peer() {
        let l = lab(Mode::Vxlan, Flavor::Flannel, 3);
        let e = expected(&l);
        let host1 = items_of(&e, 1);
        assert!(host1.contains(&&Item::Neighbour {
            ip: "172.16.1.0".parse().unwrap(),
            mac: "02:cb:00:00:00:02".into(),
            dev: "flannel.1".into(),
        }));
        assert!(host1.contains(&&Item::Fdb {
            mac: "02:cb:00:00:00:03".into(),
            dst: "10.0.3.2".parse().unwrap(),
            dev: "flannel.1".into(),
        }));
        assert!(host1.contains(&&Item::Route {
            dst: "172.16.1.0/24".into(),
            via: Some("172.16.1.0".parse().unwrap()),
            dev: "flannel.1".into(),
            proto: None,
        }));
        // The tunnel, and three items for each of two peers.
        assert_eq!(host1.len(), 1 + 2 * 3);
        let states: Vec<_> = (1..=3).map(|h| (h, healthy(&e, h))).collect();
        assert!(compare(&e, &states).is_empty());
    }

    fn family_lab(mode: Mode, flavor: Flavor, family: crate::family::IpFamily) -> Lab {
        crate::lab::tests::lab_of_spec(&crate::plan::LabSpec {
            flavor,
            ip_family: family,
            ..crate::plan::LabSpec::article(mode, 3, None)
        })
    }

    /// A dual flannel host programs each peer twice, once per VTEP; an IPv6-only one only
    /// through flannel-v6.1. A missing IPv6 route is named with its next hop and device.
    #[test]
    fn flannel_programs_each_peer_in_each_family() {
        use crate::family::IpFamily;
        let l = family_lab(Mode::Vxlan, Flavor::Flannel, IpFamily::Dual);
        let e = expected(&l);
        let host1 = items_of(&e, 1);
        let route6 = Item::Route {
            dst: "fd00:172:16:1::/64".into(),
            via: Some("fd00:172:16:1::".parse().unwrap()),
            dev: "flannel-v6.1".into(),
            proto: None,
        };
        assert!(host1.contains(&&route6), "{host1:#?}");
        assert!(host1.contains(&&Item::Fdb {
            mac: l.hosts[2].v6.as_ref().unwrap().vtep_mac.clone().unwrap(),
            dst: "fd00:10:0:3::2".parse().unwrap(),
            dev: "flannel-v6.1".into(),
        }));
        // Two tunnels, and three items for each of two peers in each family.
        assert_eq!(host1.len(), 2 + 2 * 3 * 2);
        let mut states: Vec<_> = (1..=3).map(|h| (h, healthy(&e, h))).collect();
        assert!(compare(&e, &states).is_empty());
        states[0].1.routes.retain(|r| r.dst != "fd00:172:16:1::/64");
        let faults = compare(&e, &states);
        assert_eq!(faults.len(), 1, "{faults:#?}");
        assert_eq!(
            faults[0].reason,
            "host1 has no route fd00:172:16:1::/64 via fd00:172:16:1:: dev flannel-v6.1"
        );
        assert_eq!(faults[0].scope, Scope::Peer(2));
        let six = family_lab(Mode::Vxlan, Flavor::Flannel, IpFamily::Ipv6);
        let e = expected(&six);
        let host1 = items_of(&e, 1);
        assert_eq!(host1.len(), 1 + 2 * 3, "{host1:#?}");
        assert!(host1.contains(&&route6));
    }

    /// Calico's ipip lab in dual stack: tunl0 is IPIP, so the only VXLAN device read back is
    /// vxlan-v6.calico, with its VNI and port; each peer has an IPIP route in IPv4 and a route,
    /// a neighbour and an FDB entry through the IPv6 VTEP.
    #[test]
    fn a_dual_ipip_host_programs_ipip_in_ipv4_and_its_ipv6_vtep() {
        use crate::family::IpFamily;
        let l = family_lab(Mode::Ipip, Flavor::Calico, IpFamily::Dual);
        let e = expected(&l);
        let host1 = items_of(&e, 1);
        let tunnels: Vec<_> = host1
            .iter()
            .filter(|i| matches!(i, Item::Tunnel { .. }))
            .collect();
        assert_eq!(
            tunnels,
            [&&Item::Tunnel {
                dev: "vxlan-v6.calico".into(),
                port: 4789,
                vni: 4096,
                flow_based: false,
                family: Family::Ipv6,
            }]
        );
        assert!(host1.contains(&&Item::Route {
            dst: "172.16.1.0/24".into(),
            via: Some("10.0.2.2".parse().unwrap()),
            dev: "tunl0".into(),
            proto: Some(80),
        }));
        assert!(host1.contains(&&Item::Route {
            dst: "fd00:172:16:2::/64".into(),
            via: Some("fd00:172:16:2::".parse().unwrap()),
            dev: "vxlan-v6.calico".into(),
            proto: None,
        }));
        assert!(host1.contains(&&Item::Neighbour {
            ip: "fd00:172:16:1::".parse().unwrap(),
            mac: "02:cb:00:00:06:02".into(),
            dev: "vxlan-v6.calico".into(),
        }));
        // The IPv6 VTEP, a route per peer in IPv4, three items per peer in IPv6, and the pod's
        // /32 route and proxy ARP.
        assert_eq!(host1.len(), 1 + 2 + 2 * 3 + 2, "{host1:#?}");
        let states: Vec<_> = (1..=3).map(|h| (h, healthy(&e, h))).collect();
        assert!(compare(&e, &states).is_empty());
    }

    /// A failing pair of one family between two hosts is blamed on what those hosts lack in
    /// its family only: an IPv6 neighbour entry explains no IPv4 failure.
    #[test]
    fn a_fault_is_blamed_on_failing_pairs_of_its_family_only() {
        use crate::family::IpFamily;
        let l = family_lab(Mode::Vxlan, Flavor::Flannel, IpFamily::Dual);
        let e = expected(&l);
        let mut states: Vec<_> = (1..=3).map(|h| (h, healthy(&e, h))).collect();
        states[0]
            .1
            .neighbours
            .retain(|n| n.dst != "fd00:172:16:1::");
        let faults = compare(&e, &states);
        assert_eq!(faults.len(), 1, "{faults:#?}");
        assert_eq!(faults[0].family, Family::Ipv6);
        let failing = |family: Family| PairRow {
            from: "pod1".into(),
            to: "pod2".into(),
            family,
            from_ip: l.pod_ip(0, family),
            to_ip: l.pod_ip(1, family),
            verdict: crate::verify::judge::PairVerdict {
                rtt: None,
                wire: String::new(),
                reasons: vec![Reason::Programmed {
                    node: "pod1".into(),
                    detail: "ping: no reply".into(),
                }],
                loss: crate::verify::judge::Loss { sent: 13, lost: 13 },
                remarks: vec![],
                expected_failure: None,
            },
        };
        let mut rows = vec![failing(Family::Ipv4), failing(Family::Ipv6)];
        let warnings = blame(&l, &mut rows, &faults);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(rows[0].verdict.reasons.len(), 1, "IPv4 is not blamed");
        assert_eq!(rows[1].verdict.reasons.len(), 2);
        assert!(rows[1].verdict.reasons[0]
            .to_string()
            .contains("no permanent neighbour entry for fd00:172:16:1::"));
    }

    /// host-gw on racks in IPv6 routes its rack mate's pod /64 via the mate, and nothing to a
    /// host in another rack, as in IPv4.
    #[test]
    fn racked_host_gw_routes_rack_mates_only_in_ipv6() {
        let spec = crate::plan::LabSpec {
            ip_family: crate::family::IpFamily::Ipv6,
            underlay: Some(crate::underlay::Underlay::Racks(2)),
            ..crate::plan::LabSpec::article(Mode::HostGw, 4, None)
        };
        let l = crate::lab::tests::lab_of_spec(&spec);
        let e = expected(&l);
        let routes: Vec<&Item> = items_of(&e, 1)
            .into_iter()
            .filter(|i| matches!(i, Item::Route { .. }))
            .collect();
        assert_eq!(routes.len(), 1, "{routes:#?}");
        let Item::Route { dst, via, .. } = routes[0] else {
            unreachable!()
        };
        let mate = l
            .hosts
            .iter()
            .find(|h| h.index != 1 && h.rack == l.hosts[0].rack);
        let mate = mate.expect("host1 has a rack mate").v6.as_ref().unwrap();
        assert_eq!(dst, &mate.pod_subnet.to_string());
        assert_eq!(*via, Some(mate.underlay_ip.into()));
    }

    #[test]
    fn each_missing_piece_is_named_with_the_pairs_it_touches() {
        let l = lab(Mode::Vxlan, Flavor::Flannel, 3);
        let e = expected(&l);
        let mut host2 = healthy(&e, 2);
        host2.neighbours.retain(|n| n.dst != "172.16.2.0");
        host2.fdb[0].state = String::new(); // learned, not permanent
        let mac = host2.fdb[0].mac.clone();
        host2.tunnels[0].linkinfo = Some(LinkInfo {
            info_kind: Some("vxlan".into()),
            info_data: Some(VxlanData {
                id: Some(1),
                port: Some(4789),
                external: false,
                ..VxlanData::default()
            }),
        });
        let states = [(1, healthy(&e, 1)), (2, host2), (3, healthy(&e, 3))];
        let faults = compare(&e, &states);
        let reasons: Vec<&str> = faults.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "host2's flannel.1 has UDP port 4789, the lab plans 8472 (cnilab.vxlan-port)",
                &format!("host2 has no permanent FDB entry for {mac} dst 10.0.1.2 on flannel.1"),
                "host2 has no permanent neighbour entry for 172.16.2.0 on flannel.1 (lladdr 02:cb:00:00:00:03)",
            ]
        );
        assert!(faults[0].touches(("pod2", 2), ("pod3", 3)));
        assert!(!faults[0].touches(("pod1", 1), ("pod3", 3)));
        assert!(faults[2].touches(("pod3", 3), ("pod2", 2)));
        assert!(!faults[2].touches(("pod1", 1), ("pod2", 2)));
    }

    #[test]
    fn calico_programs_each_pod_s_veth_route_and_proxy_arp() {
        let l = lab(Mode::Ipip, Flavor::Calico, 2);
        let e = expected(&l);
        let host1 = items_of(&e, 1);
        // felix's IPIP route, with felix's route protocol (cnilab.tunnel-proto).
        assert!(host1.contains(&&Item::Route {
            dst: "172.16.1.0/24".into(),
            via: l.hosts[1].underlay_ip.map(Into::into),
            dev: "tunl0".into(),
            proto: Some(80),
        }));
        let veth = l.pods[0].host_if.clone().unwrap();
        assert!(veth.starts_with("cali"), "{veth}");
        assert!(host1.contains(&&Item::ProxyArp { dev: veth.clone() }));
        let mut host1 = healthy(&e, 1);
        host1.proxy_arp[0].1 = Some(false);
        host1
            .routes
            .retain(|r| r.dev.as_deref() != Some(veth.as_str()));
        let faults = compare(&e, &[(1, host1), (2, healthy(&e, 2))]);
        let reasons: Vec<&str> = faults.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                format!("host1 has no route 172.16.0.2/32 dev {veth}"),
                format!("host1 has proxy_arp off on {veth}: nothing answers the pod's ARP for its gateway"),
            ]
        );
        assert_eq!(faults[0].scope, Scope::Pod("pod1".into()));
    }

    #[test]
    fn route_lines_read_back_with_their_gateway_and_device() {
        let cilium = "172.16.1.0/24  encap ip id 256 src 0.0.0.0 dst 10.0.2.2 ttl 0 tos 0 via 172.16.1.0 dev cilium_vxlan onlink ";
        assert_eq!(
            RouteRow::parse(cilium).unwrap(),
            RouteRow {
                dst: "172.16.1.0/24".into(),
                gateway: Some("172.16.1.0".parse().unwrap()),
                dev: Some("cilium_vxlan".into()),
                kind: None,
                proto: None,
                onlink: true,
            }
        );
        let hole = RouteRow::parse("blackhole 172.16.0.0/24 proto static").unwrap();
        assert_eq!(
            (
                hole.kind.as_deref(),
                hole.dst.as_str(),
                hole.proto.as_deref()
            ),
            (Some("blackhole"), "172.16.0.0/24", Some("static"))
        );
        let felix = RouteRow::parse("172.16.2.0/24 via 192.168.2.2 dev tunl0 proto 80 onlink ");
        assert_eq!(felix.unwrap().proto.as_deref(), Some("80"));
        let pod = RouteRow::parse("172.16.0.2 dev calipod1 scope link").unwrap();
        assert_eq!(
            (pod.dst.as_str(), pod.dev.as_deref(), pod.gateway),
            ("172.16.0.2", Some("calipod1"), None)
        );
    }

    #[test]
    fn a_route_elsewhere_is_named_with_what_it_does() {
        let routes = [RouteRow {
            dst: "10.0.2.0/24".into(),
            gateway: Some("192.168.0.150".parse().unwrap()),
            dev: Some("eth1".into()),
            kind: None,
            proto: None,
            ..RouteRow::default()
        }];
        let via = Some("192.168.0.200".parse().unwrap());
        assert_eq!(
            route_misfit("host1", ("10.0.2.0/24", via, "eth1"), None, &routes).unwrap(),
            "host1 routes 10.0.2.0/24 via 192.168.0.150 dev eth1, the lab plans 10.0.2.0/24 via 192.168.0.200 dev eth1"
        );
        // The article's host-gw lab says its routes through its labels too.
        let e = expected(&lab(Mode::HostGw, Flavor::Article, 2));
        assert_eq!(e.len(), 2);
        // Its VXLAN lab names no VTEPs: nothing beyond what the wire shows is expected.
        assert!(expected(&lab(Mode::Vxlan, Flavor::Article, 2)).is_empty());
    }

    #[test]
    fn a_route_the_right_way_with_another_protocol_is_named_where_the_lab_states_one() {
        let via = Some("192.168.1.3".parse().unwrap());
        let route = |proto: Option<&str>| RouteRow {
            dst: "172.16.1.0/24".into(),
            gateway: via,
            dev: Some("eth1".into()),
            kind: None,
            proto: proto.map(str::to_string),
            ..RouteRow::default()
        };
        let planned = ("172.16.1.0/24", via, "eth1");
        assert_eq!(
            route_misfit("host1", planned, Some(80), &[route(Some("80"))]),
            None
        );
        assert_eq!(
            route_misfit("host1", planned, Some(80), &[route(None)]).unwrap(),
            "host1's route 172.16.1.0/24 via 192.168.1.3 dev eth1 has no protocol (boot, as `ip route add` gives), the lab plans proto 80: not the route the lab programs"
        );
        assert_eq!(
            route_misfit("host1", planned, Some(80), &[route(Some("static"))]).unwrap(),
            "host1's route 172.16.1.0/24 via 192.168.1.3 dev eth1 has proto static, the lab plans proto 80: not the route the lab programs"
        );
        // Where the lab states none, any protocol will do.
        assert_eq!(
            route_misfit("host1", planned, None, &[route(Some("static"))]),
            None
        );
    }

    #[test]
    fn calico_cross_subnet_plans_felix_s_protocol_on_both_kinds_of_route() {
        for (mode, tunnel) in [(Mode::Ipip, Some(80)), (Mode::Vxlan, None)] {
            let spec = LabSpec {
                flavor: Flavor::Calico,
                underlay: Some(crate::underlay::Underlay::Racks(2)),
                cross_subnet: true,
                ..LabSpec::article(mode, 4, None)
            };
            let l = crate::lab::tests::lab_of_spec(&spec);
            let routes: Vec<(String, String, Option<u8>)> = items_of(&expected(&l), 1)
                .into_iter()
                .filter_map(|i| match i {
                    Item::Route {
                        dst, dev, proto, ..
                    } if dst.ends_with("/24") => Some((dst.clone(), dev.clone(), *proto)),
                    _ => None,
                })
                .collect();
            let dev = l.tunnel_dev.clone().unwrap();
            assert_eq!(
                routes,
                [
                    ("172.16.1.0/24".into(), "eth1".into(), Some(80)),
                    ("172.16.2.0/24".into(), dev.clone(), tunnel),
                    ("172.16.3.0/24".into(), dev, tunnel),
                ],
                "{mode}"
            );
        }
    }

    /// The states name hosts by number; the survey looks them up by node name.
    #[test]
    fn static_neighbours_go_to_the_host_that_holds_them() {
        let l = lab(Mode::Vxlan, Flavor::Flannel, 3);
        let state = |dev: &str| HostState {
            neighbours: vec![NeighRow {
                dst: "10.244.9.0".into(),
                dev: dev.into(),
                lladdr: None,
                state: vec!["PERMANENT".into()],
            }],
            ipv4_neighbours_read: true,
            ..Default::default()
        };
        let states: Vec<(usize, HostState)> = l
            .hosts
            .iter()
            .map(|h| (h.index, state(&format!("dev-of-{}", h.node))))
            .collect();
        let by_node = read_before_by_node(&l, &states);
        assert_eq!(by_node.len(), 3);
        for h in &l.hosts {
            let read = &by_node[&h.node];
            assert_eq!(
                read.static_neighbours,
                Some(vec![format!("dev-of-{}", h.node)])
            );
            assert!(
                read.learnless_tunnels.is_none(),
                "tunnels that were not read are handed over"
            );
        }
    }
}
