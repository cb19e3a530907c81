//! Who is what in a lab without labels, from its links and exec lines alone: a switch is a
//! bridge node; a pod is a node with one link, an address on it, and a node (its host) at the
//! other end; a host is a node that carries pods; a router is any other node that is linked.

use super::exec_facts::NodeFacts;
use super::InferError;
use crate::topology::{Endpoint, Topology};
use std::collections::BTreeMap;

/// One end of a link as seen from a node: its interface and who is at the other end.
#[derive(Debug, Clone)]
pub struct Neighbour {
    pub iface: String,
    pub node: String,
    pub their_iface: String,
}

#[derive(Debug, Clone, Default)]
pub struct Roles {
    /// Pod → its host.
    pub pods: BTreeMap<String, String>,
    /// Hosts in the order they are numbered (by name, numbers compared as numbers).
    pub hosts: Vec<String>,
    pub routers: Vec<String>,
    pub switches: Vec<String>,
}

/// Every node's links, as neighbours.
pub fn neighbours(topo: &Topology) -> BTreeMap<String, Vec<Neighbour>> {
    let mut map: BTreeMap<String, Vec<Neighbour>> = BTreeMap::new();
    for link in &topo.topology.links {
        let ends: Vec<Endpoint> = link
            .endpoints
            .iter()
            .filter_map(|e| Endpoint::parse(e))
            .collect();
        let [a, b] = ends.as_slice() else { continue };
        // containerlab's `host:`, `mgmt-net:` and `macvlan:` ends lead out of the lab: no
        // lab traffic crosses them, so they are no node's pod, underlay or capture point.
        if [a, b].iter().any(|e| outside_lab(&e.node)) {
            continue;
        }
        for (me, them) in [(a, b), (b, a)] {
            map.entry(me.node.clone()).or_default().push(Neighbour {
                iface: me.iface.clone(),
                node: them.node.clone(),
                their_iface: them.iface.clone(),
            });
        }
    }
    map
}

pub fn roles(
    topo: &Topology,
    facts: &BTreeMap<String, NodeFacts>,
    links: &BTreeMap<String, Vec<Neighbour>>,
) -> Result<Roles, InferError> {
    let mut roles = Roles::default();
    let is_switch = |name: &str| {
        topo.node(name)
            .and_then(|n| n.kind.as_deref())
            .is_some_and(|k| matches!(k, "bridge" | "ovs-bridge"))
    };
    for (name, _) in topo.nodes() {
        if is_switch(name) {
            roles.switches.push(name.to_string());
        } else if let Some(host) = host_of_pod(name, &facts[name], links) {
            // A link may name a node the file never declares; such a node has no facts.
            if !facts.contains_key(&host) {
                return Err(InferError::Undeclared {
                    pod: name.to_string(),
                    node: host,
                });
            }
            if !is_switch(&host) {
                roles.pods.insert(name.to_string(), host);
            }
        }
    }
    let mut hosts: Vec<String> = roles.pods.values().cloned().collect();
    hosts.sort_by_key(|h| natural_key(h));
    hosts.dedup();
    if let Some(pod_host) = hosts.iter().find(|h| roles.pods.contains_key(*h)) {
        return Err(InferError::Ambiguous {
            node: pod_host.clone(),
            why: "it looks like a pod (one link, with an address) and like a host (a pod's only \
                  link leads to it)"
                .into(),
        });
    }
    roles.routers = topo
        .nodes()
        .map(|(n, _)| n.to_string())
        .filter(|n| links.contains_key(n) && !is_switch(n))
        // A node that no exec line gives an address (a management box, a dead end) routes
        // nothing.
        .filter(|n| facts.get(n).is_some_and(|f| !f.addrs.is_empty()))
        .filter(|n| !roles.pods.contains_key(n) && !hosts.contains(n))
        .collect();
    roles.hosts = hosts;
    check(topo, &roles)?;
    Ok(roles)
}

fn outside_lab(node: &str) -> bool {
    matches!(node, "host" | "mgmt-net" | "macvlan")
}

/// The node at the other end of `name`'s one link, if `name` has an address on it.
fn host_of_pod(
    name: &str,
    facts: &NodeFacts,
    links: &BTreeMap<String, Vec<Neighbour>>,
) -> Option<String> {
    let [only] = links.get(name)?.as_slice() else {
        return None;
    };
    facts.addrs_on(&only.iface).next()?;
    Some(only.node.clone())
}

fn check(topo: &Topology, roles: &Roles) -> Result<(), InferError> {
    if roles.hosts.is_empty() {
        let nodes: Vec<&str> = topo.nodes().map(|(n, _)| n).collect();
        return Err(InferError::NoHosts {
            nodes: nodes.join(", "),
        });
    }
    if roles.pods.len() < 2 {
        return Err(InferError::TooFewPods(roles.pods.len()));
    }
    Ok(())
}

/// `host10` after `host9`: runs of digits compare as numbers.
pub fn natural_key(name: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in name.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                key.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_names_sort_as_numbers() {
        let mut names = vec!["host10", "host2", "host1", "alpha"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["alpha", "host1", "host2", "host10"]);
    }

    #[test]
    fn management_links_and_addressless_nodes_take_no_role() {
        let text = include_str!("../../../tests/fixtures/handmade/hostgw-three-hosts.clab.yaml")
            .replacen("  links:\n", "    mgmt:\n      kind: linux\n  links:\n", 1)
            + "  - endpoints: [\"alice:eth9\", \"mgmt:eth1\"]\n"
            + "  - endpoints: [\"bob:eth9\", \"mgmt-net:bob-mgmt\"]\n";
        let topo = Topology::parse(&text).unwrap();
        let facts = topo
            .nodes()
            .map(|(n, node)| (n.to_string(), NodeFacts::of(&node.exec)))
            .collect();
        let links = neighbours(&topo);
        assert!(links["bob"].iter().all(|n| n.iface != "eth9"));
        let roles = roles(&topo, &facts, &links).unwrap();
        assert_eq!(roles.hosts, ["alice", "bob", "carol"]);
        assert!(roles.routers.is_empty(), "{:?}", roles.routers);
        let inference = super::super::infer(&topo).unwrap();
        assert_eq!(inference.labels["alice"]["cnilab.underlay-if"], "eth1");
        assert!(!inference.labels.contains_key("mgmt"));
    }
}
