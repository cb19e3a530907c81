//! Why a node moved a packet on: the route, neighbour, FDB entry or bridge that decided it,
//! and what a node lacked where a walk stops. Pure: it reasons over a [`Snapshot`].

use super::packet::Described;
use super::snapshot::{Link, Neighbour, Route, Snapshot};
use crate::family::Family;
use crate::sys::wireguard::WgPeer;
use crate::wire::{ArpOp, Encap, NdpOp};
use std::net::IpAddr;

const ZERO_MAC: &str = "00:00:00:00:00:00";
const BROADCAST: &str = "ff:ff:ff:ff:ff:ff";

/// Where a step changes the packet's wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Wrap {
    Encap,
    Decap,
}

impl Snapshot {
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    fn kind(&self, name: &str) -> Option<&str> {
        self.link(name).and_then(|l| l.kind.as_deref())
    }

    pub fn is_local(&self, ip: IpAddr) -> bool {
        self.addrs.iter().any(|(_, a, _)| *a == ip)
    }

    /// The main table's longest-prefix match, as the kernel picks it (no policy routing here).
    pub fn route_for(&self, dst: IpAddr) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.dst.contains(&dst))
            .max_by_key(|r| r.dst.prefix_len())
    }

    fn neighbour(&self, ip: IpAddr, dev: &str) -> Option<&Neighbour> {
        self.neighbours.iter().find(|n| n.ip == ip && n.dev == dev)
    }

    /// The tunnel device (vxlan or ipip) of this node that is up, if it has one: of the
    /// walk's family, where the lab tunnels IPv6 in a device of its own. Loading the ipip
    /// module gives every namespace a `tunl0` that stays down: it is not the lab's.
    pub fn tunnel_dev(&self) -> Option<&Link> {
        let is_v6 = |l: &Link| self.tunnel6.as_deref() == Some(l.name.as_str());
        self.links.iter().find(|l| {
            matches!(l.kind.as_deref(), Some("vxlan" | "ipip"))
                && l.flags.iter().any(|f| f == "UP")
                && is_v6(l) == (self.family == Family::Ipv6 && self.tunnel6.is_some())
        })
    }

    /// What turns forwarding on in the walk's family, for a node that has it off.
    fn forwarding_off(&self) -> String {
        let sysctl = match self.family {
            Family::Ipv4 => "net.ipv4.ip_forward",
            Family::Ipv6 => "net.ipv6.conf.all.forwarding",
        };
        format!("forwarding is off ({sysctl}=0)")
    }
}

/// The address the node routes this frame by: the outer one of a tunnelled frame.
pub fn routed_dst(d: &Described) -> Option<IpAddr> {
    match d.tunnel() {
        Some(t) => Some(t.outer_dst),
        None => d.inner().map(|(_, dst)| dst),
    }
}

fn neighbour_text(s: &Snapshot, ip: IpAddr, dev: &str) -> String {
    match s.neighbour(ip, dev) {
        Some(n) => format!(
            "neighbour {} lladdr {} {}",
            n.ip,
            n.mac.as_deref().unwrap_or("(none)"),
            n.state
        ),
        None => format!("no neighbour entry for {ip} on {dev}"),
    }
}

/// The route and next-hop neighbour for `dst`, as one phrase.
fn route_text(s: &Snapshot, dst: IpAddr) -> String {
    match s.route_for(dst) {
        Some(r) => {
            let hop = r.gateway.unwrap_or(dst);
            let dev = r.dev.as_deref().unwrap_or("?");
            format!("route {}; {}", r.text, neighbour_text(s, hop, dev))
        }
        None => format!("no route to {dst}"),
    }
}

/// The FDB entry a VXLAN device used for `mac`, or its all-zero (head-end) entries.
pub fn fdb_text(s: &Snapshot, dev: &str, mac: Option<&str>) -> String {
    let on_dev = |m: &str| {
        s.fdb
            .iter()
            .filter(|e| e.dev == dev && e.mac == m && e.dst.is_some())
            .collect::<Vec<_>>()
    };
    if let Some(mac) = mac {
        if let Some(e) = on_dev(mac).first() {
            let dst = e.dst.map_or(String::new(), |d| d.to_string());
            return format!("FDB {} dst {dst} (remote VTEP)", e.mac);
        }
    }
    let flood: Vec<String> = on_dev(ZERO_MAC)
        .iter()
        .filter_map(|e| e.dst)
        .map(|d| d.to_string())
        .collect();
    if flood.is_empty() {
        format!(
            "no FDB entry on {dev} for {}",
            mac.unwrap_or("the destination")
        )
    } else {
        format!(
            "FDB {ZERO_MAC} dst {} (head-end replication)",
            flood.join(",")
        )
    }
}

/// What the node did with a frame it sent out of `iface`.
pub fn outgoing(s: &Snapshot, iface: &str, d: &Described) -> (String, Option<Wrap>) {
    if let Some(br) = s.link(iface).and_then(|l| l.master.as_deref()) {
        return (bridge_port_out(br, iface, d), None);
    }
    if d.resolves() && d.tunnel().is_none() {
        if s.kind(iface) == Some("vxlan") {
            return (fdb_text(s, iface, Some(&d.dst_mac)), Some(Wrap::Encap));
        }
        return (resolve_text(d), None);
    }
    let Some(dst) = routed_dst(d) else {
        return (String::new(), None);
    };
    if let Some(sealed) = sealed_by(s, iface, dst) {
        return (sealed, Some(Wrap::Encap));
    }
    match s.kind(iface) {
        Some(kind @ ("vxlan" | "ipip")) => (into_tunnel(s, kind, iface, dst), Some(Wrap::Encap)),
        _ if d.tunnel().is_some() && s.tunnel_dev().is_some() => {
            let by = s.tunnel_dev().map_or(String::new(), |l| l.name.clone());
            let text = format!("encapsulated by {by}; outer {}", route_text(s, dst));
            (text, None)
        }
        Some("bridge") => {
            let text = format!("{}; bridge {iface} forwards it", route_text(s, dst));
            (text, None)
        }
        _ => (route_text(s, dst), None),
    }
}

/// A multicast Ethernet destination other than broadcast: NDP's solicited-node groups.
fn multicast(mac: &str) -> bool {
    let first = mac.get(..2).and_then(|o| u8::from_str_radix(o, 16).ok());
    mac != BROADCAST && first.is_some_and(|o| o & 1 == 1)
}

fn bridge_port_out(br: &str, iface: &str, d: &Described) -> String {
    if d.dst_mac == BROADCAST {
        format!("bridge {br} floods the broadcast out of port {iface}")
    } else if multicast(&d.dst_mac) {
        format!(
            "bridge {br} floods the multicast to {} out of port {iface}",
            d.dst_mac
        )
    } else {
        format!(
            "bridge {br}: FDB for {} sends it out of port {iface}",
            d.dst_mac
        )
    }
}

/// Why a packet went into a tunnel device, and to which remote end: for VXLAN the FDB entry of
/// the next hop's MAC, for IPIP the route's gateway, which becomes the outer destination.
fn into_tunnel(s: &Snapshot, kind: &str, iface: &str, dst: IpAddr) -> String {
    if kind == "vxlan" {
        let hop = s.route_for(dst).and_then(|r| r.gateway).unwrap_or(dst);
        let mac = s.neighbour(hop, iface).and_then(|n| n.mac.as_deref());
        return format!("{}; {}", route_text(s, dst), fdb_text(s, iface, mac));
    }
    match s.route_for(dst) {
        Some(r) => format!(
            "route {}: outer destination {}",
            r.text,
            r.gateway.unwrap_or(dst)
        ),
        None => format!("no route to {dst}"),
    }
}

/// An ARP or NDP packet a node sends: it asks for a next hop, or answers for itself.
fn resolve_text(d: &Described) -> String {
    if d.arp().is_some_and(|a| a.op == ArpOp::Request) {
        "no neighbour entry for the next hop yet: ARP asks".into()
    } else if d.ndp().is_some_and(|n| n.op == NdpOp::Solicit) {
        "no neighbour entry for the next hop yet: NDP solicits".into()
    } else if d.ndp().is_some() {
        "NDP advertises an address of its own".into()
    } else {
        "ARP answers for an address of its own".into()
    }
}

fn bridge_port_in(s: &Snapshot, br: &str, d: &Described) -> String {
    let mac = &d.dst_mac;
    if s.link(br).and_then(|l| l.address.as_deref()) == Some(mac.as_str()) {
        format!("bridge port of {br}: dst {mac} is {br}'s own address, up to IP")
    } else if mac == BROADCAST {
        format!("bridge port of {br}: a broadcast, flooded by {br}")
    } else if multicast(mac) {
        format!("bridge port of {br}: a multicast to {mac}, flooded by {br}")
    } else {
        format!("bridge port of {br}: switched by {br}'s FDB for {mac}")
    }
}

/// What the node did with a frame that came in on `iface`.
pub fn incoming(s: &Snapshot, iface: &str, d: &Described) -> (String, Option<Wrap>) {
    if let Some(br) = s.link(iface).and_then(|l| l.master.as_deref()) {
        return (bridge_port_in(s, br, d), None);
    }
    let Some(dst) = routed_dst(d) else {
        return (String::new(), None);
    };
    if d.tunnel().is_some() && s.is_local(dst) {
        let dev = s
            .tunnel_dev()
            .map_or("the tunnel device".to_string(), |l| l.name.clone());
        let what = match d.tunnel().map(|t| t.encap) {
            Some(Encap::Vxlan(v)) => format!("UDP {} vni {}", v.port, v.vni),
            _ => "IP protocol 4".to_string(),
        };
        return (
            format!("outer {dst} is local: {dev} decapsulates ({what})"),
            Some(Wrap::Decap),
        );
    }
    if d.resolves() && d.tunnel().is_none() {
        return (String::new(), None);
    }
    if let Some(opened) = opened_by(s, iface, d) {
        return (
            format!("{opened}; {}", incoming_routed(s, dst)),
            Some(Wrap::Decap),
        );
    }
    if let Some((said, wrap)) = super::ipsec::step(s, d) {
        let routed = incoming_routed(s, dst);
        return match wrap {
            Wrap::Decap => (format!("{said}; {routed}"), Some(wrap)),
            Wrap::Encap => (format!("{routed}; {said}"), Some(wrap)),
        };
    }
    (incoming_routed(s, dst), None)
}

/// Where a packet that came in goes: delivered, dropped for want of forwarding, or routed.
fn incoming_routed(s: &Snapshot, dst: IpAddr) -> String {
    if s.is_local(dst) {
        return format!("{dst} is local: delivered");
    }
    if !s.forwarding {
        return s.forwarding_off();
    }
    route_text(s, dst)
}

/// The WireGuard peer of `s`'s device `iface` whose allowed-ips hold `ip`.
fn wg_peer<'a>(s: &'a Snapshot, iface: &str, ip: IpAddr) -> Option<&'a (Option<String>, WgPeer)> {
    let wg = s.wireguard.as_ref().filter(|w| w.dev == iface)?;
    wg.peers.iter().find(|(_, p)| {
        let v4 = crate::wire::v4(ip);
        p.allowed_ips
            .iter()
            .any(|n| v4.is_some_and(|ip| n.contains(&ip)))
    })
}

fn peer_text(name: &Option<String>, p: &WgPeer) -> String {
    let who = name
        .clone()
        .unwrap_or_else(|| format!("peer {}", p.public_key));
    let at = p
        .endpoint
        .map_or("no endpoint".to_string(), |e| e.to_string());
    format!("{who} ({at})")
}

/// Sent into a WireGuard device: the peer whose allowed-ips hold the destination seals it.
fn sealed_by(s: &Snapshot, iface: &str, dst: IpAddr) -> Option<String> {
    let dev = &s.wireguard.as_ref().filter(|w| w.dev == iface)?.dev;
    // A WireGuard device has no neighbours: the route alone took the packet there.
    let route = s.route_for(dst).map_or(format!("no route to {dst}"), |r| {
        format!("route {}", r.text)
    });
    Some(match wg_peer(s, iface, dst) {
        Some((name, p)) => format!("{route}; encrypted by {dev} for {}", peer_text(name, p)),
        None => format!("{route}; {dev} has no peer whose allowed-ips hold {dst}: dropped"),
    })
}

/// Came out of a WireGuard device: decrypted, from the peer whose allowed-ips hold the source.
fn opened_by(s: &Snapshot, iface: &str, d: &Described) -> Option<String> {
    let dev = &s.wireguard.as_ref().filter(|w| w.dev == iface)?.dev;
    let (src, _) = d.inner()?;
    Some(match wg_peer(s, iface, src) {
        Some((name, p)) => format!("decrypted by {dev} from {}", peer_text(name, p)),
        None => format!("decrypted by {dev}"),
    })
}

/// What a node lacked, if anything, to send on a packet for `dst` it received.
pub fn lack(s: &Snapshot, dst: IpAddr) -> Option<String> {
    if s.is_local(dst) {
        return None;
    }
    if !s.forwarding {
        return Some(s.forwarding_off());
    }
    let Some(r) = s.route_for(dst) else {
        return Some(format!("no route to {dst}"));
    };
    let hop = r.gateway.unwrap_or(dst);
    let dev = r.dev.clone().unwrap_or_default();
    let n = s.neighbour(hop, &dev);
    let resolved = n.is_some_and(|n| {
        n.mac.is_some() && !n.state.contains("FAILED") && !n.state.contains("INCOMPLETE")
    });
    if !resolved {
        return Some(format!(
            "no neighbour for {hop} on {dev} (route {})",
            r.text
        ));
    }
    if s.kind(&dev) == Some("vxlan") {
        let text = fdb_text(s, &dev, n.and_then(|n| n.mac.as_deref()));
        if text.starts_with("no FDB") {
            return Some(text);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::tables::RouteRow;
    use crate::trace::snapshot::{route, Fdb};
    use std::net::IpAddr;

    fn host1() -> Snapshot {
        let routes = [
            "default via 10.0.1.1 dev eth1",
            "10.0.1.0/24 dev eth1 proto kernel scope link src 10.0.1.2",
            "172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink",
        ];
        Snapshot {
            routes: routes
                .iter()
                .map(|r| route(&RouteRow::parse(r).unwrap()).unwrap())
                .collect(),
            addrs: vec![("eth1".into(), "10.0.1.2".parse().unwrap(), 24)],
            links: vec![Link {
                name: "flannel.1".into(),
                master: None,
                address: None,
                kind: Some("vxlan".into()),
                flags: vec!["UP".into()],
            }],
            neighbours: vec![Neighbour {
                ip: "172.16.1.0".parse().unwrap(),
                dev: "flannel.1".into(),
                mac: Some("1a:00:00:00:00:02".into()),
                state: "PERMANENT".into(),
            }],
            fdb: vec![Fdb {
                mac: ZERO_MAC.into(),
                dev: "flannel.1".into(),
                dst: Some("10.0.2.2".parse().unwrap()),
                master: None,
                permanent: true,
            }],
            forwarding: true,
            ..Snapshot::default()
        }
    }

    #[test]
    fn the_tunnel_device_is_the_one_that_is_up() {
        let mut s = host1();
        let link = |name: &str, flags: &[&str]| Link {
            name: name.into(),
            master: None,
            address: None,
            kind: Some("ipip".into()),
            flags: flags.iter().map(|f| f.to_string()).collect(),
        };
        s.links = vec![link("tunl0", &["NOARP"]), link("tunl1", &["NOARP", "UP"])];
        assert_eq!(s.tunnel_dev().unwrap().name, "tunl1");
        s.links.pop();
        assert!(
            s.tunnel_dev().is_none(),
            "a router with only the fallback tunl0 has no tunnel"
        );
    }

    #[test]
    fn the_longest_prefix_wins_and_default_catches_the_rest() {
        let s = host1();
        assert_eq!(
            s.route_for("172.16.1.2".parse().unwrap()).unwrap().text,
            "172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink"
        );
        assert_eq!(
            s.route_for("172.16.2.2".parse().unwrap()).unwrap().text,
            "default via 10.0.1.1 dev eth1"
        );
        assert_eq!(
            s.route_for("10.0.1.9".parse().unwrap()).unwrap().text,
            "10.0.1.0/24 dev eth1"
        );
    }

    #[test]
    fn what_a_node_lacks_is_named() {
        let mut s = host1();
        assert_eq!(lack(&s, "172.16.1.2".parse().unwrap()), None);
        assert_eq!(lack(&s, "10.0.1.2".parse().unwrap()), None, "local");
        s.fdb.clear();
        assert_eq!(
            lack(&s, "172.16.1.2".parse().unwrap()).unwrap(),
            "no FDB entry on flannel.1 for 1a:00:00:00:00:02"
        );
        s.neighbours.clear();
        assert!(lack(&s, "172.16.1.2".parse().unwrap())
            .unwrap()
            .starts_with("no neighbour for 172.16.1.0 on flannel.1"));
        s.routes.retain(|r| r.dst.prefix_len() > 0);
        assert_eq!(
            lack(&s, "172.16.2.2".parse().unwrap()).unwrap(),
            "no route to 172.16.2.2"
        );
        s.forwarding = false;
        assert!(lack(&s, "172.16.2.2".parse().unwrap())
            .unwrap()
            .starts_with("forwarding is off"));
    }

    #[test]
    fn the_fdb_entry_for_the_mac_beats_head_end_replication() {
        let mut s = host1();
        assert_eq!(
            fdb_text(&s, "flannel.1", Some("1a:00:00:00:00:02")),
            "FDB 00:00:00:00:00:00 dst 10.0.2.2 (head-end replication)"
        );
        s.fdb.push(Fdb {
            mac: "1a:00:00:00:00:02".into(),
            dev: "flannel.1".into(),
            dst: Some("10.0.2.2".parse().unwrap()),
            master: None,
            permanent: false,
        });
        assert_eq!(
            fdb_text(&s, "flannel.1", Some("1a:00:00:00:00:02")),
            "FDB 1a:00:00:00:00:02 dst 10.0.2.2 (remote VTEP)"
        );
    }

    fn with_wireguard() -> Snapshot {
        let mut s = host1();
        s.routes.push(
            route(&RouteRow::parse("10.1.0.0/16 dev flannel-wg scope link").unwrap()).unwrap(),
        );
        let peer = WgPeer {
            public_key: "a2V5".into(),
            endpoint: Some("192.168.0.100:51820".parse().unwrap()),
            allowed_ips: vec!["10.1.2.0/24".parse().unwrap()],
            ..WgPeer::default()
        };
        s.wireguard = Some(crate::trace::snapshot::Wireguard {
            dev: "flannel-wg".into(),
            peers: vec![(Some("host2".into()), peer)],
        });
        s
    }

    fn packet(src: &str, dst: &str) -> Described {
        let frame = crate::wire::dissect::build::ipv4(
            src.parse().unwrap(),
            dst.parse().unwrap(),
            1,
            &[8, 0, 0, 0, 0, 0, 0, 0],
        );
        Described::of(&frame, false, None).unwrap()
    }

    #[test]
    fn a_wireguard_device_seals_for_the_peer_whose_allowed_ips_hold_the_destination() {
        let s = with_wireguard();
        let (text, wrap) = outgoing(&s, "flannel-wg", &packet("10.1.1.2", "10.1.2.2"));
        assert_eq!(wrap, Some(Wrap::Encap));
        assert_eq!(text, "route 10.1.0.0/16 dev flannel-wg; encrypted by flannel-wg for host2 (192.168.0.100:51820)");
        let (text, _) = outgoing(&s, "flannel-wg", &packet("10.1.1.2", "10.1.3.2"));
        assert!(
            text.ends_with("flannel-wg has no peer whose allowed-ips hold 10.1.3.2: dropped"),
            "{text}"
        );
        let (text, wrap) = incoming(&s, "flannel-wg", &packet("10.1.2.2", "10.1.1.2"));
        assert_eq!(wrap, Some(Wrap::Decap));
        assert!(
            text.starts_with("decrypted by flannel-wg from host2 (192.168.0.100:51820); "),
            "{text}"
        );
    }

    /// host1 of a dual-stack vxlan lab, as an IPv6 walk reads it: flannel.1 for IPv4 and
    /// flannel-v6.1 for IPv6, each with its route, permanent neighbour and FDB entry.
    fn host1_v6() -> Snapshot {
        let mut s = host1();
        let routes6 = [
            "default via fd00:10:0:1::1 dev eth1 metric 1024 pref medium",
            "fd00:172:16:1::/64 via fd00:172:16:1:: dev flannel-v6.1 onlink metric 1024",
        ];
        let parsed = routes6.iter().map(|r| RouteRow::parse6(r).unwrap());
        s.routes
            .extend(parsed.map(|r| crate::trace::snapshot::route6(&r).unwrap()));
        s.addrs
            .push(("eth1".into(), "fd00:10:0:1::2".parse().unwrap(), 64));
        let mut v6 = s.links[0].clone();
        v6.name = "flannel-v6.1".into();
        s.links.push(v6);
        s.neighbours.push(Neighbour {
            ip: "fd00:172:16:1::".parse().unwrap(),
            dev: "flannel-v6.1".into(),
            mac: Some("1a:00:00:00:06:02".into()),
            state: "PERMANENT".into(),
        });
        s.fdb.push(Fdb {
            mac: "1a:00:00:00:06:02".into(),
            dev: "flannel-v6.1".into(),
            dst: Some("fd00:10:0:2::2".parse().unwrap()),
            master: None,
            permanent: true,
        });
        s.family = Family::Ipv6;
        s.tunnel6 = Some("flannel-v6.1".into());
        s
    }

    fn packet6(src: &str, dst: &str) -> Described {
        use crate::wire::ipv6::build::{echo6, ip6, packet6};
        let frame = packet6(ip6(src), ip6(dst), 58, &echo6(false, 1, 1, None));
        Described::of(&frame, false, None).unwrap()
    }

    #[test]
    fn an_ipv6_packet_goes_into_the_ipv6_vtep_by_its_route_neighbour_and_fdb_entry() {
        let s = host1_v6();
        let (text, wrap) = outgoing(
            &s,
            "flannel-v6.1",
            &packet6("fd00:172:16::2", "fd00:172:16:1::2"),
        );
        assert_eq!(wrap, Some(Wrap::Encap));
        assert_eq!(
            text,
            "route fd00:172:16:1::/64 via fd00:172:16:1:: dev flannel-v6.1 onlink; \
             neighbour fd00:172:16:1:: lladdr 1a:00:00:00:06:02 PERMANENT; \
             FDB 1a:00:00:00:06:02 dst fd00:10:0:2::2 (remote VTEP)"
        );
        assert_eq!(s.tunnel_dev().unwrap().name, "flannel-v6.1");
        let mut v4 = s.clone();
        v4.family = Family::Ipv4;
        assert_eq!(
            v4.tunnel_dev().unwrap().name,
            "flannel.1",
            "IPv4 keeps its own VTEP"
        );
        assert_eq!(lack(&s, "fd00:172:16:1::2".parse().unwrap()), None);
        assert_eq!(lack(&s, "fd00:10:0:1::2".parse().unwrap()), None, "local");
    }

    #[test]
    fn what_an_ipv6_node_lacks_is_named_in_ipv6_terms() {
        let mut s = host1_v6();
        s.routes
            .retain(|r| !r.text.starts_with("fd00:172:16:1::/64"));
        let dst: IpAddr = "fd00:172:16:1::2".parse().unwrap();
        assert_eq!(
            s.route_for(dst).unwrap().text,
            "default via fd00:10:0:1::1 dev eth1",
            "the IPv6 default, never an IPv4 route"
        );
        s.routes.retain(|r| r.dst.prefix_len() > 0);
        assert_eq!(lack(&s, dst).unwrap(), "no route to fd00:172:16:1::2");
        s.forwarding = false;
        assert_eq!(
            lack(&s, dst).unwrap(),
            "forwarding is off (net.ipv6.conf.all.forwarding=0)"
        );
    }

    #[test]
    fn ndp_reads_as_arp_does_and_its_multicast_is_flooded() {
        use crate::wire::dissect::build::ether;
        use crate::wire::ipv6::build::{ip6, ndp_icmp, packet6};
        let s = host1_v6();
        let ns = packet6(
            ip6("fd00:172:16::2"),
            ip6("ff02::1:ff00:1"),
            58,
            &ndp_icmp(NdpOp::Solicit, "fd00:172:16::1", [2, 0, 0, 0, 0, 2]),
        );
        let mut frame = ether(crate::wire::ipv6::ETHERTYPE_IPV6, &ns);
        frame[..6].copy_from_slice(&[0x33, 0x33, 0xff, 0, 0, 1]);
        let d = Described::of(&frame, true, None).unwrap();
        assert!(d.resolves() && d.arp().is_none());
        assert_eq!(
            outgoing(&s, "eth1", &d).0,
            "no neighbour entry for the next hop yet: NDP solicits"
        );
        assert_eq!(
            bridge_port_out("cni0", "pod1-veth", &d),
            "bridge cni0 floods the multicast to 33:33:ff:00:00:01 out of port pod1-veth"
        );
        assert!(!multicast(BROADCAST) && !multicast("1a:00:00:00:06:02"));
    }
}
