//! The plan of a lab that carries no `cnilab.*` labels (the article's own files, or any lab of
//! the three data planes built by hand), inferred from its links and exec lines and written as
//! the labels `cnilab gen` would have written. verify, trace, graph and `cnilab label` then
//! read those labels as they read any file's: inference is just another way to build a [`Lab`].
//!
//! [`Lab`]: super::Lab

pub mod exec_facts;
pub mod label_text;
mod pod_subnet;
pub mod roles;
pub mod running;
mod vteps;

use super::*;
use exec_facts::{NodeFacts, Tunnel};
use ipnet::Ipv4Net;
use roles::{Neighbour, Roles};
use std::collections::BTreeMap;

/// A link's MTU where no exec line sets one: what the runtime gives every link.
const LINK_MTU: u16 = crate::topology::DEFAULT_LINK_MTU as u16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InferError {
    #[error("no node carries pods, so no node is a host (a pod is a node with one link and an address on it; its host is the node at the other end, not a bridge); the nodes: {nodes}")]
    NoHosts { nodes: String },
    #[error("found {0} pod(s); verify needs at least two")]
    TooFewPods(usize),
    #[error("node `{node}`: {why}")]
    Ambiguous { node: String, why: String },
    #[error("node `{node}`, exec line {line} `{text}`: no link and no exec line of `{node}` makes `{dev}`")]
    NoSuchDevice {
        node: String,
        line: usize,
        text: String,
        dev: String,
    },
    #[error("node `{pod}` links to `{node}`, which is not among the topology's nodes")]
    Undeclared { pod: String, node: String },
}

/// The labels inferred for each node, and what was inferred in one line.
#[derive(Debug, Clone)]
pub struct Inference {
    pub labels: BTreeMap<String, BTreeMap<&'static str, String>>,
    /// `vxlan (VNI 1, UDP 4789), 2 hosts, 2 pods, 2 routers`
    pub summary: String,
}

impl Inference {
    /// `topo` with the inferred labels added to its nodes.
    pub fn labelled(&self, topo: &Topology) -> Topology {
        let mut topo = topo.clone();
        for (name, node) in topo.topology.nodes.iter_mut() {
            let Some(labels) = self.labels.get(name) else {
                continue;
            };
            let node = node.get_or_insert_with(Default::default);
            for (key, value) in labels {
                node.labels.insert(
                    key.to_string(),
                    crate::topology::LabelValue::Text(value.clone()),
                );
            }
        }
        topo
    }
}

/// A host as inferred, before it becomes labels.
struct HostSeen {
    node: String,
    index: usize,
    underlay_if: String,
    underlay_ip: Ipv4Addr,
    underlay_mtu: u16,
    pod_subnet: Ipv4Net,
}

/// The plan from the file alone.
pub fn infer(topo: &Topology) -> Result<Inference, InferError> {
    infer_with(topo, &|_| None)
}

/// The plan from the file, and from the running lab for each node whose exec lines set no
/// address: the file states what the lab should be, so it wins wherever it says anything, and a
/// fault in a running node does not become the plan.
pub fn infer_running(topo: &Topology) -> Result<Inference, InferError> {
    infer_with(topo, &|node| running::facts(&topo.namespace(node)))
}

fn infer_with(
    topo: &Topology,
    live: &dyn Fn(&str) -> Option<NodeFacts>,
) -> Result<Inference, InferError> {
    let (facts, read_live) = node_facts(topo, live);
    for (node, f) in &facts {
        lines_name_devices(topo, node, f)?;
    }
    let links = roles::neighbours(topo);
    let roles = roles::roles(topo, &facts, &links)?;
    let hosts = roles
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| host_seen(h, i + 1, &facts, &links[h], &roles))
        .collect::<Result<Vec<_>, _>>()?;
    let tunnel = lab_tunnel(&hosts, &facts)?;
    let mode = tunnel.as_ref().map_or(Mode::HostGw, |(_, t)| match t {
        Tunnel::Vxlan { .. } => Mode::Vxlan,
        Tunnel::Ipip { .. } => Mode::Ipip,
    });
    let mut labels = BTreeMap::new();
    let host_names: Vec<&str> = hosts.iter().map(|h| h.node.as_str()).collect();
    let vteps = vteps::labels(&host_names, &facts, &tunnel);
    for host in &hosts {
        let mut host_labels = host_labels(host, mode, &tunnel, &hosts, &facts);
        host_labels.extend(vteps.get(&host.node).cloned().into_iter().flatten());
        labels.insert(host.node.clone(), host_labels);
    }
    for (pod, host) in &roles.pods {
        let host = hosts
            .iter()
            .find(|h| &h.node == host)
            .expect("a pod's host is a host");
        labels.insert(
            pod.clone(),
            pod_labels(pod, host, mode, &tunnel, &facts, &links)?,
        );
    }
    for router in &roles.routers {
        labels.insert(router.clone(), router_labels(mode, &links[router]));
    }
    for switch in &roles.switches {
        labels.insert(switch.clone(), role_labels(mode, "switch"));
    }
    let mut summary = summary(mode, &tunnel, &roles);
    if !read_live.is_empty() {
        summary.push_str(&format!(
            "; read from the running lab: {}",
            read_live.join(", ")
        ));
    }
    Ok(Inference { labels, summary })
}

/// Each node's facts, from its exec lines or, where they set no address, the running node;
/// and the nodes read live.
fn node_facts(
    topo: &Topology,
    live: &dyn Fn(&str) -> Option<NodeFacts>,
) -> (BTreeMap<String, NodeFacts>, Vec<String>) {
    let mut read_live = Vec::new();
    let facts = topo
        .nodes()
        .map(|(name, node)| {
            let stated = NodeFacts::of(&node.exec);
            let bridge = matches!(node.kind.as_deref(), Some("bridge" | "ovs-bridge"));
            let facts = match stated.addrs.is_empty() && !bridge {
                true => live(name).filter(|f| !f.addrs.is_empty()),
                false => None,
            };
            if facts.is_some() {
                read_live.push(name.to_string());
            }
            (name.to_string(), facts.unwrap_or(stated))
        })
        .collect();
    (facts, read_live)
}

fn host_seen(
    node: &str,
    index: usize,
    all: &BTreeMap<String, NodeFacts>,
    links: &[Neighbour],
    roles: &Roles,
) -> Result<HostSeen, InferError> {
    let facts = &all[node];
    let ambiguous = |why: String| InferError::Ambiguous {
        node: node.to_string(),
        why,
    };
    let (to_pods, others): (Vec<&Neighbour>, Vec<&Neighbour>) =
        links.iter().partition(|n| roles.pods.contains_key(&n.node));
    let underlay = underlay(facts, &others).map_err(|why| {
        // A stub such as an external client on a router looks like a pod: say so.
        let pods: Vec<String> = to_pods.iter().map(|n| format!("`{}`", n.node)).collect();
        ambiguous(format!(
            "it is taken for a host because {} (one link, with an address) hangs off it, but {why}",
            pods.join(", ")
        ))
    })?;
    let underlay_ip = facts.addrs_on(&underlay.iface).next().ok_or_else(|| {
        ambiguous(format!(
            "its underlay {} gets no address in its exec lines",
            underlay.iface
        ))
    })?;
    let pod_subnet = pod_subnet::of(node, all, &to_pods, roles).map_err(ambiguous)?;
    Ok(HostSeen {
        node: node.to_string(),
        index,
        underlay_if: underlay.iface.clone(),
        underlay_ip: underlay_ip.addr(),
        underlay_mtu: facts.mtus.get(&underlay.iface).copied().unwrap_or(LINK_MTU),
        pod_subnet,
    })
}

/// A line that configures a device nothing makes fails at deploy on the netns runtime, and
/// under containerlab fails with only a log line: the lab the file describes is not the lab
/// that runs (a pod's address on it would make the pod a router), so no plan is read from it.
fn lines_name_devices(topo: &Topology, node: &str, facts: &NodeFacts) -> Result<(), InferError> {
    let links = roles::neighbours(topo);
    let linked = |dev: &str| {
        links
            .get(node)
            .is_some_and(|l| l.iter().any(|n| n.iface == dev))
    };
    for (line, dev) in &facts.named {
        if dev != "lo" && !facts.devices.contains(dev) && !linked(dev) {
            let exec = topo
                .node(node)
                .map(|n| n.exec.as_slice())
                .unwrap_or_default();
            return Err(InferError::NoSuchDevice {
                node: node.to_string(),
                line: *line,
                text: exec.get(line - 1).cloned().unwrap_or_default(),
                dev: dev.clone(),
            });
        }
    }
    Ok(())
}

/// The host's one link that leads to no pod; where it has more, the one with an address (a
/// management link gets none from the lab), or the one its tunnel is bound to.
fn underlay<'a>(facts: &NodeFacts, others: &[&'a Neighbour]) -> Result<&'a Neighbour, String> {
    let addressed: Vec<&Neighbour> = others
        .iter()
        .copied()
        .filter(|n| facts.addrs_on(&n.iface).next().is_some())
        .collect();
    let bound: Vec<&Neighbour> = addressed
        .iter()
        .copied()
        .filter(|n| facts.tunnels.values().any(|t| t.over() == Some(&n.iface)))
        .collect();
    match (others, addressed.as_slice(), bound.as_slice()) {
        ([only], _, _) | (_, [only], _) | (_, _, [only]) => Ok(only),
        _ => {
            let ifs: Vec<&str> = others.iter().map(|n| n.iface.as_str()).collect();
            Err(format!(
                "a host needs one link that leads to no pod (its underlay); it has {}: [{}], \
                 and {} of them get an address, none the one a tunnel is bound to (`dev`)",
                ifs.len(),
                ifs.join(", "),
                addressed.len()
            ))
        }
    }
}

/// Each host's tunnel to each peer, from its route to the peer's pods: the lab's tunnel, if
/// any pair has one.
fn lab_tunnel(
    hosts: &[HostSeen],
    facts: &BTreeMap<String, NodeFacts>,
) -> Result<Option<(String, Tunnel)>, InferError> {
    let mut found: Option<(String, String, Tunnel)> = None;
    for host in hosts {
        for peer in hosts.iter().filter(|p| p.index != host.index) {
            let Some((dev, tunnel)) = tunnel_to(&facts[&host.node], &peer.pod_subnet) else {
                continue;
            };
            match &found {
                Some((_, _, t)) if same_kind(t, &tunnel) => {}
                Some((first, _, t)) => {
                    return Err(InferError::Ambiguous {
                        node: host.node.clone(),
                        why: format!(
                            "its route to {} ({}'s pods) uses {dev}, {}, where {first} uses {}; one lab has one tunnel",
                            peer.pod_subnet, peer.node, describe(&tunnel), describe(t)
                        ),
                    })
                }
                None => found = Some((host.node.clone(), dev, tunnel)),
            }
        }
    }
    Ok(found.map(|(_, dev, t)| (dev, t)))
}

/// The tunnel device the host's route to `net` leaves by, if it is one.
fn tunnel_to(facts: &NodeFacts, net: &Ipv4Net) -> Option<(String, Tunnel)> {
    let dev = facts.route_to(net)?.dev.as_ref()?;
    facts.tunnels.get(dev).map(|t| (dev.clone(), t.clone()))
}

fn same_kind(a: &Tunnel, b: &Tunnel) -> bool {
    match (a, b) {
        (
            Tunnel::Vxlan { vni, port, .. },
            Tunnel::Vxlan {
                vni: v, port: p, ..
            },
        ) => vni == v && port == p,
        (Tunnel::Ipip { .. }, Tunnel::Ipip { .. }) => true,
        _ => false,
    }
}

fn describe(t: &Tunnel) -> String {
    match t {
        Tunnel::Vxlan { vni, port, .. } => format!("VXLAN (VNI {vni}, UDP {port})"),
        Tunnel::Ipip { .. } => "IPIP".into(),
    }
}

fn role_labels(mode: Mode, role: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        (LABEL_MODE, mode.to_string()),
        (LABEL_ROLE, role.to_string()),
    ])
}

fn host_labels(
    host: &HostSeen,
    mode: Mode,
    tunnel: &Option<(String, Tunnel)>,
    hosts: &[HostSeen],
    facts: &BTreeMap<String, NodeFacts>,
) -> BTreeMap<&'static str, String> {
    let mut labels = role_labels(mode, "host");
    labels.insert(LABEL_HOST, host.index.to_string());
    labels.insert(LABEL_UNDERLAY_IF, host.underlay_if.clone());
    labels.insert(LABEL_UNDERLAY_IP, host.underlay_ip.to_string());
    labels.insert(LABEL_POD_SUBNET, host.pod_subnet.to_string());
    if let Some((_, Tunnel::Vxlan { vni, port, .. })) = tunnel {
        labels.insert(LABEL_VNI, vni.to_string());
        labels.insert(LABEL_VXLAN_PORT, port.to_string());
    }
    if tunnel.is_some() {
        // A peer whose pods this host routes to without the tunnel is reached plain.
        let plain: Vec<String> = hosts
            .iter()
            .filter(|p| p.index != host.index)
            .filter(|p| {
                let f = &facts[&host.node];
                f.route_to(&p.pod_subnet).is_some() && tunnel_to(f, &p.pod_subnet).is_none()
            })
            .map(|p| p.index.to_string())
            .collect();
        if !plain.is_empty() {
            labels.insert(LABEL_DIRECT_TO, plain.join(","));
        }
    }
    labels
}

fn pod_labels(
    pod: &str,
    host: &HostSeen,
    mode: Mode,
    tunnel: &Option<(String, Tunnel)>,
    facts: &BTreeMap<String, NodeFacts>,
    links: &BTreeMap<String, Vec<Neighbour>>,
) -> Result<BTreeMap<&'static str, String>, InferError> {
    let iface = &links[pod][0].iface;
    let ip = facts[pod]
        .addrs_on(iface)
        .next()
        .expect("a pod has an address");
    if !host.pod_subnet.contains(&ip.addr()) {
        return Err(InferError::Ambiguous {
            node: pod.to_string(),
            why: format!(
                "its address {} is not in {} ({}'s pod subnet)",
                ip.addr(),
                host.pod_subnet,
                host.node
            ),
        });
    }
    let own_mtu = facts[pod].mtus.get(iface).copied().unwrap_or(LINK_MTU);
    let mut labels = role_labels(mode, "pod");
    labels.insert(LABEL_HOST, host.index.to_string());
    labels.insert(LABEL_POD_IP, ip.addr().to_string());
    labels.insert(LABEL_POD_IF, iface.clone());
    let carried = tunnel_mtu(host, tunnel, &facts[&host.node]);
    labels.insert(LABEL_MTU, own_mtu.min(carried).to_string());
    if own_mtu > carried {
        labels.insert(LABEL_MTU_FROM, "tunnel".to_string());
    }
    Ok(labels)
}

/// The largest packet the host's tunnel carries: what a full-size probe can be. The kernel
/// sizes a tunnel to the device it is bound to (`dev`), less the outer headers; unbound, to an
/// Ethernet's 1500 less them.
/// The host's own device of that name is read, since each host binds and sizes its own; a
/// later `ip link set DEV mtu N` wins over what it was made with.
fn tunnel_mtu(host: &HostSeen, tunnel: &Option<(String, Tunnel)>, facts: &NodeFacts) -> u16 {
    let Some((dev, lab_tunnel)) = tunnel else {
        return host.underlay_mtu;
    };
    if let Some(mtu) = facts.mtus.get(dev) {
        return *mtu;
    }
    let below = |over: &Option<String>| match over {
        Some(dev) if *dev == host.underlay_if => host.underlay_mtu,
        Some(_) | None => 1500,
    };
    match facts.tunnels.get(dev).unwrap_or(lab_tunnel) {
        Tunnel::Vxlan { mtu: Some(m), .. } => *m,
        Tunnel::Vxlan { over, .. } => below(over) - 50,
        Tunnel::Ipip { over } => below(over) - 20,
    }
}

fn router_labels(mode: Mode, links: &[Neighbour]) -> BTreeMap<&'static str, String> {
    let mut labels = role_labels(mode, "router");
    let ifs: Vec<&str> = links.iter().map(|n| n.iface.as_str()).collect();
    labels.insert(LABEL_CAPTURE, ifs.join(","));
    labels
}

fn summary(mode: Mode, tunnel: &Option<(String, Tunnel)>, roles: &Roles) -> String {
    let kind = match tunnel {
        Some((_, Tunnel::Vxlan { vni, port, .. })) => format!("vxlan (VNI {vni}, UDP {port})"),
        _ => mode.to_string(),
    };
    format!(
        "{kind}, {} hosts, {} pods, {} routers",
        roles.hosts.len(),
        roles.pods.len(),
        roles.routers.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(file: &str) -> Topology {
        let text = match file {
            "host-gw" => include_str!("../../../examples/article/host-gw.clab.yaml"),
            "vxlan" => include_str!("../../../examples/article/vxlan.clab.yaml"),
            _ => include_str!("../../../examples/article/ipip.clab.yaml"),
        };
        Topology::parse(text).unwrap()
    }

    fn inferred(file: &str) -> (Inference, Lab) {
        let topo = article(file);
        let inference = infer(&topo).unwrap();
        let lab = Lab::from_topology(&inference.labelled(&topo)).unwrap();
        (inference, lab)
    }

    #[test]
    fn the_article_vxlan_lab_is_two_hosts_over_two_routers() {
        let (inference, lab) = inferred("vxlan");
        assert_eq!(
            inference.summary,
            "vxlan (VNI 1, UDP 4789), 2 hosts, 2 pods, 2 routers"
        );
        assert_eq!(lab.encap, Encap::Vxlan(VxlanParams { vni: 1, port: 4789 }));
        let h: Vec<_> = lab
            .hosts
            .iter()
            .map(|h| {
                (
                    h.node.as_str(),
                    h.v4_underlay(),
                    h.pod_subnet.unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            h,
            [
                (
                    "host1",
                    Ipv4Addr::new(10, 0, 1, 2),
                    "172.16.0.0/24".to_string()
                ),
                (
                    "host2",
                    Ipv4Addr::new(10, 0, 2, 2),
                    "172.16.1.0/24".to_string()
                )
            ]
        );
        assert_eq!(lab.pods[1].ip, Some(Ipv4Addr::new(172, 16, 1, 2)));
        assert_eq!(lab.pods[1].host_if.as_deref(), Some("pod2_veth_piar"));
        // The pods keep the link's 9500, but flannel.1 carries 50 bytes less: a full-size
        // probe is sized to it.
        assert_eq!((lab.pods[0].mtu, lab.pods[0].mtu_from_tunnel), (9450, true));
        let routers: Vec<_> = lab
            .routers
            .iter()
            .map(|r| (r.node.as_str(), r.capture.join(",")))
            .collect();
        assert_eq!(
            routers,
            [
                ("gw1", "eth1,eth2".to_string()),
                ("gw2", "eth1,eth2".to_string())
            ]
        );
        assert!(lab.hosts.iter().all(|h| h.direct_to.is_none()));
    }

    #[test]
    fn the_article_host_gw_lab_is_plain_over_its_switch() {
        let (inference, lab) = inferred("host-gw");
        assert_eq!(inference.summary, "host-gw, 2 hosts, 2 pods, 0 routers");
        assert_eq!(lab.encap, Encap::Plain);
        assert_eq!(
            lab.hosts[1].underlay_ip,
            Some(Ipv4Addr::new(192, 168, 0, 200))
        );
        assert_eq!(lab.hosts[1].pod_subnet.unwrap().to_string(), "10.0.2.0/24");
        assert_eq!(
            (lab.pods[0].mtu, lab.pods[0].mtu_from_tunnel),
            (9500, false)
        );
        assert_eq!(inference.labels["switch"][LABEL_ROLE], "switch");
    }

    #[test]
    fn the_article_ipip_lab_is_three_hosts_round_one_router() {
        let (inference, lab) = inferred("ipip");
        assert!(
            inference.summary.starts_with("ipip, 3 hosts, "),
            "{}",
            inference.summary
        );
        assert_eq!(lab.encap, Encap::Ipip);
        // tunl1 is bound to no device: the kernel sizes it to 1500 less the outer header.
        assert_eq!((lab.pods[0].mtu, lab.pods[0].mtu_from_tunnel), (1480, true));
        assert_eq!(lab.routers[0].capture, ["eth1", "eth2", "eth3"]);
    }

    #[test]
    fn a_host_that_routes_one_peer_plain_makes_a_hybrid() {
        let text = include_str!("../../../examples/article/ipip.clab.yaml").replacen(
            "ip route add 172.16.1.0/24 via 10.0.2.2 dev tunl1 onlink",
            "ip route add 172.16.1.0/24 via 10.0.1.1 dev eth1",
            1,
        );
        let topo = Topology::parse(&text).unwrap();
        let inference = infer(&topo).unwrap();
        assert_eq!(inference.labels["host1"][LABEL_DIRECT_TO], "2");
        let lab = Lab::from_topology(&inference.labelled(&topo)).unwrap();
        assert_eq!(lab.encap_between(1, 2, Family::Ipv4), Encap::Plain);
        assert_eq!(lab.encap_between(1, 3, Family::Ipv4), Encap::Ipip);
        assert_eq!(lab.encap_between(2, 1, Family::Ipv4), Encap::Ipip);
    }

    #[test]
    fn two_tunnel_kinds_in_one_lab_are_refused() {
        let text = include_str!("../../../examples/article/ipip.clab.yaml").replacen(
            "ip tunnel add tunl1 mode ipip local 10.0.3.2",
            "ip link add tunl1 type vxlan id 1 dev eth1 dstport 4789",
            1,
        );
        let e = infer(&Topology::parse(&text).unwrap()).unwrap_err();
        assert!(e.to_string().contains("one lab has one tunnel"), "{e}");
    }

    #[test]
    fn two_pods_on_a_bridge_and_nothing_else_is_no_lab() {
        let topo = Topology::parse(
            "name: flat\ntopology:\n  nodes:\n    br:\n      kind: bridge\n    a:\n      kind: linux\n      exec:\n      - ip addr add 10.1.0.1/24 dev eth1\n    b:\n      kind: linux\n      exec:\n      - ip addr add 10.1.0.2/24 dev eth1\n  links:\n  - endpoints: [\"a:eth1\", \"br:p1\"]\n  - endpoints: [\"b:eth1\", \"br:p2\"]\n",
        )
        .unwrap();
        let e = infer(&topo).unwrap_err();
        assert!(matches!(e, InferError::NoHosts { .. }), "{e}");
        assert!(e.to_string().contains("the nodes: a, b, br"), "{e}");
    }

    /// The article's `file` with a second link from host1's `eth9` to its router, and `exec`.
    fn with_second_link(file: &str, exec: &[&str]) -> Topology {
        let mut topo = article(file);
        let router = if file == "vxlan" {
            "gw2:eth9"
        } else {
            "gw:eth9"
        };
        topo.topology.links.push(crate::topology::Link {
            endpoints: vec!["host1:eth9".into(), router.into()],
            other: Default::default(),
        });
        let host1 = topo
            .topology
            .nodes
            .get_mut("host1")
            .unwrap()
            .as_mut()
            .unwrap();
        host1.exec.extend(exec.iter().map(|l| l.to_string()));
        topo
    }

    #[test]
    fn a_second_link_without_an_address_is_no_underlay() {
        let inference = infer(&with_second_link("ipip", &[])).unwrap();
        assert_eq!(inference.labels["host1"][LABEL_UNDERLAY_IF], "eth1");
    }

    #[test]
    fn of_two_addressed_links_the_one_the_tunnel_is_bound_to_is_the_underlay() {
        let topo = with_second_link("vxlan", &["ip addr add 10.9.9.1/24 dev eth9"]);
        let inference = infer(&topo).unwrap();
        assert_eq!(inference.labels["host1"][LABEL_UNDERLAY_IF], "eth1");
    }

    #[test]
    fn a_host_with_two_underlays_is_named() {
        let topo = with_second_link("ipip", &["ip addr add 10.9.9.1/24 dev eth9"]);
        let e = infer(&topo).unwrap_err();
        assert_eq!(
            e.to_string(),
            "node `host1`: it is taken for a host because `pod1` (one link, with an address) \
             hangs off it, but a host needs one link that leads to no pod (its underlay); it has \
             2: [eth1, eth9], and 2 of them get an address, none the one a tunnel is bound to \
             (`dev`)"
        );
    }

    #[test]
    fn a_route_out_of_a_device_nothing_makes_is_named_with_its_line() {
        let text = include_str!("../../../tests/fixtures/handmade/vxlan-default-port.clab.yaml")
            .replacen("via 172.20.1.0 dev vx0", "via 172.20.1.0 dev vx1", 1);
        let e = infer(&Topology::parse(&text).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "node `bob`, exec line 13 `ip route add 172.20.1.0/24 via 172.20.1.0 dev vx1 onlink`: \
             no link and no exec line of `bob` makes `vx1`"
        );
    }

    /// Each host's IPIP device in another spelling: bound to its underlay, or named by `dev`,
    /// or the kernel's own tunl0. Each pod's MTU is its own host's tunnel's.
    #[test]
    fn ipip_devices_spelled_three_ways_are_one_ipip_lab() {
        let article = include_str!("../../../examples/article/ipip.clab.yaml")
            .replacen(
                "ip tunnel add tunl1 mode ipip local 10.0.1.2",
                "ip link add name tunl1 type ipip local 10.0.1.2 dev eth1",
                1,
            )
            .replacen(
                "ip tunnel add tunl1 mode ipip local 10.0.2.2",
                "ip link add dev tunl1 type ipip local 10.0.2.2",
                1,
            );
        let (head, host3) = article
            .split_once("ip tunnel add tunl1 mode ipip local 10.0.3.2")
            .unwrap();
        let host3 = host3.replacen("dev tunl1", "dev tunl0", 2).replacen(
            "ip link set tunl1 up",
            "ip link set tunl0 up",
            1,
        );
        let text = format!("{head}true{host3}");
        let topo = Topology::parse(&text).unwrap();
        let inference = infer(&topo).unwrap();
        assert!(
            inference.summary.starts_with("ipip, 3 hosts"),
            "{}",
            inference.summary
        );
        assert!(!inference.labels["host3"].contains_key(LABEL_DIRECT_TO));
        assert_eq!(inference.labels["pod1"][LABEL_MTU], "9480");
        assert_eq!(inference.labels["pod2"][LABEL_MTU], "1480");
    }

    /// A pod's address on an interface its link does not name made the pod a router.
    #[test]
    fn a_pod_address_on_a_device_nothing_makes_is_named_with_its_line() {
        let text = include_str!("../../../tests/fixtures/handmade/hostgw-three-hosts.clab.yaml")
            .replacen("10.9.1.10/24 dev eth0", "10.9.1.10/24 dev eth1", 1);
        let e = infer(&Topology::parse(&text).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "node `ant`, exec line 1 `ip addr add 10.9.1.10/24 dev eth1`: no link and no exec \
             line of `ant` makes `eth1`"
        );
    }
}
