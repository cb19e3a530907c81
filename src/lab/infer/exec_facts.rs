//! What one node's exec lines build, read line by line: addresses, tunnel devices, bridges and
//! their ports, routes, MTUs and sysctls.
//!
//! Written by hand: no crate parses iproute2's or brctl's command lines. Only the forms a lab
//! of the three data planes uses are read; any other line is ignored, and inference says what
//! it could not find rather than guess from it.

use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// A tunnel device a node creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tunnel {
    Vxlan {
        vni: u32,
        port: u16,
        mtu: Option<u16>,
        /// The underlay interface it is bound to (`dev`), if given.
        over: Option<String>,
    },
    Ipip {
        /// The underlay interface it is bound to (`dev`), if given.
        over: Option<String>,
    },
}

impl Tunnel {
    /// The underlay device it is bound to (`dev`), if given.
    pub fn over(&self) -> Option<&str> {
        match self {
            Tunnel::Vxlan { over, .. } | Tunnel::Ipip { over } => over.as_deref(),
        }
    }
}

/// Where a route goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `None` for `default`.
    pub dest: Option<Ipv4Net>,
    pub via: Option<Ipv4Addr>,
    pub dev: Option<String>,
}

impl Route {
    pub fn covers(&self, net: &Ipv4Net) -> bool {
        self.dest.map_or(true, |d| d.contains(net))
    }

    fn prefix_len(&self) -> u8 {
        self.dest.map_or(0, |d| d.prefix_len())
    }
}

/// Everything one node's exec lines set up, by device.
#[derive(Debug, Clone, Default)]
pub struct NodeFacts {
    /// Addresses with their prefix, per device, in the order added.
    pub addrs: Vec<(String, ipnet::Ipv4Net)>,
    pub tunnels: BTreeMap<String, Tunnel>,
    pub bridges: Vec<String>,
    /// Bridge port → bridge.
    pub ports: BTreeMap<String, String>,
    pub routes: Vec<Route>,
    pub mtus: BTreeMap<String, u16>,
    /// `sysctl -w key=value`, with the exec line's number (from 1).
    pub sysctls: Vec<(usize, String, String)>,
    /// Every device an exec line makes (`ip link add`, `ip tunnel add`, `brctl addbr`), or
    /// the running node has.
    pub devices: BTreeSet<String>,
    /// The device each line that configures one names (an address, a route, `ip link set`,
    /// `brctl addif`), with the line's number: a device nothing makes is a broken line.
    pub named: Vec<(usize, String)>,
    /// Device → the MAC a line gives it (`ip link add … address MAC`, `ip link set … address`).
    pub macs: BTreeMap<String, String>,
    /// MACs this node's lines program into a VXLAN FDB towards a peer (`bridge fdb add|append
    /// MAC … dst IP`), lowercase; not the all-zeros flood entry.
    pub fdb_macs: BTreeSet<String>,
}

impl NodeFacts {
    /// Reads every line; a line that does not split is skipped (preflight names it).
    pub fn of(exec: &[String]) -> NodeFacts {
        let mut facts = NodeFacts::default();
        for (i, line) in exec.iter().enumerate() {
            if let Some(argv) = shlex::split(line) {
                facts.read(i + 1, &argv);
            }
        }
        facts.fallback_tunnel();
        facts
    }

    /// `tunl0` is the IPIP device the kernel makes itself when its ipip module loads; Calico
    /// uses it without an `add`, so a line that uses it is what makes it.
    fn fallback_tunnel(&mut self) {
        const TUNL0: &str = "tunl0";
        let used = self.named.iter().any(|(_, dev)| dev == TUNL0);
        if used && !self.tunnels.contains_key(TUNL0) {
            self.devices.insert(TUNL0.to_string());
            self.tunnels
                .insert(TUNL0.to_string(), Tunnel::Ipip { over: None });
        }
    }

    /// The addresses on `dev`.
    pub fn addrs_on<'a>(&'a self, dev: &'a str) -> impl Iterator<Item = Ipv4Net> + 'a {
        self.addrs
            .iter()
            .filter(move |(d, _)| d == dev)
            .map(|(_, a)| *a)
    }

    /// The most specific route that covers `net`.
    pub fn route_to(&self, net: &Ipv4Net) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.covers(net))
            .max_by_key(|r| r.prefix_len())
    }

    fn read(&mut self, line: usize, argv: &[String]) {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        if let Some(dev) = named_device(&words) {
            self.named.push((line, dev.to_string()));
        }
        match words.as_slice() {
            // `sysctl -w k=v`, `-qw`, several settings, or none of the flags: procps sets
            // every `k=v` it is given.
            ["sysctl", args @ ..] => {
                for setting in args.iter().filter(|a| !a.starts_with('-')) {
                    self.sysctl(line, setting);
                }
            }
            ["brctl", "addbr", bridge] => {
                self.devices.insert(bridge.to_string());
                self.bridges.push(bridge.to_string());
            }
            ["brctl", "addif", bridge, port] => {
                self.ports.insert(port.to_string(), bridge.to_string());
            }
            ["ip", rest @ ..] => self.ip(without_options(rest)),
            ["bridge", "fdb", verb, mac, args @ ..] if adds(verb) => self.fdb(mac, args),
            _ => {}
        }
    }

    fn sysctl(&mut self, line: usize, setting: &str) {
        if let Some((key, value)) = setting.split_once('=') {
            self.sysctls
                .push((line, key.trim().to_string(), value.trim().to_string()));
        }
    }

    fn ip(&mut self, words: &[&str]) {
        let Some((object, rest)) = words.split_first() else {
            return;
        };
        match (object_kind(object), rest.split_first()) {
            (Some(Object::Addr), Some((verb, args))) if adds(verb) => self.addr(args),
            (Some(Object::Link), Some((verb, args))) if adds_device(verb) => self.link_add(args),
            (Some(Object::Link), Some((&"set", args))) => self.link_set(args),
            (Some(Object::Tunnel), Some((verb, args))) if adds_device(verb) => {
                self.tunnel_add(args)
            }
            (Some(Object::Route), Some((verb, args))) if adds(verb) => self.route(args),
            _ => {}
        }
    }

    fn addr(&mut self, args: &[&str]) {
        let (Some(net), Some(dev)) = (address_word(args), value_of(args, "dev")) else {
            return;
        };
        self.addrs.push((dev.to_string(), net));
    }

    /// `ip link add [name|dev] NAME [LINK OPTIONS] type KIND [KIND OPTIONS]`: before `type`,
    /// `dev` names the new device; after it, a tunnel's `dev` is the device it is bound to.
    fn link_add(&mut self, args: &[&str]) {
        let at = args.iter().position(|w| *w == "type").unwrap_or(args.len());
        let (link, kind) = args.split_at(at);
        // `link DEV` names the parent of a VLAN or macvlan, not the new device.
        let bare = match link {
            ["link", _, rest @ ..] => rest.first(),
            _ => link.first(),
        };
        let name = value_of(link, "name")
            .or(value_of(link, "dev"))
            .or(bare.copied());
        let Some(name) = name.map(str::to_string) else {
            return;
        };
        self.devices.insert(name.clone());
        if let Some(mac) = value_of(link, "address") {
            self.macs.insert(name.clone(), mac.to_ascii_lowercase());
        }
        if let Some(mtu) = number(link, "mtu") {
            self.mtus.insert(name.clone(), mtu);
        }
        let over = value_of(kind, "dev").map(str::to_string);
        match kind.get(1).copied() {
            Some("bridge") => self.bridges.push(name),
            Some("ipip") => {
                self.tunnels.insert(name, Tunnel::Ipip { over });
            }
            Some("vxlan") => {
                let vxlan = Tunnel::Vxlan {
                    vni: number(kind, "id").or(number(kind, "vni")).unwrap_or(0),
                    // The kernel's own default when no dstport is given.
                    port: number(kind, "dstport").unwrap_or(8472),
                    mtu: number(link, "mtu"),
                    over,
                };
                self.tunnels.insert(name, vxlan);
            }
            _ => {}
        }
    }

    /// `bridge fdb append [to] MAC dev DEV dst IP`: a static entry for one peer's VTEP.
    fn fdb(&mut self, mac: &str, args: &[&str]) {
        let mac = match mac {
            "to" => args.first().copied().unwrap_or_default(),
            mac => mac,
        };
        if value_of(args, "dst").is_some() && mac.contains(':') && mac != "00:00:00:00:00:00" {
            self.fdb_macs.insert(mac.to_ascii_lowercase());
        }
    }

    fn link_set(&mut self, args: &[&str]) {
        let dev = value_of(args, "dev").or(args.first().copied());
        let Some(dev) = dev else { return };
        if let Some(mac) = value_of(args, "address") {
            self.macs.insert(dev.to_string(), mac.to_ascii_lowercase());
        }
        if let Some(bridge) = value_of(args, "master") {
            self.ports.insert(dev.to_string(), bridge.to_string());
        }
        if let Some(mtu) = number(args, "mtu") {
            self.mtus.insert(dev.to_string(), mtu);
        }
    }

    fn tunnel_add(&mut self, args: &[&str]) {
        let name = value_of(args, "name").or(args.first().copied());
        if let Some(name) = name {
            self.devices.insert(name.to_string());
        }
        if let (Some(name), Some("ipip")) = (name, value_of(args, "mode")) {
            let over = value_of(args, "dev").map(str::to_string);
            self.tunnels.insert(name.to_string(), Tunnel::Ipip { over });
        }
    }

    fn route(&mut self, args: &[&str]) {
        // `to` and a route type (`unicast`) may come before the destination.
        let args = match args {
            ["unicast", "to", rest @ ..] | ["to" | "unicast", rest @ ..] => rest,
            _ => args,
        };
        let Some(dest) = args.first() else { return };
        let dest = match *dest {
            "default" | "0.0.0.0/0" => None,
            d => match prefix(d) {
                Some(net) => Some(net),
                None => return,
            },
        };
        self.routes.push(Route {
            dest,
            via: value_of(args, "via").and_then(|v| v.parse().ok()),
            dev: value_of(args, "dev").map(str::to_string),
        });
    }
}

/// The existing device a line configures, where it is one that does.
fn named_device<'a>(words: &[&'a str]) -> Option<&'a str> {
    match words {
        ["brctl", "addif", _, port] => Some(port),
        ["ip", rest @ ..] => match without_options(rest) {
            [object, verb, args @ ..] => named_by_ip(object, verb, args),
            _ => None,
        },
        _ => None,
    }
}

fn named_by_ip<'a>(object: &str, verb: &str, args: &[&'a str]) -> Option<&'a str> {
    match object_kind(object)? {
        Object::Addr | Object::Route if adds(verb) => value_of(args, "dev"),
        Object::Link if verb == "set" => value_of(args, "dev").or(args.first().copied()),
        _ => None,
    }
}

enum Object {
    Addr,
    Link,
    Tunnel,
    Route,
}

/// iproute2 takes any prefix of an object's name, and the first object in its own table order
/// that the word begins wins (`ro` is route, `ru` rule, `t` tunnel, `l` link).
fn object_kind(word: &str) -> Option<Object> {
    const ORDER: [(&str, Option<Object>); 14] = [
        ("address", Some(Object::Addr)),
        ("addrlabel", None),
        ("maddress", None),
        ("route", Some(Object::Route)),
        ("rule", None),
        ("neighbor", None),
        ("neighbour", None),
        ("ntable", None),
        ("link", Some(Object::Link)),
        ("l2tp", None),
        ("fou", None),
        ("ila", None),
        ("macsec", None),
        ("tunnel", Some(Object::Tunnel)),
    ];
    if word.is_empty() {
        return None;
    }
    ORDER
        .into_iter()
        .find(|(name, _)| name.starts_with(word))
        .and_then(|(_, kind)| kind)
}

/// Options before the object (`ip -4 addr add …`, `ip -f inet route add …`), skipped: an
/// option that takes a value takes the next word too.
fn without_options<'a, 'b>(mut words: &'b [&'a str]) -> &'b [&'a str] {
    while let [flag, rest @ ..] = words {
        if !flag.starts_with('-') {
            break;
        }
        words = match (*flag, rest) {
            ("-f" | "-family" | "-rc" | "-rcvbuf", [_, after @ ..]) => after,
            _ => rest,
        };
    }
    words
}

/// `add`, as iproute2 takes it abbreviated, for a new link or tunnel.
fn adds_device(verb: &str) -> bool {
    matches!(verb, "a" | "ad" | "add")
}

fn adds(verb: &str) -> bool {
    matches!(verb, "a" | "ad" | "add" | "replace" | "append" | "change")
}

/// The word after `key`.
fn value_of<'a>(args: &[&'a str], key: &str) -> Option<&'a str> {
    args.iter()
        .position(|w| *w == key)
        .and_then(|i| args.get(i + 1).copied())
}

/// `10.0.1.2/24`, or a bare `10.0.1.2` as a /32.
fn prefix(word: &str) -> Option<Ipv4Net> {
    word.parse::<Ipv4Net>()
        .or_else(|_| word.parse::<Ipv4Addr>().map(Ipv4Net::from))
        .ok()
}

/// The address `ip addr add` adds: after `local`, or the first word that is neither a
/// keyword nor a keyword's value (`ip addr add dev eth1 10.0.1.2/24` is as valid as the usual
/// order).
fn address_word(args: &[&str]) -> Option<Ipv4Net> {
    if let Some(local) = value_of(args, "local") {
        return prefix(local);
    }
    const KEYED: [&str; 10] = [
        "dev",
        "peer",
        "broadcast",
        "brd",
        "label",
        "scope",
        "metric",
        "valid_lft",
        "preferred_lft",
        "anycast",
    ];
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if KEYED.contains(word) {
            words.next();
        } else if let Some(net) = prefix(word) {
            return Some(net);
        }
    }
    None
}

fn number<T: std::str::FromStr>(args: &[&str], key: &str) -> Option<T> {
    value_of(args, key)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(lines: &[&str]) -> NodeFacts {
        NodeFacts::of(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_article_vxlan_host_reads_as_its_lines_say() {
        let f = facts(&[
            "sysctl -w net.ipv4.conf.all.proxy_arp=1",
            "ip addr add 10.0.1.2/24 dev eth1",
            "ip route replace default via 10.0.1.1 dev eth1",
            "ip link add flannel.1 type vxlan id 1 dev eth1 local 10.0.1.2 dstport 4789",
            "brctl addbr cni0",
            "ip addr add 172.16.0.1/24 dev cni0",
            "brctl addif cni0 pod1_veth_piar",
            "ip route add 172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink",
        ]);
        assert_eq!(
            f.sysctls,
            [(1, "net.ipv4.conf.all.proxy_arp".into(), "1".into())]
        );
        assert_eq!(
            f.addrs_on("cni0").collect::<Vec<_>>(),
            ["172.16.0.1/24".parse::<Ipv4Net>().unwrap()]
        );
        assert_eq!(
            f.tunnels["flannel.1"],
            Tunnel::Vxlan {
                vni: 1,
                port: 4789,
                mtu: None,
                over: Some("eth1".into())
            }
        );
        assert_eq!(f.ports["pod1_veth_piar"], "cni0");
        let to = f.route_to(&"172.16.1.0/24".parse().unwrap()).unwrap();
        assert_eq!(to.dev.as_deref(), Some("flannel.1"));
        let out = f.route_to(&"8.8.8.0/24".parse().unwrap()).unwrap();
        assert_eq!(out.dest, None);
    }

    #[test]
    fn ipip_bridges_and_mtus_in_their_other_spellings() {
        let f = facts(&[
            "ip tunnel add tunl1 mode ipip local 10.0.1.2",
            "ip link add name br0 type bridge",
            "ip link set dev pod-veth master br0",
            "ip link set eth1 mtu 9000",
            "ip link add t2 type ipip",
            "ip r add 10.1.0.0/16 via 192.168.0.1",
        ]);
        assert_eq!(f.tunnels["tunl1"], Tunnel::Ipip { over: None });
        assert_eq!(f.tunnels["t2"], Tunnel::Ipip { over: None });
        assert_eq!(f.bridges, ["br0"]);
        assert_eq!(f.ports["pod-veth"], "br0");
        assert_eq!(f.mtus["eth1"], 9000);
        assert_eq!(f.routes.len(), 1);
    }

    #[test]
    fn a_vxlan_device_named_by_dev_keeps_its_underlay_apart() {
        let f = facts(&[
            "ip link add dev vx0 address aa:bb:cc:00:00:02 type vxlan local 192.168.9.2 dev eth1 id 7",
            "ip link add vx1 mtu 1400 type vxlan vni 8 dev eth2",
            "ip link add link eth1 eth1.100 type vlan id 100",
        ]);
        assert!(f.devices.contains("eth1.100"), "{:?}", f.devices);
        let vx0 = Tunnel::Vxlan {
            vni: 7,
            port: 8472,
            mtu: None,
            over: Some("eth1".into()),
        };
        assert_eq!(f.tunnels["vx0"], vx0);
        let vx1 = Tunnel::Vxlan {
            vni: 8,
            port: 8472,
            mtu: Some(1400),
            over: Some("eth2".into()),
        };
        assert_eq!(f.tunnels["vx1"], vx1);
        assert_eq!(f.mtus["vx1"], 1400);
    }

    #[test]
    fn addresses_and_routes_in_the_other_orders_iproute2_takes() {
        let f = facts(&[
            "ip addr add dev eth1 192.168.0.1/24",
            "ip address add local 10.0.1.1/24 brd + dev cni0",
            "ip route add to 10.0.2.0/24 via 192.168.0.2",
            "ip route add unicast 10.0.3.0/24 via 192.168.0.3",
            "ip ro add 10.0.1.2 dev cali1",
        ]);
        let addrs: Vec<String> = f.addrs.iter().map(|(d, a)| format!("{d} {a}")).collect();
        assert_eq!(addrs, ["eth1 192.168.0.1/24", "cni0 10.0.1.1/24"]);
        let dests: Vec<String> = f
            .routes
            .iter()
            .map(|r| r.dest.unwrap().to_string())
            .collect();
        assert_eq!(dests, ["10.0.2.0/24", "10.0.3.0/24", "10.0.1.2/32"]);
    }

    #[test]
    fn vtep_macs_and_the_static_fdb_entries_that_program_them() {
        let f = facts(&[
            "ip link add vx0 address AA:BB:CC:00:00:01 type vxlan id 7 dev eth1",
            "bridge fdb append aa:bb:cc:00:00:02 dev vx0 dst 192.168.9.2",
            "bridge fdb append to 00:00:00:00:00:00 dst 192.168.9.3 dev vx0",
            "bridge fdb add to aa:bb:cc:00:00:03 dst 192.168.9.3 dev vx0 self permanent",
        ]);
        assert_eq!(f.macs["vx0"], "aa:bb:cc:00:00:01");
        let programmed: Vec<&str> = f.fdb_macs.iter().map(String::as_str).collect();
        assert_eq!(programmed, ["aa:bb:cc:00:00:02", "aa:bb:cc:00:00:03"]);
    }

    #[test]
    fn options_before_the_object_and_abbreviations_iproute2_takes() {
        let f = facts(&[
            "ip -4 addr add 10.0.0.1/24 dev eth1",
            "ip -f inet r a 10.0.2.0/24 via 10.0.0.2",
            "ip l a vx0 type vxlan id 3 dev eth1",
            "ip -d li set eth1 mtu 1400",
            "ip ru add from 10.0.0.0/24 table 5",
            "ip t a tunl1 mode ipip",
        ]);
        assert_eq!(f.addrs.len(), 1);
        assert_eq!(f.routes.len(), 1, "{:?}", f.routes);
        assert!(matches!(f.tunnels["vx0"], Tunnel::Vxlan { vni: 3, .. }));
        assert_eq!(f.tunnels["tunl1"], Tunnel::Ipip { over: None });
        assert_eq!(f.mtus["eth1"], 1400);
    }

    #[test]
    fn sysctl_in_every_spelling_procps_takes() {
        let f = facts(&[
            "sysctl -qw net.ipv4.ip_forward=1",
            "sysctl net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0",
            "sysctl -n net.ipv4.ip_forward",
        ]);
        let keys: Vec<(usize, &str)> = f.sysctls.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
        assert_eq!(
            keys,
            [
                (1, "net.ipv4.ip_forward"),
                (2, "net.ipv4.conf.all.rp_filter"),
                (2, "net.ipv4.conf.default.rp_filter")
            ]
        );
    }
}
