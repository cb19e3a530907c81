//! A node's kernel tables as iproute2 prints them: links, addresses, routes, neighbours and
//! FDB entries. verify (what the lab programs, what traffic taught), trace (why a node moved a
//! packet) and bench read them through these readers and nothing else.

use super::netns::{in_netns, NetnsError};
use super::tool::{json_in, run_in, ToolError};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// One row of `ip -j -d link show`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LinkRow {
    pub ifname: String,
    #[serde(default)]
    pub master: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    /// UP, LOWER_UP, NOARP, ...
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub linkinfo: Option<LinkInfo>,
    #[serde(default)]
    pub mtu: Option<u32>,
}

impl LinkRow {
    /// vxlan, bridge, ipip, veth, ...
    pub fn kind(&self) -> Option<&str> {
        self.linkinfo.as_ref()?.info_kind.as_deref()
    }

    /// A VXLAN device's settings.
    pub fn vxlan(&self) -> Option<&VxlanData> {
        self.linkinfo.as_ref()?.info_data.as_ref()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LinkInfo {
    #[serde(default)]
    pub info_kind: Option<String>,
    /// Only a VXLAN device's data is read; other kinds' data has other fields, all defaulted.
    #[serde(default)]
    pub info_data: Option<VxlanData>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VxlanData {
    #[serde(default)]
    pub id: Option<u32>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub external: bool,
    /// Whether the device learns peers' MACs from what it receives (`nolearning` unsets it).
    #[serde(default)]
    pub learning: Option<bool>,
}

/// One row of `ip -j neigh show`.
#[derive(Debug, Clone, Deserialize)]
pub struct NeighRow {
    pub dst: String,
    #[serde(default)]
    pub dev: String,
    #[serde(default)]
    pub lladdr: Option<String>,
    #[serde(default)]
    pub state: Vec<String>,
}

/// One row of `bridge -j fdb show`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FdbEntry {
    pub mac: String,
    #[serde(default)]
    pub ifname: String,
    #[serde(default)]
    pub dst: Option<std::net::IpAddr>,
    #[serde(default)]
    pub master: Option<String>,
    #[serde(default)]
    pub state: String,
}

impl FdbEntry {
    /// Learned from traffic: neither permanent, static nor noarp (iproute2 prints "" then).
    pub fn is_learned(&self) -> bool {
        self.state.is_empty()
    }

    /// A VXLAN head-end entry: the all-zeros MAC, which floods to its `dst`.
    pub fn is_flood(&self) -> bool {
        self.mac == "00:00:00:00:00:00"
    }
}

/// One line of `ip route show`: its next hop an IPv4 address, or with `A = Ipv6Addr` one line
/// of `ip -6 route show`. Read as text: the JSON of a route with a lightweight-tunnel encap
/// (Cilium's) holds `dst` twice, the route's and the tunnel's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRow<A = Ipv4Addr> {
    pub dst: String,
    pub gateway: Option<A>,
    pub dev: Option<String>,
    /// `blackhole`, `unreachable`... for a route that is not unicast.
    pub kind: Option<String>,
    /// The route protocol as `ip` prints it: a number, or the name rt_protos gives it; `None`
    /// for boot, which `ip` leaves unsaid (the default of `ip route add`).
    pub proto: Option<String>,
    pub onlink: bool,
}

impl<A> Default for RouteRow<A> {
    fn default() -> Self {
        RouteRow {
            dst: String::new(),
            gateway: None,
            dev: None,
            kind: None,
            proto: None,
            onlink: false,
        }
    }
}

impl RouteRow {
    pub fn parse(line: &str) -> Option<RouteRow> {
        parse_route(line)
    }

    /// The destination as a prefix: `default` is 0.0.0.0/0, a bare address a /32.
    pub fn prefix(&self) -> Option<Ipv4Net> {
        match self.dst.as_str() {
            "default" => Some(Ipv4Net::default()),
            d if d.contains('/') => d.parse().ok(),
            d => d.parse::<Ipv4Addr>().ok().map(Ipv4Net::from),
        }
    }
}

impl RouteRow<Ipv6Addr> {
    /// One line of `ip -6 route show`.
    pub fn parse6(line: &str) -> Option<RouteRow<Ipv6Addr>> {
        parse_route(line)
    }

    /// The destination as a prefix: `default` is ::/0, a bare address a /128.
    pub fn prefix6(&self) -> Option<Ipv6Net> {
        match self.dst.as_str() {
            "default" => Some(Ipv6Net::default()),
            d if d.contains('/') => d.parse().ok(),
            d => d.parse::<Ipv6Addr>().ok().map(Ipv6Net::from),
        }
    }
}

/// A route line's words, whichever family its next hop is in.
fn parse_route<A: std::str::FromStr>(line: &str) -> Option<RouteRow<A>> {
    let mut words = line.split_whitespace().peekable();
    let special = ["blackhole", "unreachable", "prohibit", "throw"];
    let kind = words.next_if(|w| special.contains(w)).map(str::to_string);
    let mut row = RouteRow {
        dst: words.next()?.to_string(),
        gateway: None,
        dev: None,
        kind,
        proto: None,
        onlink: false,
    };
    while let Some(word) = words.next() {
        match word {
            "via" => row.gateway = words.next().and_then(|g| g.parse().ok()),
            "dev" => row.dev = words.next().map(str::to_string),
            "proto" => row.proto = words.next().map(str::to_string),
            "onlink" => row.onlink = true,
            _ => {}
        }
    }
    Some(row)
}

/// One IPv4 address of `ip -j addr show` (with `A = Ipv6Addr`, one IPv6 address): the
/// device, address and prefix length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddrRow<A = Ipv4Addr> {
    pub dev: String,
    pub ip: A,
    pub prefix_len: u8,
}

#[derive(Deserialize)]
struct AddrLink {
    ifname: String,
    #[serde(default)]
    addr_info: Vec<AddrInfo>,
}

#[derive(Deserialize)]
struct AddrInfo {
    #[serde(default)]
    local: Option<String>,
    #[serde(default)]
    prefixlen: Option<u8>,
}

/// Every link with its details (`ip -j -d link show`), or only those of one type. The type is
/// picked here, not by `ip link show type T`: where the kernel cannot filter the dump by kind,
/// iproute2 prints an empty object for each link it leaves out.
pub fn links(namespace: &str, of_type: Option<&str>) -> Result<Vec<LinkRow>, ToolError> {
    let all: Vec<LinkRow> = json_in(namespace, "ip", &["-j", "-d", "link", "show"])?;
    Ok(all
        .into_iter()
        .filter(|l| of_type.map_or(true, |t| l.kind() == Some(t)))
        .collect())
}

/// Every IPv4 address.
pub fn addrs(namespace: &str) -> Result<Vec<AddrRow>, ToolError> {
    addrs_of(namespace, "-4")
}

/// Every IPv6 address, link-local ones included.
pub fn addrs6(namespace: &str) -> Result<Vec<AddrRow<Ipv6Addr>>, ToolError> {
    addrs_of(namespace, "-6")
}

fn addrs_of<A: std::str::FromStr>(
    namespace: &str,
    family: &str,
) -> Result<Vec<AddrRow<A>>, ToolError> {
    let links: Vec<AddrLink> = json_in(namespace, "ip", &[family, "-j", "addr", "show"])?;
    Ok(links
        .into_iter()
        .flat_map(|l| {
            let dev = l.ifname;
            l.addr_info.into_iter().filter_map(move |a| {
                Some(AddrRow {
                    dev: dev.clone(),
                    ip: a.local?.parse().ok()?,
                    prefix_len: a.prefixlen?,
                })
            })
        })
        .collect())
}

/// The main table's IPv4 routes.
pub fn routes(namespace: &str) -> Result<Vec<RouteRow>, ToolError> {
    route_rows(namespace, "-4")
}

/// The main table's routes in one family, their next hops of either family.
pub fn routes_in(
    namespace: &str,
    family: crate::family::Family,
) -> Result<Vec<RouteRow<std::net::IpAddr>>, ToolError> {
    let flag = match family {
        crate::family::Family::Ipv4 => "-4",
        crate::family::Family::Ipv6 => "-6",
    };
    route_rows(namespace, flag)
}

/// The main table's IPv6 routes.
pub fn routes6(namespace: &str) -> Result<Vec<RouteRow<Ipv6Addr>>, ToolError> {
    route_rows(namespace, "-6")
}

/// `ip <flag> route show`, each line as a route whose next hop reads as an `A`.
fn route_rows<A: std::str::FromStr>(
    namespace: &str,
    flag: &str,
) -> Result<Vec<RouteRow<A>>, ToolError> {
    let text = run_in(namespace, "ip", &[flag, "route", "show"])?;
    Ok(text.lines().filter_map(parse_route).collect())
}

/// Every IPv4 neighbour entry, in any state.
pub fn neighbours(namespace: &str) -> Result<Vec<NeighRow>, ToolError> {
    neighbours_of(namespace, false)
}

/// Every IPv4 neighbour, or with `ipv6` every IPv6 one (what NDP holds), in any state.
pub fn neighbours_of(namespace: &str, ipv6: bool) -> Result<Vec<NeighRow>, ToolError> {
    let family = if ipv6 { "-6" } else { "-4" };
    json_in(
        namespace,
        "ip",
        &[family, "-j", "neigh", "show", "nud", "all"],
    )
}

/// Every FDB entry.
pub fn fdb(namespace: &str) -> Result<Vec<FdbEntry>, ToolError> {
    json_in(namespace, "bridge", &["-j", "fdb", "show"])
}

/// Whether the node's main table has a route to `dst` (`ip route get` finds one).
pub fn route_to(namespace: &str, dst: std::net::IpAddr) -> Result<bool, ToolError> {
    match run_in(namespace, "ip", &["route", "get", &dst.to_string()]) {
        Ok(_) => Ok(true),
        // `ip route get` fails for an unreachable destination: that is the answer, not an
        // error. Only a tool that did not run at all is one.
        Err(e) if e.why.contains("unreachable") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the node answers ARP for others on each of `ifaces`: proxy_arp is on where `all` or
/// the interface's own setting is 1, as the kernel ORs them (IN_DEV_PROXY_ARP). `None` for an
/// interface that is gone. A thread inside the namespace reads /proc/sys (which shows the
/// reader's namespace), so asking every host of a large lab starts no process.
pub fn proxy_arp(namespace: &str, ifaces: &[String]) -> Result<Vec<Option<bool>>, NetnsError> {
    let read = |iface: &str| {
        let path = format!("/proc/sys/net/ipv4/conf/{iface}/proxy_arp");
        std::fs::read_to_string(path).ok().map(|v| v.trim() != "0")
    };
    in_netns(namespace, || {
        let all = read("all").unwrap_or(false);
        ifaces
            .iter()
            .map(|i| read(i).map(|own| all || own))
            .collect()
    })
}

/// Where the node sends a packet for `dst`: its next hop and device (`ip route get`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RouteGet {
    #[serde(default)]
    pub gateway: Option<std::net::IpAddr>,
    #[serde(default)]
    pub dev: Option<String>,
}

/// The route the node takes to `dst`, IPv4 or IPv6; `None` where it has none (unreachable).
pub fn route_get(namespace: &str, dst: std::net::IpAddr) -> Result<Option<RouteGet>, ToolError> {
    match json_in::<RouteGet>(namespace, "ip", &["-j", "route", "get", &dst.to_string()]) {
        Ok(rows) => Ok(rows.into_iter().next()),
        Err(e) if e.why.contains("unreachable") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a route to exactly `prefix` is in the node's main table.
pub fn has_route(namespace: &str, prefix: &ipnet::IpNet) -> Result<bool, ToolError> {
    let family = match prefix {
        ipnet::IpNet::V4(_) => "-4",
        ipnet::IpNet::V6(_) => "-6",
    };
    let text = run_in(
        namespace,
        "ip",
        &[family, "-o", "route", "show", "exact", &prefix.to_string()],
    )?;
    Ok(!text.trim().is_empty())
}

/// Whether the node forwards IPv4 (`net.ipv4.ip_forward`).
pub fn forwards_ipv4(namespace: &str) -> Result<bool, ToolError> {
    sysctl_on(namespace, "net.ipv4.ip_forward")
}

/// Whether the node forwards IPv6 (`net.ipv6.conf.all.forwarding`).
pub fn forwards_ipv6(namespace: &str) -> Result<bool, ToolError> {
    sysctl_on(namespace, "net.ipv6.conf.all.forwarding")
}

fn sysctl_on(namespace: &str, key: &str) -> Result<bool, ToolError> {
    let text = run_in(namespace, "sysctl", &["-n", key])?;
    Ok(text.trim() == "1")
}

/// The interfaces that check reverse paths strictly (rp_filter 1, the larger of `all` and the
/// interface's own): `["all"]` where `all` makes every interface strict.
pub fn strict_rp_filter(namespace: &str) -> Result<Vec<String>, ToolError> {
    let text = run_in(
        namespace,
        "sysctl",
        &["-a", "-r", r"^net\.ipv4\.conf\..*\.rp_filter$"],
    )?;
    Ok(strict_in(&text))
}

fn strict_in(text: &str) -> Vec<String> {
    let values: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            let (key, value) = l.split_once(" = ")?;
            let iface = key
                .strip_prefix("net.ipv4.conf.")?
                .strip_suffix(".rp_filter")?;
            Some((iface, value.trim()))
        })
        .collect();
    if values.iter().any(|&(i, v)| i == "all" && v == "1") {
        return vec!["all".to_string()];
    }
    values
        .iter()
        .filter(|&&(i, v)| v == "1" && !matches!(i, "all" | "default" | "lo"))
        .map(|(i, _)| i.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_route_line_reads_with_its_ipv6_next_hop_and_prefix() {
        let r = RouteRow::parse6(
            "fd00:172:16:1::/64 via fd00:172:16:1:: dev flannel-v6.1 metric 1024 onlink pref medium",
        )
        .unwrap();
        assert_eq!(r.gateway, Some("fd00:172:16:1::".parse().unwrap()));
        assert_eq!((r.dev.as_deref(), r.onlink), (Some("flannel-v6.1"), true));
        assert_eq!(r.prefix6().unwrap().to_string(), "fd00:172:16:1::/64");
        let d = RouteRow::parse6("default via fd00:10:0:1::1 dev eth1 metric 1024").unwrap();
        assert_eq!(d.prefix6().unwrap().prefix_len(), 0);
        let host = RouteRow::parse6("fd00:10:0:2::2 dev eth1 metric 256").unwrap();
        assert_eq!(host.prefix6().unwrap().prefix_len(), 128);
        assert_eq!(host.gateway, None);
    }

    #[test]
    fn proxy_arp_is_on_where_the_interface_or_all_says_so_and_unknown_where_gone() {
        let scratch = crate::sys::netns::testing::Scratch::new(
            "proxy-arp",
            &["link add left type veth peer name right"],
        );
        let ns = scratch.name();
        let set = |key: &str| {
            let ok = std::process::Command::new("ip")
                .args(["netns", "exec", ns, "sysctl", "-qw", key])
                .status();
            assert!(ok.is_ok_and(|s| s.success()), "sysctl -w {key} in {ns}");
        };
        let ifaces = ["left", "right", "gone"].map(String::from);
        set("net.ipv4.conf.left.proxy_arp=1");
        assert_eq!(
            proxy_arp(ns, &ifaces).unwrap(),
            [Some(true), Some(false), None]
        );
        set("net.ipv4.conf.all.proxy_arp=1");
        assert_eq!(
            proxy_arp(ns, &ifaces).unwrap(),
            [Some(true), Some(true), None]
        );
    }

    #[test]
    fn strict_reverse_path_filtering_is_per_interface_unless_all_says_so() {
        let text = "net.ipv4.conf.all.rp_filter = 0\nnet.ipv4.conf.default.rp_filter = 1\nnet.ipv4.conf.eth1.rp_filter = 1\nnet.ipv4.conf.cni0.rp_filter = 2\n";
        assert_eq!(strict_in(text), ["eth1"]);
        assert_eq!(
            strict_in("net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.eth1.rp_filter = 0\n"),
            ["all"]
        );
        assert!(strict_in("net.ipv4.conf.all.rp_filter = 2\n").is_empty());
    }

    #[test]
    fn route_lines_read_as_ip_prints_them() {
        let r = RouteRow::parse("172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink").unwrap();
        assert_eq!(r.gateway, Some("172.16.1.0".parse().unwrap()));
        assert!(r.onlink && r.proto.is_none());
        assert_eq!(r.prefix(), "172.16.1.0/24".parse().ok());
        let d = RouteRow::parse("default via 10.0.1.1 dev eth1 proto static").unwrap();
        assert_eq!(
            (d.prefix(), d.proto.as_deref()),
            (Some(Ipv4Net::default()), Some("static"))
        );
        let b = RouteRow::parse("blackhole 10.0.9.0/24 proto 80").unwrap();
        assert_eq!(
            (b.kind.as_deref(), b.dst.as_str()),
            (Some("blackhole"), "10.0.9.0/24")
        );
        let host = RouteRow::parse("10.0.2.2 dev eth1 scope link").unwrap();
        assert_eq!(host.prefix(), "10.0.2.2/32".parse().ok());
    }

    #[test]
    fn a_vxlan_link_carries_its_vni_and_port() {
        let rows: Vec<LinkRow> = serde_json::from_str(
            r#"[{"ifname":"flannel.1","flags":["UP"],"address":"aa:bb:cc:00:00:01",
                 "linkinfo":{"info_kind":"vxlan","info_data":{"id":1,"port":4789}}},
                {"ifname":"cni0","master":null,"linkinfo":{"info_kind":"bridge",
                 "info_data":{"stp_state":0}}}]"#,
        )
        .unwrap();
        assert_eq!(rows[0].kind(), Some("vxlan"));
        assert_eq!(rows[0].vxlan().and_then(|v| v.id), Some(1));
        assert_eq!(rows[1].kind(), Some("bridge"));
    }
}
