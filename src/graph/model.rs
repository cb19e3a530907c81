//! The lab as a picture's content: which boxes, which lines, which words, read from the topology
//! file and its `cnilab.*` labels only. The formats in [`super::dot`] and [`super::mermaid`]
//! draw this and nothing else, so they cannot disagree about the lab.

use crate::family::Family;
use crate::lab::{Encap, Lab, LabHost, LABEL_ROLE};
use crate::plan::Mode;
use crate::topology::Topology;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Clone, Serialize)]
pub struct LabGraph {
    pub name: String,
    pub mode: Mode,
    /// Each host with the pods it runs, in host order.
    pub hosts: Vec<HostGroup>,
    /// Routers and switches, and any node cnilab has no role for.
    pub others: Vec<NodeBox>,
    pub links: Vec<Wire>,
    /// One per pair of hosts whose pods' packets cross the underlay in the lab's tunnel.
    pub tunnels: Vec<Tunnel>,
    /// The overlay as a whole, said once: what the tunnels carry and where they do not.
    pub overlay: Option<Overlay>,
    /// `gen --services S`: each Service and the pods it selects.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceBox>,
}

/// A Service: its ClusterIP and ports, how kube-proxy programs it, and its endpoint pods.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceBox {
    pub name: String,
    /// `10.96.0.11:80 → 8001, NodePort 30001 (iptables, cluster)`.
    pub summary: String,
    pub endpoints: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostGroup {
    pub host: NodeBox,
    pub pods: Vec<NodeBox>,
    /// The host's L2 segment (`cnilab.rack`), so that a drawing can keep a rack together.
    pub rack: Option<usize>,
}

/// The tunnel mesh in words: `encap` such as `VXLAN vni 1, UDP 4789`, then notes such as the
/// tunnel device and the pairs that are routed plain instead.
#[derive(Debug, Clone, Serialize)]
pub struct Overlay {
    pub encap: String,
    pub notes: Vec<String>,
}

/// One node: its name, its role and the lines of text under the name.
#[derive(Debug, Clone, Serialize)]
pub struct NodeBox {
    pub node: String,
    pub role: String,
    pub details: Vec<String>,
}

/// A link of the topology, with the interface at each end.
#[derive(Debug, Clone, Serialize)]
pub struct Wire {
    pub a: String,
    pub a_if: String,
    pub b: String,
    pub b_if: String,
}

/// An overlay tunnel between two hosts; `kind` says what it carries, e.g. `VXLAN vni 1, UDP 4789`.
#[derive(Debug, Clone, Serialize)]
pub struct Tunnel {
    pub a: String,
    pub b: String,
    pub kind: String,
}

impl LabGraph {
    pub fn from_topology(topo: &Topology, lab: &Lab) -> LabGraph {
        let hosts = lab
            .hosts
            .iter()
            .map(|h| HostGroup {
                host: NodeBox {
                    node: h.node.clone(),
                    role: "host".into(),
                    details: host_details(h),
                },
                pods: lab
                    .pods
                    .iter()
                    .filter(|p| p.host == h.index)
                    .map(|p| NodeBox {
                        node: p.node.clone(),
                        role: "pod".into(),
                        details: p
                            .addrs()
                            .iter()
                            .map(|ip| format!("{} {ip}", p.pod_if))
                            .collect(),
                    })
                    .collect(),
                rack: h.rack,
            })
            .collect();
        LabGraph {
            name: lab.name.clone(),
            mode: lab.mode(),
            hosts,
            others: others(topo, lab),
            links: wires(topo),
            tunnels: tunnels(lab),
            overlay: overlay(lab),
            services: services(lab),
        }
    }

    /// Every node name, in drawing order.
    pub fn node_names(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .flat_map(|g| std::iter::once(&g.host).chain(&g.pods))
            .chain(&self.others)
            .map(|b| b.node.as_str())
            .collect()
    }
}

/// A host's underlay addresses, then its pod prefixes, each family's: IPv4 first.
fn host_details(h: &LabHost) -> Vec<String> {
    let v6 = h.v6.as_ref().map(|v6| IpAddr::V6(v6.underlay_ip));
    let underlay = h.underlay_ip.map(IpAddr::V4).into_iter().chain(v6);
    underlay
        .map(|ip| format!("{} {ip}", h.underlay_if))
        .chain(h.pod_subnets().iter().map(|net| format!("pods {net}")))
        .collect()
}

fn services(lab: &Lab) -> Vec<ServiceBox> {
    let Some(s) = &lab.services else {
        return Vec::new();
    };
    s.services
        .iter()
        .map(|svc| ServiceBox {
            name: svc.name.clone(),
            summary: format!(
                "{}:{} → {}, NodePort {} ({}, {})",
                vips(svc),
                svc.port,
                svc.target_port,
                svc.node_port,
                s.kube_proxy,
                s.policy
            ),
            endpoints: svc.endpoints.clone(),
        })
        .collect()
}

/// A Service's ClusterIPs, `10.96.0.11` or `10.96.0.11,[fd00:10:96::11]` in a dual lab.
fn vips(svc: &crate::services::StatedService) -> String {
    let one = |ip: &std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    };
    svc.cluster_ips
        .iter()
        .map(one)
        .collect::<Vec<_>>()
        .join(",")
}

fn others(topo: &Topology, lab: &Lab) -> Vec<NodeBox> {
    let known =
        |n: &str| lab.hosts.iter().any(|h| h.node == n) || lab.pods.iter().any(|p| p.node == n);
    topo.nodes()
        .filter(|(name, _)| !known(name))
        .map(|(name, node)| {
            let role = node
                .labels
                .get(LABEL_ROLE)
                .map(|v| v.to_string())
                .or_else(|| node.kind.clone())
                .unwrap_or_else(|| "node".into());
            NodeBox {
                node: name.to_string(),
                role,
                details: Vec::new(),
            }
        })
        .collect()
}

fn wires(topo: &Topology) -> Vec<Wire> {
    topo.topology
        .links
        .iter()
        .filter_map(|link| match link.endpoints.as_slice() {
            [a, b] => {
                let (a, a_if) = a.split_once(':')?;
                let (b, b_if) = b.split_once(':')?;
                Some(Wire {
                    a: a.into(),
                    a_if: a_if.into(),
                    b: b.into(),
                    b_if: b_if.into(),
                })
            }
            _ => None,
        })
        .collect()
}

fn encap_words(encap: Encap) -> Option<String> {
    match encap {
        Encap::Vxlan(v) => Some(format!("VXLAN vni {}, UDP {}", v.vni, v.port)),
        Encap::Ipip => Some("IPIP (IP proto 4)".to_string()),
        Encap::Plain => None,
    }
}

/// The lab's encapsulation in words: the mode's, or where IPv6 crosses another way (an ipip
/// lab's VXLAN), each family's, e.g. `IPv4 in IPIP (IP proto 4), IPv6 in VXLAN vni 4096, UDP
/// 4789`.
fn lab_encap_words(lab: &Lab) -> Option<String> {
    family_encap_words(lab, |_| None)
}

/// [`lab_encap_words`], each family's words followed by its device where `dev` names one.
fn family_encap_words(lab: &Lab, dev: impl Fn(Family) -> Option<String>) -> Option<String> {
    match lab.encaps().as_slice() {
        [(_, one)] => encap_words(*one),
        all => {
            let each = all.iter().filter_map(|&(family, encap)| {
                let words = encap_words(encap)?;
                Some(match dev(family) {
                    Some(d) => format!("{family} in {words} ({d})"),
                    None => format!("{family} in {words}"),
                })
            });
            Some(each.collect::<Vec<_>>().join(", ")).filter(|w| !w.is_empty())
        }
    }
}

/// flannel and calico mesh every host with every other: one tunnel per pair of hosts, except
/// the pairs a host routes plain (DirectRouting, CrossSubnet).
fn tunnels(lab: &Lab) -> Vec<Tunnel> {
    // Where the families cross in different ways, each names its own device.
    let dev = |family| match family {
        Family::Ipv4 => lab.tunnel_dev.clone(),
        Family::Ipv6 => v6_tunnel_dev(lab),
    };
    let Some(mut kind) = family_encap_words(lab, dev) else {
        return Vec::new();
    };
    if let (Some(dev), None) = (v6_tunnel_dev(lab), lab.encap6) {
        kind.push_str(&format!(" (IPv6 in {dev})"));
    }
    let mut out = Vec::new();
    for (i, a) in lab.hosts.iter().enumerate() {
        for b in &lab.hosts[i + 1..] {
            let tunnelled = |x: &LabHost, y: &LabHost| {
                lab.families()
                    .into_iter()
                    .any(|f| lab.encap_between(x.index, y.index, f).is_tunnel())
            };
            if tunnelled(a, b) || tunnelled(b, a) {
                out.push(Tunnel {
                    a: a.node.clone(),
                    b: b.node.clone(),
                    kind: kind.clone(),
                });
            }
        }
    }
    out
}

/// The device a dual-stack lab tunnels IPv6 in (flannel's `flannel-v6.1`, Calico's
/// `vxlan-v6.calico`), if it has one.
fn v6_tunnel_dev(lab: &Lab) -> Option<String> {
    lab.hosts.first()?.v6.as_ref()?.tunnel_dev.clone()
}

fn overlay(lab: &Lab) -> Option<Overlay> {
    let encap = lab_encap_words(lab)?;
    let v6_dev = v6_tunnel_dev(lab);
    // The flavor's device carries IPv4: an IPv6-only lab has none.
    let v4_dev = lab.tunnel_dev.iter().filter(|_| lab.ip_family.has_v4());
    let mut notes: Vec<String> = (v4_dev.map(|d| format!("device {d}")))
        .chain(v6_dev.map(|d| {
            let under = lab.outer_family(Family::Ipv6);
            format!("IPv6 in {d}, over the {under} underlay")
        }))
        .collect();
    let plain = |a: &LabHost, b: &LabHost| {
        lab.encap_between(a.index, b.index, lab.families()[0]) == Encap::Plain
    };
    let pairs = || {
        lab.hosts
            .iter()
            .flat_map(|a| lab.hosts.iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.index != b.index)
    };
    if pairs().any(|(a, b)| plain(a, b)) {
        let by_rack = pairs().all(|(a, b)| plain(a, b) == (a.rack.is_some() && a.rack == b.rack));
        notes.push(if by_rack {
            "plain within a rack".to_string()
        } else {
            "plain between some hosts".to_string()
        });
    }
    Some(Overlay { encap, notes })
}
