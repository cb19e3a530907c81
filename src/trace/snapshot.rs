//! A node's forwarding state, read through [`crate::sys::tables`]: routes, addresses, links,
//! neighbours, FDB entries and whether it forwards. [`super::decide`] reasons over this only.

use crate::family::Family;
use crate::sys::tables::{self, FdbEntry, LinkRow, NeighRow, RouteRow};
use crate::sys::tool;
use ipnet::IpNet;
use serde::Serialize;
use std::net::{IpAddr, Ipv6Addr};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// The family of the walk it was taken for: its forwarding switch, and its tunnel device.
    pub family: Family,
    pub routes: Vec<Route>,
    pub addrs: Vec<(String, IpAddr, u8)>,
    pub links: Vec<Link>,
    pub neighbours: Vec<Neighbour>,
    pub fdb: Vec<Fdb>,
    pub forwarding: bool,
    /// The node's WireGuard device and its peers, in an encrypted lab's host.
    pub wireguard: Option<Wireguard>,
    /// The node's xfrm states and policies, in an IPsec lab's host.
    pub ipsec: Option<super::ipsec::Ipsec>,
    /// The node's IPv6 VTEP (flannel's `flannel-v6.1`), in a lab that tunnels IPv6 apart.
    pub tunnel6: Option<String>,
}

/// A WireGuard device as read back from the node, each peer with the lab host it stands for.
#[derive(Debug, Clone, Serialize)]
pub struct Wireguard {
    pub dev: String,
    pub peers: Vec<(Option<String>, crate::sys::wireguard::WgPeer)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub dst: IpNet,
    pub gateway: Option<IpAddr>,
    pub dev: Option<String>,
    /// As `ip route` prints it.
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub name: String,
    pub master: Option<String>,
    pub address: Option<String>,
    /// vxlan, bridge, ipip, veth, ...
    pub kind: Option<String>,
    /// UP, LOWER_UP, NOARP, ...
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Neighbour {
    pub ip: IpAddr,
    pub dev: String,
    pub mac: Option<String>,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fdb {
    pub mac: String,
    pub dev: String,
    pub dst: Option<IpAddr>,
    pub master: Option<String>,
    pub permanent: bool,
}

/// A node's state as [`tables`] reads it, for a walk in `family`: its IPv4 tables, and for an
/// IPv6 walk its IPv6 ones too (a tunnel's outer header may be of the other family). A table
/// that cannot be read is empty: trace still walks what it can see, and says where a node
/// lacked what it needed.
pub fn take(ns: &str, family: Family) -> Snapshot {
    let mut snap = Snapshot {
        family,
        routes: tables::routes(ns)
            .unwrap_or_default()
            .iter()
            .filter_map(route)
            .collect(),
        addrs: tables::addrs(ns)
            .unwrap_or_default()
            .into_iter()
            .map(|a| (a.dev, a.ip.into(), a.prefix_len))
            .collect(),
        links: tables::links(ns, None)
            .unwrap_or_default()
            .into_iter()
            .map(link)
            .collect(),
        neighbours: neighbours(ns, false),
        fdb: tables::fdb(ns)
            .unwrap_or_default()
            .into_iter()
            .map(fdb)
            .collect(),
        forwarding: tables::forwards_ipv4(ns).unwrap_or(false),
        ..Snapshot::default()
    };
    if family == Family::Ipv6 {
        add_ipv6(ns, &mut snap);
    }
    snap
}

/// The node's IPv6 routes, addresses and NDP neighbours, and whether it forwards IPv6.
fn add_ipv6(ns: &str, snap: &mut Snapshot) {
    let routes = tables::routes6(ns).unwrap_or_default();
    snap.routes.extend(routes.iter().filter_map(route6));
    let addrs = tables::addrs6(ns).unwrap_or_default().into_iter();
    snap.addrs
        .extend(addrs.map(|a| (a.dev, a.ip.into(), a.prefix_len)));
    snap.neighbours.extend(neighbours(ns, true));
    snap.forwarding = tables::forwards_ipv6(ns).unwrap_or(false);
}

fn neighbours(ns: &str, ipv6: bool) -> Vec<Neighbour> {
    tables::neighbours_of(ns, ipv6)
        .unwrap_or_default()
        .into_iter()
        .filter_map(neighbour)
        .collect()
}

/// Host `host`'s xfrm states and policies, in an IPsec lab; `None` in another lab or where
/// they cannot be read.
pub fn ipsec(lab: &crate::lab::Lab, host: &crate::lab::LabHost) -> Option<super::ipsec::Ipsec> {
    if !lab.ipsec() {
        return None;
    }
    Some(super::ipsec::Ipsec {
        xfrm: crate::sys::xfrm::read(&host.namespace).ok()?,
        hosts: (lab.hosts.iter())
            .map(|h| (h.v4_underlay(), h.node.clone()))
            .collect(),
    })
}

/// Host `host`'s WireGuard device read back, its peers named after the lab's hosts by their
/// public keys; `None` where the lab has none or it cannot be read.
pub fn wireguard(
    lab: &crate::lab::Lab,
    dir: &std::path::Path,
    host: &crate::lab::LabHost,
) -> Option<Wireguard> {
    let (wg, own) = (lab.encryption.as_ref()?, host.wg.as_ref()?);
    let state = crate::sys::wireguard::read(&dir.join(&own.dir), &host.namespace, &wg.dev).ok()?;
    let name = |key: &str| {
        lab.hosts
            .iter()
            .find(|h| h.wg.as_ref().is_some_and(|w| w.public_key == key))
            .map(|h| h.node.clone())
    };
    Some(Wireguard {
        dev: wg.dev.clone(),
        peers: state
            .peers
            .into_iter()
            .map(|p| (name(&p.public_key), p))
            .collect(),
    })
}

/// A route, with its text as `ip route` shows the parts that decide a hop.
pub fn route(r: &RouteRow) -> Option<Route> {
    Some(route_of(r, r.prefix()?.into()))
}

/// An IPv6 route, as [`route`] reads an IPv4 one.
pub fn route6(r: &RouteRow<Ipv6Addr>) -> Option<Route> {
    Some(route_of(r, r.prefix6()?.into()))
}

fn route_of<A: Copy + Into<IpAddr> + std::fmt::Display>(r: &RouteRow<A>, dst: IpNet) -> Route {
    let mut text = r.dst.clone();
    if let Some(g) = r.gateway {
        text += &format!(" via {g}");
    }
    if let Some(d) = &r.dev {
        text += &format!(" dev {d}");
    }
    if r.onlink {
        text += " onlink";
    }
    Route {
        dst,
        gateway: r.gateway.map(Into::into),
        dev: r.dev.clone(),
        text,
    }
}

fn link(l: LinkRow) -> Link {
    Link {
        kind: l.kind().map(str::to_string),
        name: l.ifname,
        master: l.master,
        address: l.address,
        flags: l.flags,
    }
}

fn neighbour(n: NeighRow) -> Option<Neighbour> {
    Some(Neighbour {
        ip: n.dst.parse().ok()?,
        dev: n.dev,
        mac: n.lladdr,
        state: n.state.join(","),
    })
}

fn fdb(e: FdbEntry) -> Fdb {
    Fdb {
        permanent: e.state == "permanent" || e.state == "static",
        mac: e.mac,
        dev: e.ifname,
        dst: e.dst,
        master: e.master,
    }
}

/// Forgets what the node learned: dynamic neighbours, and learned FDB entries (the static
/// head-end entries of a VXLAN device stay, as flannel keeps them). Best effort: an entry
/// that is gone already is what was wanted.
pub fn flush_learned(ns: &str, snap: &Snapshot) {
    let _ = tool::run_in(ns, "ip", &["neigh", "flush", "all"]);
    for e in snap.fdb.iter().filter(|e| !e.permanent) {
        let mut args = vec!["fdb", "del", &e.mac, "dev", &e.dev];
        if e.master.is_some() {
            args.push("master");
        }
        let _ = tool::run_in(ns, "bridge", &args);
    }
}
