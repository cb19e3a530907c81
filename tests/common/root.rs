//! What a lab could have left in the root namespace. A lab lives in namespaces of its own, so
//! the root namespace must look the same after it as before, but only where a lab could have
//! touched it: links named like the lab's nodes or interfaces, and addresses and routes in the
//! lab's address space. The rest of the machine (a VPN coming up, DHCP renewing, another
//! engineer's bridge) changes as it likes and fails nothing.

use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

/// The root namespace's link names, IPv4 addresses and IPv4 routes (every table), one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSnapshot {
    links: BTreeSet<String>,
    addrs: BTreeSet<String>,
    routes: BTreeSet<String>,
}

impl RootSnapshot {
    pub fn take() -> RootSnapshot {
        RootSnapshot::parse(
            &ip(&["-o", "link"]),
            &ip(&["-o", "-4", "addr"]),
            &ip(&["-4", "route", "show", "table", "all"]),
        )
    }

    /// From the text of `ip -o link`, `ip -o -4 addr` and `ip -4 route show table all`.
    pub fn parse(links: &str, addrs: &str, routes: &str) -> RootSnapshot {
        // Flags, counters and address lifetimes change by themselves; names and routes are
        // what a lab would leave.
        let lines = |text: &str| -> BTreeSet<String> {
            text.lines()
                .map(|l| l.split('\\').next().unwrap_or(l).trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        };
        RootSnapshot {
            links: links.lines().filter_map(link_name).collect(),
            addrs: lines(addrs),
            routes: lines(routes),
        }
    }

    /// Each change from `self` to `after` that touches `lab`'s footprint, as "+ line" (new)
    /// or "- line" (gone).
    pub fn lab_changes(&self, after: &RootSnapshot, lab: &Footprint) -> Vec<String> {
        let mut out = changes(&self.links, &after.links, |l| lab.touches_link(l));
        out.extend(changes(&self.addrs, &after.addrs, |l| lab.touches_line(l)));
        out.extend(changes(&self.routes, &after.routes, |l| {
            lab.touches_line(l)
        }));
        out
    }

    /// Fails the test when the root namespace changed now, compared with `self`, where `lab`
    /// could have touched it.
    pub fn assert_untouched_by(&self, lab: &Footprint) {
        let changes = self.lab_changes(&RootSnapshot::take(), lab);
        assert!(
            changes.is_empty(),
            "the root namespace changed where a lab could have touched it:\n{}",
            changes.join("\n")
        );
    }
}

/// The lines of `before` or `after` that `touches` and only one of them has.
fn changes(
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
    touches: impl Fn(&str) -> bool,
) -> Vec<String> {
    let new = after.difference(before).map(|l| ("+", l));
    let gone = before.difference(after).map(|l| ("-", l));
    new.chain(gone)
        .filter(|(_, l)| touches(l))
        .map(|(sign, l)| format!("{sign} {l}"))
        .collect()
}

/// The name in a line of `ip -o link` ("5: veth1@if4: <…> …" is `veth1`).
fn link_name(line: &str) -> Option<String> {
    let name = line.split(": ").nth(1)?;
    Some(name.split('@').next()?.trim_end_matches(':').to_string())
}

fn ip(args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("ip runs");
    assert!(out.status.success(), "ip {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What labs could leave in the root namespace: the names of their nodes and interfaces, and
/// the addresses and prefixes in their files.
#[derive(Debug, Default, Clone)]
pub struct Footprint {
    names: BTreeSet<String>,
    nodes: BTreeSet<String>,
    nets: Vec<Ipv4Net>,
}

impl Footprint {
    /// The footprint of the lab files at `paths`.
    pub fn of_files(paths: &[&Path]) -> Footprint {
        let mut all = Footprint::default();
        for path in paths {
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            all.add_yaml(&text);
        }
        all
    }

    /// The footprint of the lab files whose text is `yamls`.
    pub fn of_yamls(yamls: &[String]) -> Footprint {
        let mut all = Footprint::default();
        for yaml in yamls {
            all.add_yaml(yaml);
        }
        all
    }

    fn add_yaml(&mut self, yaml: &str) {
        let topo = cnilab::topology::Topology::parse(yaml).expect("the lab file parses");
        for (node, spec) in topo.nodes() {
            self.nodes.insert(node.to_string());
            self.names.insert(topo.namespace(node));
            for line in &spec.exec {
                self.names.extend(link_names_in(line));
            }
        }
        for link in &topo.topology.links {
            for end in &link.endpoints {
                if let Some(e) = cnilab::topology::Endpoint::parse(end) {
                    self.names.insert(e.iface);
                }
            }
        }
        // Every address or prefix the file names, but a default route's 0.0.0.0/0, which
        // would take in the whole machine.
        let re = regex::Regex::new(r"\b\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?\b").unwrap();
        self.nets.extend(
            re.find_iter(yaml)
                .filter_map(|m| net(m.as_str()))
                .filter(|n| n.prefix_len() > 0),
        );
    }

    /// A link of the lab's: named as one of its interfaces, or after one of its nodes
    /// (`host1-eth1`, `clab-lab-host1`).
    pub fn touches_link(&self, name: &str) -> bool {
        self.names.contains(name)
            || self
                .nodes
                .iter()
                .any(|n| name.starts_with(&format!("{n}-")) || name.ends_with(&format!("-{n}")))
    }

    /// An address or route line on one of the lab's links, or naming an address in the lab's
    /// address space.
    pub fn touches_line(&self, line: &str) -> bool {
        let words: Vec<&str> = line.split_whitespace().collect();
        let on_lab_link = words
            .windows(2)
            .any(|w| w[0] == "dev" && self.touches_link(w[1]))
            // `ip -o addr` names the device second: "2: eth0    inet …".
            || words.get(1).is_some_and(|d| self.touches_link(d));
        on_lab_link
            || words
                .iter()
                .filter_map(|w| net(w))
                .any(|n| self.nets.iter().any(|m| overlap(m, &n)))
    }
}

/// The names an exec line gives links: `ip link add NAME`, `… name NAME`, `dev NAME`,
/// `ip link set NAME`, `master NAME`. The loopback is every namespace's own, never a lab's.
fn link_names_in(line: &str) -> Vec<String> {
    const BEFORE: [&str; 6] = ["add", "name", "dev", "set", "master", "addbr"];
    const NOT_NAMES: [&str; 8] = ["dev", "link", "name", "type", "default", "from", "to", "lo"];
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| BEFORE.contains(&w[0]))
        .map(|w| w[1])
        // Linux caps an interface name at 15 bytes; addresses and prefixes are not names.
        .filter(|n| n.len() <= 15 && !n.contains('/') && net(n).is_none())
        .filter(|n| !NOT_NAMES.contains(n))
        .map(str::to_string)
        .collect()
}

/// An address (as a /32) or a prefix.
fn net(text: &str) -> Option<Ipv4Net> {
    text.parse::<Ipv4Net>()
        .ok()
        .or_else(|| text.parse::<Ipv4Addr>().ok().map(Ipv4Net::from))
}

fn overlap(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}
