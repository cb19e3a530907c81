//! What a running node holds, read as the facts its exec lines would give: for a node that a
//! user configured by hand, or by a script outside the file, whose exec lines set nothing.

use super::exec_facts::{NodeFacts, Route, Tunnel};
use crate::sys::tables;
use ipnet::Ipv4Net;

/// The node in `namespace` as it is now; `None` where it does not exist or cannot be read.
pub fn facts(namespace: &str) -> Option<NodeFacts> {
    let mut facts = NodeFacts::default();
    for link in tables::links(namespace, None).ok()? {
        facts.devices.insert(link.ifname.clone());
        if let Some(mtu) = link.mtu.and_then(|m| u16::try_from(m).ok()) {
            facts.mtus.insert(link.ifname.clone(), mtu);
        }
        if let Some(bridge) = &link.master {
            facts.ports.insert(link.ifname.clone(), bridge.clone());
        }
        match link.kind() {
            Some("bridge") => facts.bridges.push(link.ifname.clone()),
            Some("ipip") => {
                facts
                    .tunnels
                    .insert(link.ifname.clone(), Tunnel::Ipip { over: None });
            }
            Some("vxlan") => {
                let data = link.vxlan().cloned().unwrap_or_default();
                let vxlan = Tunnel::Vxlan {
                    vni: data.id.unwrap_or(0),
                    port: data.port.unwrap_or(8472),
                    mtu: facts.mtus.get(&link.ifname).copied(),
                    over: None,
                };
                facts.tunnels.insert(link.ifname.clone(), vxlan);
            }
            _ => {}
        }
    }
    // Loopback is in every namespace: it says nothing of what a user configured.
    for a in tables::addrs(namespace)
        .ok()?
        .into_iter()
        .filter(|a| !a.ip.is_loopback())
    {
        if let Ok(net) = Ipv4Net::new(a.ip, a.prefix_len) {
            facts.addrs.push((a.dev, net));
        }
    }
    facts.routes = tables::routes(namespace)
        .ok()?
        .into_iter()
        .filter(|r| r.kind.is_none())
        .filter_map(|r| {
            let dest = r.prefix()?;
            Some(Route {
                dest: (dest.prefix_len() > 0).then_some(dest),
                via: r.gateway,
                dev: r.dev,
            })
        })
        .collect();
    Some(facts)
}
