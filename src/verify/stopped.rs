//! Why a node that saw a probe sent it no further, read from the node itself once a pair has
//! failed: forwarding off, no route to where it goes, or strict reverse-path filtering. Where forwarding is off, the lab's own
//! exec lines say why, when they set something that looks like it but is not (proxy_arp).

use crate::lab::infer::exec_facts::NodeFacts;
use crate::lab::Lab;
use crate::sys::tables;
use crate::topology::Topology;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The sysctls that turn IPv4 forwarding on, in a node's exec lines.
const FORWARDING_KEYS: [&str; 2] = ["net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding"];

/// An address a node must route, and how a reason names it.
pub(super) struct RoutedTo {
    pub(super) ip: std::net::IpAddr,
    pub(super) named: String,
}

/// Per host, what its exec lines say about forwarding, where they never turn it on: "the lab
/// sets net.ipv4.conf.all.proxy_arp=1 on host1's exec line 4, which does not enable forwarding".
pub(super) fn forwarding_hints(topo: &Topology, lab: &Lab) -> BTreeMap<String, String> {
    lab.hosts
        .iter()
        .filter_map(|h| {
            let facts = NodeFacts::of(&topo.node(&h.node)?.exec);
            Some((h.node.clone(), hint(&h.node, &facts)?))
        })
        .collect()
}

fn hint(node: &str, facts: &NodeFacts) -> Option<String> {
    let on =
        |(_, k, v): &&(usize, String, String)| FORWARDING_KEYS.contains(&k.as_str()) && v == "1";
    if facts.sysctls.iter().any(|s| on(&s)) {
        return None;
    }
    Some(match facts.sysctls.iter().find(|(_, k, _)| k.contains("proxy_arp")) {
        Some((line, key, value)) => format!(
            "the lab sets {key}={value} on {node}'s exec line {line}, which does not enable forwarding"
        ),
        None => format!("{node}'s exec lines never set net.ipv4.ip_forward=1"),
    })
}

/// Hosts that forward although their exec lines never turn forwarding on: they inherited it
/// from the machine's root namespace (a Docker host forwards) or had it set by hand, so the lab
/// works here by luck and dies on a machine that does not forward.
pub(super) fn inherited_forwarding(
    lab: &Lab,
    hints: &BTreeMap<String, String>,
) -> Vec<crate::verify::report::Warning> {
    lab.hosts
        .iter()
        .filter(|h| hints.contains_key(&h.node))
        .filter(|h| tables::forwards_ipv4(&h.namespace).unwrap_or(false))
        .map(|h| crate::verify::report::Warning {
            kind: "inherited_forwarding",
            node: h.node.clone(),
            message: format!(
                "{} forwards, but not by its exec lines ({}): it inherited forwarding from the machine's root namespace (a Docker host forwards), or had it set by hand; on a machine that does not forward, its pods' traffic dies there",
                h.node, hints[&h.node]
            ),
        })
        .collect()
}

/// The pod a probe never left, and the node at the other end of its link.
pub(super) struct Sender<'a> {
    pub(super) pod: &'a str,
    pub(super) namespace: &'a str,
    /// The host, its namespace and its end of the pod's link, where the lab knows them.
    pub(super) host: Option<(&'a str, &'a str, &'a str)>,
}

/// Why a pod sent a probe nowhere: no route to `dst`, an ARP for the next hop unanswered, or
/// a gateway that its host neither owns nor answers for. `None` where none shows, or the state
/// cannot be read.
pub(super) fn unsent_cause(s: &Sender, dst: IpAddr) -> Option<String> {
    let Some(route) = tables::route_get(s.namespace, dst).ok()? else {
        return Some(format!("{} has no route to {dst}", s.pod));
    };
    let next = route.gateway.unwrap_or(dst);
    let dev = route.dev.map(|d| format!(" on {d}")).unwrap_or_default();
    let unanswered = tables::neighbours_of(s.namespace, dst.is_ipv6())
        .ok()?
        .into_iter()
        .filter(|n| n.dst == next.to_string())
        .find_map(|n| {
            n.state
                .into_iter()
                .find(|st| st == "FAILED" || st == "INCOMPLETE")
        });
    // NDP plays ARP's part in IPv6.
    let asked = match dst {
        IpAddr::V4(_) => "ARP",
        IpAddr::V6(_) => "NDP",
    };
    if let Some(state) = unanswered {
        return Some(format!(
            "{}'s {asked} for {next}{dev} got no answer (neighbour {state})",
            s.pod
        ));
    }
    let (host, host_ns, host_if) = s.host?;
    route.gateway?;
    // Whether the host answers for a gateway it does not own is proxy ARP's question: IPv4's.
    let next = crate::wire::v4(next)?;
    let owned = tables::addrs(host_ns).ok()?.iter().any(|a| a.ip == next);
    let answers = tables::proxy_arp(host_ns, &[host_if.to_string()]).ok()?[0]?;
    (!owned && !answers).then(|| {
        format!(
            "{}'s gateway {next} is no address of {host}, the node at the other end of its link, which does not answer ARP for others there (proxy_arp off)",
            s.pod
        )
    })
}

/// Why `node` (in `namespace`) sent a packet for `to` no further, where its state tells: no
/// route, or forwarding off (with `hint`). `None` where it has both, or cannot be read.
pub(super) fn cause(
    node: &str,
    namespace: &str,
    to: &RoutedTo,
    hint: Option<&String>,
) -> Option<String> {
    if !tables::forwards_ipv4(namespace).ok()? {
        let hint = hint.map(|h| format!("; {h}")).unwrap_or_default();
        return Some(format!(
            "{node} does not forward IPv4 (net.ipv4.ip_forward = 0){hint}"
        ));
    }
    if !tables::route_to(namespace, to.ip).ok()? {
        return Some(format!("{node} has no route to {}", to.named));
    }
    let strict = tables::strict_rp_filter(namespace).ok()?;
    let on = match strict.as_slice() {
        [] => return None,
        [all] if all == "all" => "every interface (net.ipv4.conf.all.rp_filter = 1)".to_string(),
        ifaces => format!("{} (rp_filter = 1)", ifaces.join(", ")),
    };
    Some(format!(
        "{node} checks reverse paths strictly on {on}: it drops a packet whose source it would route out of another interface"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(lines: &[&str]) -> NodeFacts {
        NodeFacts::of(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn proxy_arp_where_forwarding_was_meant_is_named_with_its_line() {
        let f = facts(&[
            "sysctl -w net.ipv6.conf.all.disable_ipv6=1",
            "sysctl -w net.ipv4.conf.all.proxy_arp=1",
        ]);
        assert_eq!(
            hint("host1", &f).unwrap(),
            "the lab sets net.ipv4.conf.all.proxy_arp=1 on host1's exec line 2, which does not enable forwarding"
        );
        assert_eq!(
            hint("host1", &facts(&["ip link set eth1 up"])).unwrap(),
            "host1's exec lines never set net.ipv4.ip_forward=1"
        );
        assert!(hint("host1", &facts(&["sysctl -w net.ipv4.ip_forward=1"])).is_none());
    }
}
