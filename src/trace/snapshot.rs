//! A node's forwarding state, read with iproute2's JSON output: routes, addresses, links,
//! neighbours, FDB entries and whether it forwards. [`super::decide`] reasons over this only.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::process::Command;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub routes: Vec<Route>,
    pub addrs: Vec<(String, Ipv4Addr, u8)>,
    pub links: Vec<Link>,
    pub neighbours: Vec<Neighbour>,
    pub fdb: Vec<Fdb>,
    pub forwarding: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub dst: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
    pub dev: Option<String>,
    /// As `ip route` prints it.
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Link {
    #[serde(rename = "ifname")]
    pub name: String,
    #[serde(default)]
    pub master: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    /// vxlan, bridge, ipip, veth, ...
    #[serde(default)]
    pub kind: Option<String>,
    /// UP, LOWER_UP, NOARP, ...
    #[serde(default)]
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Neighbour {
    pub ip: Ipv4Addr,
    pub dev: String,
    pub mac: Option<String>,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fdb {
    pub mac: String,
    pub dev: String,
    pub dst: Option<Ipv4Addr>,
    pub master: Option<String>,
    pub permanent: bool,
}

/// Runs a command and parses its JSON output; a failing command reads as empty.
fn json(ns: &str, args: &[&str]) -> Vec<Value> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output();
    match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

pub fn take(ns: &str) -> Snapshot {
    let forwarding = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-n", "net.ipv4.ip_forward"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "1");
    Snapshot {
        routes: json(ns, &["ip", "-4", "-j", "route", "show"])
            .iter()
            .filter_map(route)
            .collect(),
        addrs: addrs(&json(ns, &["ip", "-4", "-j", "addr", "show"])),
        links: json(ns, &["ip", "-j", "-d", "link", "show"])
            .iter()
            .filter_map(link)
            .collect(),
        neighbours: json(ns, &["ip", "-4", "-j", "neigh", "show", "nud", "all"])
            .iter()
            .filter_map(neighbour)
            .collect(),
        fdb: json(ns, &["bridge", "-j", "fdb", "show"])
            .iter()
            .filter_map(fdb)
            .collect(),
        forwarding,
    }
}

pub fn route(v: &Value) -> Option<Route> {
    let dst = text(v, "dst")?;
    let prefix = match dst.as_str() {
        "default" => Ipv4Net::default(),
        d if d.contains('/') => d.parse().ok()?,
        d => Ipv4Net::from(d.parse::<Ipv4Addr>().ok()?),
    };
    let gateway = text(v, "gateway").and_then(|g| g.parse().ok());
    let dev = text(v, "dev");
    let mut t = dst.clone();
    if let Some(g) = gateway {
        t += &format!(" via {g}");
    }
    if let Some(d) = &dev {
        t += &format!(" dev {d}");
    }
    for f in v
        .get("flags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(f) = f.as_str() {
            t += &format!(" {f}");
        }
    }
    Some(Route {
        dst: prefix,
        gateway,
        dev,
        text: t,
    })
}

fn addrs(list: &[Value]) -> Vec<(String, Ipv4Addr, u8)> {
    let mut out = Vec::new();
    for l in list {
        let Some(name) = text(l, "ifname") else {
            continue;
        };
        for a in l
            .get("addr_info")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ip = text(a, "local").and_then(|s| s.parse().ok());
            let len = a.get("prefixlen").and_then(Value::as_u64);
            if let (Some(ip), Some(len)) = (ip, len) {
                out.push((name.clone(), ip, len as u8));
            }
        }
    }
    out
}

pub fn link(v: &Value) -> Option<Link> {
    let mut l: Link = serde_json::from_value(v.clone()).ok()?;
    l.kind = v
        .get("linkinfo")
        .and_then(|i| i.get("info_kind"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Some(l)
}

pub fn neighbour(v: &Value) -> Option<Neighbour> {
    Some(Neighbour {
        ip: text(v, "dst")?.parse().ok()?,
        dev: text(v, "dev")?,
        mac: text(v, "lladdr"),
        state: v
            .get("state")
            .and_then(Value::as_array)
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
    })
}

pub fn fdb(v: &Value) -> Option<Fdb> {
    Some(Fdb {
        mac: text(v, "mac")?,
        dev: text(v, "ifname")?,
        dst: text(v, "dst").and_then(|d| d.parse().ok()),
        master: text(v, "master"),
        permanent: text(v, "state").is_some_and(|s| s == "permanent" || s == "static"),
    })
}

/// Forgets what the node learned: dynamic neighbours, and learned FDB entries (the static
/// head-end entries of a VXLAN device stay, as flannel keeps them).
pub fn flush_learned(ns: &str, snap: &Snapshot) {
    let run = |args: &[&str]| {
        let _ = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output();
    };
    run(&["ip", "neigh", "flush", "all"]);
    for e in snap.fdb.iter().filter(|e| !e.permanent) {
        let mut args = vec!["bridge", "fdb", "del", &e.mac, "dev", &e.dev];
        if e.master.is_some() {
            args.push("master");
        }
        run(&args);
    }
}
