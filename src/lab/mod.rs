//! The plan as the file states it: what `cnilab gen` wrote into node labels, read back.
//!
//! verify, graph, trace and bench read a lab through this and nothing else, so a file a user
//! edited by hand is judged by what it says about itself.

use crate::family::{Family, IpFamily};
use crate::plan::{Flavor, Mode};
use crate::topology::{Node, Topology};
pub use crate::wire::{Encap, VxlanParams};
pub mod expect;
pub mod file;
pub mod infer;
pub mod point;
pub mod wireguard;

use expect::{ExpectFail, HostSet};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

pub const LABEL_MODE: &str = "cnilab.mode";
pub const LABEL_ROLE: &str = "cnilab.role";
/// `outside`'s interface on the underlay.
pub const LABEL_OUTSIDE_IF: &str = "cnilab.outside-if";
pub const LABEL_HOST: &str = "cnilab.host";
pub const LABEL_UNDERLAY_IF: &str = "cnilab.underlay-if";
pub const LABEL_UNDERLAY_IP: &str = "cnilab.underlay-ip";
pub const LABEL_POD_SUBNET: &str = "cnilab.pod-subnet";
pub const LABEL_POD_IP: &str = "cnilab.pod-ip";
/// ipv6 or dual; a lab without it is IPv4 only.
pub const LABEL_IP_FAMILY: &str = "cnilab.ip-family";
/// The IPv6 side of the plan, in an ipv6 or dual lab.
pub const LABEL_UNDERLAY_IP6: &str = "cnilab.underlay-ip6";
pub const LABEL_POD_IP6: &str = "cnilab.pod-ip6";
pub const LABEL_POD_SUBNET6: &str = "cnilab.pod-subnet6";
/// A host's IPv6 VTEP: its address, its device (flannel's `flannel-v6.1`, Calico's
/// `vxlan-v6.calico`) and its MAC.
pub const LABEL_VTEP_IP6: &str = "cnilab.vtep-ip6";
pub const LABEL_TUNNEL6_DEV: &str = "cnilab.tunnel6-dev";
pub const LABEL_VTEP_MAC6: &str = "cnilab.vtep-mac6";
pub const LABEL_POD_IF: &str = "cnilab.pod-if";
pub const LABEL_MTU: &str = "cnilab.mtu";
/// `tunnel` where a pod's `cnilab.mtu` is what its host's tunnel carries rather than what the
/// lab sets on the pod: an inferred plan, whose author stated no MTU.
pub const LABEL_MTU_FROM: &str = "cnilab.mtu-from";
pub const LABEL_VNI: &str = "cnilab.vni";
pub const LABEL_VXLAN_PORT: &str = "cnilab.vxlan-port";
/// How IPv6 pod packets cross the underlay where it is not the mode's way: `vxlan` in an ipip
/// lab (IPIP carries IPv4 only), with the VNI and port of `cnilab.vni` and `cnilab.vxlan-port`.
pub const LABEL_ENCAP6: &str = "cnilab.encap6";
/// The family of the underlay every tunnel of the lab runs over, where the lab fixes one
/// (Cilium's `underlay-protocol`): IPv6 pod packets then cross in VXLAN over IPv4.
pub const LABEL_UNDERLAY_PROTOCOL: &str = "cnilab.underlay-protocol";
pub const LABEL_CAPTURE: &str = "cnilab.capture";
pub const LABEL_FLAVOR: &str = "cnilab.flavor";
pub const LABEL_TUNNEL_DEV: &str = "cnilab.tunnel-dev";
pub const LABEL_VTEP_IP: &str = "cnilab.vtep-ip";
pub const LABEL_VTEP_MAC: &str = "cnilab.vtep-mac";
/// `route` where a host's tunnel device is flow-based (external): no FDB, the key per packet.
pub const LABEL_TUNNEL_KEY: &str = "cnilab.tunnel-key";
/// The L2 segment a host is in, where the underlay has several.
pub const LABEL_RACK: &str = "cnilab.rack";
/// A host's expected failures (see [`expect`]): the hosts its pods cannot
/// reach, the node where their packets die, and why.
pub const LABEL_EXPECT_FAIL_TO: &str = "cnilab.expect-fail-to";
pub const LABEL_EXPECT_FAIL_AT: &str = "cnilab.expect-fail-at";
pub const LABEL_EXPECT_FAIL_WHY: &str = "cnilab.expect-fail-why";
/// flannel's DirectRouting or Calico's CrossSubnet: the hosts this host reaches plain, via the
/// peer (its own subnet). Every other pair has the lab's tunnel on the wire.
pub const LABEL_DIRECT_TO: &str = "cnilab.direct-to";
/// The route protocol (a number, as `ip route` prints it) of the host's plain routes to the
/// `cnilab.direct-to` peers, and of its tunnel routes to the rest, where the lab states one
/// (Calico's felix stamps its own).
pub const LABEL_DIRECT_PROTO: &str = "cnilab.direct-proto";
pub const LABEL_TUNNEL_PROTO: &str = "cnilab.tunnel-proto";
/// `veth` where each pod's host-side veth is routed, with a /32 route to the pod on it.
pub const LABEL_POD_ROUTE: &str = "cnilab.pod-route";
/// `"1"` where the host answers ARP on each pod's veth (Calico's gateway that exists nowhere).
pub const LABEL_PROXY_ARP: &str = "cnilab.proxy-arp";

#[derive(Debug, Clone, Serialize)]
pub struct Lab {
    pub name: String,
    /// What crosses the underlay between hosts; the mode follows from it. IPv4 pod packets
    /// always cross this way, IPv6 ones unless `encap6` says otherwise.
    pub encap: Encap,
    /// How IPv6 pod packets cross where it differs from the mode's (`cnilab.encap6`): an ipip
    /// lab sends them in VXLAN, as Calico's dual-stack does. See [`Lab::encap_in`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap6: Option<Encap>,
    /// The family of the underlay the tunnels run over where the lab fixes one
    /// (`cnilab.underlay-protocol`); otherwise each family tunnels over its own. See
    /// [`Lab::outer_family`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub underlay_protocol: Option<Family>,
    /// Whose way of programming the mode (`article` where the file names none).
    pub flavor: Flavor,
    /// The tunnel device the flavor names (`cnilab.tunnel-dev`), e.g. `flannel.1`, `tunl0`.
    pub tunnel_dev: Option<String>,
    /// The WireGuard tunnel pod traffic crosses hosts in (`cnilab.encryption: wireguard`).
    pub encryption: Option<wireguard::LabWireguard>,
    pub hosts: Vec<LabHost>,
    pub pods: Vec<LabPod>,
    pub routers: Vec<LabRouter>,
    /// The families its pods and hosts carry (`cnilab.ip-family`; ipv4 where the file says none).
    pub ip_family: IpFamily,
    /// `gen --services S`: the Services, kube-proxy's mode and `outside`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<LabServices>,
}

/// The Services a lab states (`cnilab.services` and its companions on every host), and the
/// `outside` node (`cnilab.role: outside`).
#[derive(Debug, Clone, Serialize)]
pub struct LabServices {
    pub kube_proxy: crate::services::KubeProxy,
    pub policy: crate::services::TrafficPolicy,
    /// The pod subnets in each family (`cnilab.cluster-cidr`, comma-separated).
    pub cluster_cidr: Vec<ipnet::IpNet>,
    pub services: Vec<crate::services::StatedService>,
    pub outside: LabOutside,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabOutside {
    pub node: String,
    pub namespace: String,
    /// Its address in each family the lab carries (`cnilab.outside-ip`, `cnilab.outside-ip6`).
    pub ip: Option<std::net::Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub iface: String,
}

impl LabOutside {
    /// Its address in `family`, where it has one.
    pub fn addr(&self, family: Family) -> Option<IpAddr> {
        match family {
            Family::Ipv4 => self.ip.map(IpAddr::V4),
            Family::Ipv6 => self.ip6.map(IpAddr::V6),
        }
    }
}

impl LabServices {
    /// A Service's endpoints as pods of the lab, in the order the label names them.
    pub fn endpoints<'a>(
        &self,
        lab: &'a Lab,
        svc: &crate::services::StatedService,
    ) -> Vec<&'a LabPod> {
        svc.endpoints
            .iter()
            .filter_map(|name| lab.pods.iter().find(|p| &p.node == name))
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LabHost {
    pub node: String,
    pub namespace: String,
    pub index: usize,
    pub underlay_if: String,
    /// The host's IPv4 side (`cnilab.underlay-ip`, `cnilab.pod-subnet`); none in an IPv6-only lab.
    pub underlay_ip: Option<Ipv4Addr>,
    pub pod_subnet: Option<ipnet::Ipv4Net>,
    /// The tunnel device is flow-based (Cilium): it has no FDB, and needs none.
    pub flow_based: bool,
    /// The host's tunnel address (`cnilab.vtep-ip`), where the flavor gives it one.
    pub vtep_ip: Option<Ipv4Addr>,
    /// The tunnel device's MAC (`cnilab.vtep-mac`), where peers program it statically.
    pub vtep_mac: Option<String>,
    /// The pairs from this host's pods that the lab declares cannot work.
    pub expect_fail: Option<ExpectFail>,
    /// The L2 segment the host is in, where the underlay has several (`cnilab.rack`).
    pub rack: Option<usize>,
    /// Each pod's veth is routed: a `<pod>/32 dev <veth>` route (`cnilab.pod-route: veth`).
    pub pod_routes: bool,
    /// proxy_arp is on on each pod's veth (`cnilab.proxy-arp`).
    pub proxy_arp: bool,
    /// The peers this host routes plain although the lab tunnels (`cnilab.direct-to`).
    pub direct_to: Option<HostSet>,
    /// The protocol of the routes to those peers (`cnilab.direct-proto`), where stated.
    pub direct_proto: Option<u8>,
    /// The protocol of the tunnel routes to other peers (`cnilab.tunnel-proto`), where stated.
    pub tunnel_proto: Option<u8>,
    /// The host's WireGuard key and folder, in an encrypted lab.
    pub wg: Option<wireguard::HostWireguard>,
    /// The host's IPv6 side, in an ipv6 or dual lab.
    pub v6: Option<HostV6>,
}

/// A host's IPv6 side (`cnilab.underlay-ip6` and its companions).
#[derive(Debug, Clone, Serialize)]
pub struct HostV6 {
    pub underlay_ip: Ipv6Addr,
    pub pod_subnet: ipnet::Ipv6Net,
    /// The IPv6 VTEP's address, device and MAC, where the lab tunnels IPv6 (`flannel-v6.1`,
    /// `vxlan-v6.calico`).
    pub vtep_ip: Option<Ipv6Addr>,
    pub tunnel_dev: Option<String>,
    pub vtep_mac: Option<String>,
}

impl LabHost {
    /// The host's underlay address in `family`, or in its other family where it has no side in
    /// that one: a loaded lab's hosts have a side in each of the lab's families (see `checked`).
    pub fn underlay(&self, family: Family) -> IpAddr {
        in_family(
            family,
            self.underlay_ip,
            self.v6.as_ref().map(|v6| v6.underlay_ip),
        )
    }

    /// The host's IPv4 underlay address, for the paths built on IPv4 only (see
    /// [`LabPod::v4`]), which an IPv6-only host never reaches.
    pub fn v4_underlay(&self) -> Ipv4Addr {
        self.underlay_ip
            .expect("the IPv4-only paths are gated on the lab having IPv4")
    }

    /// The host's pod prefixes, IPv4's first.
    pub fn pod_subnets(&self) -> Vec<ipnet::IpNet> {
        let v6 = self.v6.as_ref().map(|v6| v6.pod_subnet.into());
        self.pod_subnet
            .map(Into::into)
            .into_iter()
            .chain(v6)
            .collect()
    }

    /// The host's pod prefix in `family`, where it has one.
    pub fn pod_subnet_in(&self, family: Family) -> Option<ipnet::IpNet> {
        match family {
            Family::Ipv4 => self.pod_subnet.map(Into::into),
            Family::Ipv6 => self.v6.as_ref().map(|v6| v6.pod_subnet.into()),
        }
    }

    /// Whether this host sends to host `peer`'s pods plain, outside the lab's tunnel.
    pub fn direct_to(&self, peer: usize) -> bool {
        self.direct_to.as_ref().is_some_and(|d| d.contains(peer))
    }
}

/// A node's address in `family`, or in its other family where it has none in that one. A
/// loaded lab's nodes have at least one address, so the unspecified one is never returned.
fn in_family(family: Family, v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> IpAddr {
    let (v4, v6) = (v4.map(IpAddr::V4), v6.map(IpAddr::V6));
    let (wanted, other) = match family {
        Family::Ipv4 => (v4, v6),
        Family::Ipv6 => (v6, v4),
    };
    wanted
        .or(other)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[derive(Debug, Clone, Serialize)]
pub struct LabPod {
    pub node: String,
    pub namespace: String,
    pub host: usize,
    /// The pod's IPv4 address (`cnilab.pod-ip`); none in an IPv6-only lab.
    pub ip: Option<Ipv4Addr>,
    pub mtu: u16,
    /// `mtu` is the tunnel's, not one the lab sets on the pod (`cnilab.mtu-from: tunnel`).
    pub mtu_from_tunnel: bool,
    /// The pod's IPv6 address (`cnilab.pod-ip6`), in an ipv6 or dual lab.
    pub ip6: Option<Ipv6Addr>,
    /// The pod's interface towards its host (`cnilab.pod-if`).
    pub pod_if: String,
    /// The host's end of the pod's link, from the file's links.
    pub host_if: Option<String>,
}

impl LabPod {
    /// The pod's address in `family`, or in its other family where it has none in that one: a
    /// loaded lab's pods have an address in each of the lab's families (see `Lab::checked`).
    pub fn addr(&self, family: Family) -> IpAddr {
        in_family(family, self.ip, self.ip6)
    }

    /// The pod's IPv4 address, for the paths built on IPv4 only: Services and encryption, which
    /// the loader refuses in a lab without IPv4, and trace's Service walks, which refuse such a
    /// lab through [`Lab::ipv4_only`]. So an IPv6-only pod never reaches this.
    pub fn v4(&self) -> Ipv4Addr {
        self.ip
            .expect("the IPv4-only paths are gated on the lab having IPv4")
    }

    /// The pod's addresses, IPv4's first.
    pub fn addrs(&self) -> Vec<IpAddr> {
        let v4 = self.ip.map(IpAddr::V4);
        v4.into_iter().chain(self.ip6.map(IpAddr::V6)).collect()
    }

    /// Whether `ip` is one of the pod's addresses.
    pub fn owns(&self, ip: IpAddr) -> bool {
        self.addrs().contains(&ip)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LabRouter {
    pub node: String,
    pub namespace: String,
    pub capture: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabError {
    #[error("the file carries no cnilab labels (no node has `cnilab.mode`); verify needs a file made by `cnilab gen`")]
    NotCnilab,
    #[error("node `{node}` has no `{label}` label")]
    Missing { node: String, label: &'static str },
    #[error("node `{node}`: label `{label}` is `{value}`: {why}")]
    Bad {
        node: String,
        label: &'static str,
        value: String,
        why: String,
    },
    #[error("nodes disagree on the mode: `{first}` says {a}, `{second}` says {b}")]
    MixedModes {
        first: String,
        a: Mode,
        second: String,
        b: Mode,
    },
    #[error("hosts disagree on the tunnel: `{first}` says {a}, `{second}` says {b}")]
    MixedEncap {
        first: String,
        a: Encap,
        second: String,
        b: Encap,
    },
    /// Only the first host's value is kept, not its name: the error stays small.
    #[error("hosts disagree on `{label}`: `{second}` says `{b}`, the hosts before it `{a}`")]
    MixedLabel {
        label: &'static str,
        a: String,
        second: String,
        b: String,
    },
    #[error("pod `{pod}` belongs to host {host}, and no node is that host")]
    OrphanPod { pod: String, host: usize },
    #[error("the lab has no host node (`cnilab.role: host`)")]
    NoHosts,
    /// trace walks Services in IPv4 only so far: such a walk in a lab with IPv6 is refused
    /// rather than shown in one family as if it were the whole lab.
    #[error("lab `{lab}` says `cnilab.ip-family: {family}`: {command} checks IPv4 labs only so far (verify checks ipv6 and dual-stack labs in every family), and a picture of one family would claim what nobody checked; run `cnilab verify`, or generate the lab with --ip-family ipv4")]
    FamilyNotShown {
        lab: String,
        family: IpFamily,
        command: &'static str,
    },
    /// Encryption is built on IPv4 only (gen refuses it elsewhere): a file that states it in an
    /// IPv6-only lab is refused rather than judged on addresses it lacks.
    #[error("lab `{lab}` says `cnilab.ip-family: ipv6` and states {what}, which cnilab builds for IPv4 labs only; generate the lab with --ip-family ipv4")]
    Ipv4Needed { lab: String, what: &'static str },
    #[error("Service `{service}` states a ClusterIP in {family}, which lab `{lab}` does not carry (`cnilab.ip-family: {ip_family}`): give it ClusterIPs in the lab's families (`cnilab.services`)")]
    ServiceFamily {
        lab: String,
        service: String,
        family: Family,
        ip_family: IpFamily,
    },
    #[error("the lab needs at least two pods to verify, it has {0}")]
    TooFewPods(usize),
    #[error("the file carries no cnilab labels, and its plan cannot be inferred from its links and exec lines: {0}")]
    NotInferred(infer::InferError),
}

/// What each host says about the lab as a whole: every host must say the same.
struct Agreed<T> {
    first: Option<(String, T)>,
}

impl<T: Clone + PartialEq> Agreed<T> {
    fn new() -> Self {
        Agreed { first: None }
    }

    /// Records `value` from `node`, or the first node's and this one's if they differ.
    fn offer(&mut self, node: &str, value: T) -> Result<(), (String, T, T)> {
        match &self.first {
            None => self.first = Some((node.to_string(), value)),
            Some((first, a)) if *a != value => return Err((first.clone(), a.clone(), value)),
            Some(_) => {}
        }
        Ok(())
    }

    fn value(self) -> Option<T> {
        self.first.map(|(_, v)| v)
    }
}

/// The lab-wide facts, as every host states them.
struct LabWide {
    mode: Agreed<Mode>,
    encap: Agreed<Encap>,
    encap6: Agreed<Option<Encap>>,
    underlay_protocol: Agreed<Option<Family>>,
    flavor: Agreed<Flavor>,
    tunnel_dev: Agreed<Option<String>>,
    encryption: Agreed<Option<wireguard::LabWireguard>>,
    family: Agreed<IpFamily>,
}

impl LabWide {
    fn family(&mut self, node: &str, family: IpFamily) -> Result<(), LabError> {
        self.family
            .offer(node, family)
            .map_err(|(_first, a, b)| LabError::MixedLabel {
                label: LABEL_IP_FAMILY,
                a: a.to_string(),
                second: node.to_string(),
                b: b.to_string(),
            })
    }

    fn mode(&mut self, node: &str, mode: Mode) -> Result<(), LabError> {
        self.mode
            .offer(node, mode)
            .map_err(|(first, a, b)| LabError::MixedModes {
                first,
                a,
                second: node.to_string(),
                b,
            })
    }

    fn host(&mut self, name: &str, node: &Node, mode: Mode) -> Result<(), LabError> {
        let encap = encap_of(name, node, mode)?;
        self.encap
            .offer(name, encap)
            .map_err(|(first, a, b)| LabError::MixedEncap {
                first,
                a,
                second: name.to_string(),
                b,
            })?;
        self.crossing(name, node)?;
        let mixed = |label| {
            move |(_first, a, b): (String, String, String)| LabError::MixedLabel {
                label,
                a,
                second: name.to_string(),
                b,
            }
        };
        let flavor: Flavor = optional(name, node, LABEL_FLAVOR)?.unwrap_or_default();
        self.flavor
            .offer(name, flavor)
            .map_err(|(f, a, b)| mixed(LABEL_FLAVOR)((f, a.to_string(), b.to_string())))?;
        let dev: Option<String> = optional(name, node, LABEL_TUNNEL_DEV)?;
        self.tunnel_dev.offer(name, dev).map_err(|(f, a, b)| {
            let text = |d: Option<String>| d.unwrap_or_else(|| "(none)".into());
            mixed(LABEL_TUNNEL_DEV)((f, text(a), text(b)))
        })?;
        let wg = wireguard::of_host(name, node)?.map(|(lab, _)| lab);
        self.encryption.offer(name, wg).map_err(|(f, a, b)| {
            let text = |w: Option<wireguard::LabWireguard>| {
                w.map_or_else(|| "(none)".into(), |w| w.to_string())
            };
            mixed(wireguard::LABEL_ENCRYPTION)((f, text(a), text(b)))
        })
    }
}

impl LabWide {
    /// How the host says each family crosses where it is not the mode's way: IPv6's own
    /// encapsulation (`cnilab.encap6`) and the tunnels' underlay family
    /// (`cnilab.underlay-protocol`). Every host must say the same.
    fn crossing(&mut self, name: &str, node: &Node) -> Result<(), LabError> {
        let mixed = |label, a: String, b: String| LabError::MixedLabel {
            label,
            a,
            second: name.to_string(),
            b,
        };
        let none = || "(none)".to_string();
        let underlay: Option<Family> = optional(name, node, LABEL_UNDERLAY_PROTOCOL)?;
        self.underlay_protocol
            .offer(name, underlay)
            .map_err(|(_first, a, b)| {
                let text = |f: Option<Family>| f.map_or_else(none, |f| f.as_str().into());
                mixed(LABEL_UNDERLAY_PROTOCOL, text(a), text(b))
            })?;
        let encap6 = encap6_of(name, node)?;
        self.encap6.offer(name, encap6).map_err(|(_first, a, b)| {
            let text = |e: Option<Encap>| e.map_or_else(none, |e| e.to_string());
            mixed(LABEL_ENCAP6, text(a), text(b))
        })
    }
}

/// A host's tunnel, from its mode and, for VXLAN, its port and VNI labels.
fn encap_of(name: &str, node: &Node, mode: Mode) -> Result<Encap, LabError> {
    Ok(match mode {
        Mode::HostGw => Encap::Plain,
        Mode::Ipip => Encap::Ipip,
        Mode::Vxlan => Encap::Vxlan(VxlanParams {
            vni: required(name, node, LABEL_VNI)?,
            port: required(name, node, LABEL_VXLAN_PORT)?,
        }),
    })
}

/// How a host sends IPv6 pod packets where its `cnilab.encap6` names another way than its
/// mode's. IPIP cannot carry IPv6, so a file that says so is refused.
fn encap6_of(name: &str, node: &Node) -> Result<Option<Encap>, LabError> {
    let Some(mode) = optional::<Mode>(name, node, LABEL_ENCAP6)? else {
        return Ok(None);
    };
    if mode == Mode::Ipip {
        return Err(LabError::Bad {
            node: name.to_string(),
            label: LABEL_ENCAP6,
            value: mode.to_string(),
            why: "IPIP carries IPv4 only; expected vxlan or host-gw".into(),
        });
    }
    encap_of(name, node, mode).map(Some)
}

impl Lab {
    /// Every node's namespace: hosts, then pods, then routers.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.hosts
            .iter()
            .map(|h| h.namespace.as_str())
            .chain(self.pods.iter().map(|p| p.namespace.as_str()))
            .chain(self.routers.iter().map(|r| r.namespace.as_str()))
    }

    pub fn from_topology(topo: &Topology) -> Result<Lab, LabError> {
        let mut wide = LabWide {
            mode: Agreed::new(),
            encap: Agreed::new(),
            encap6: Agreed::new(),
            underlay_protocol: Agreed::new(),
            flavor: Agreed::new(),
            tunnel_dev: Agreed::new(),
            encryption: Agreed::new(),
            family: Agreed::new(),
        };
        let (mut hosts, mut pods, mut routers) = (Vec::new(), Vec::new(), Vec::new());
        let mut outside = None;
        for (name, node) in topo.nodes() {
            let Some(mode) = optional::<Mode>(name, node, LABEL_MODE)? else {
                continue;
            };
            // Switches and routers state no family: the hosts and pods do, and must agree.
            if let Some(family) = optional::<IpFamily>(name, node, LABEL_IP_FAMILY)? {
                wide.family(name, family)?;
            }
            wide.mode(name, mode)?;
            let namespace = topo.namespace(name);
            let role: String = required(name, node, LABEL_ROLE)?;
            match role.as_str() {
                "host" => {
                    wide.host(name, node, mode)?;
                    hosts.push(host(name, node, namespace)?);
                }
                "pod" => pods.push(pod(name, node, namespace)?),
                "router" => routers.push(router(name, node, namespace)?),
                "outside" => outside = Some(outside_node(name, node, namespace)?),
                "switch" => {}
                other => {
                    return Err(LabError::Bad {
                        node: name.to_string(),
                        label: LABEL_ROLE,
                        value: other.to_string(),
                        why: "expected host, pod, router, switch or outside".into(),
                    })
                }
            }
        }
        if wide.mode.first.is_none() {
            return Err(LabError::NotCnilab);
        }
        let lab = Lab {
            name: topo.name.clone(),
            encap: wide.encap.value().ok_or(LabError::NoHosts)?,
            encap6: wide.encap6.value().flatten(),
            underlay_protocol: wide.underlay_protocol.value().flatten(),
            flavor: wide.flavor.value().unwrap_or_default(),
            tunnel_dev: wide.tunnel_dev.value().flatten(),
            services: services(topo, &hosts, outside)?,
            encryption: wide.encryption.value().flatten(),
            ip_family: wide.family.value().unwrap_or_default(),
            hosts,
            pods,
            routers,
        };
        lab.checked().map(|lab| lab.with_host_ifs(topo))
    }

    /// Sorted, and every pod on a host that exists.
    fn checked(mut self) -> Result<Lab, LabError> {
        self.hosts.sort_by_key(|h| h.index);
        self.pods.sort_by_key(|p| p.host);
        if let Some(pod) = self.pods.iter().find(|p| self.host(p.host).is_none()) {
            return Err(LabError::OrphanPod {
                pod: pod.node.clone(),
                host: pod.host,
            });
        }
        if self.pods.len() < 2 {
            return Err(LabError::TooFewPods(self.pods.len()));
        }
        self.each_side_stated()?;
        self.services_in_its_families()?;
        let needs_v4 = [(
            self.encryption.is_some(),
            "encryption (`cnilab.encryption`)",
        )];
        match needs_v4.iter().find(|(stated, _)| *stated) {
            Some(&(_, what)) if !self.ip_family.has_v4() => Err(LabError::Ipv4Needed {
                lab: self.name.clone(),
                what,
            }),
            _ => Ok(self),
        }
    }

    /// Every ClusterIP is in one of the lab's families: a Service may leave a family out
    /// (SingleStack in a dual lab), but verify cannot probe one the pods do not speak.
    fn services_in_its_families(&self) -> Result<(), LabError> {
        let Some(services) = &self.services else {
            return Ok(());
        };
        let families = self.families();
        let stray = services.services.iter().find_map(|svc| {
            let f = svc.families().into_iter().find(|f| !families.contains(f))?;
            Some((svc.name.clone(), f))
        });
        match stray {
            Some((service, family)) => Err(LabError::ServiceFamily {
                lab: self.name.clone(),
                service,
                family,
                ip_family: self.ip_family,
            }),
            None => Ok(()),
        }
    }

    /// Every host and pod states its side of each of the lab's families, so that no pair is
    /// probed, and no route judged, in a family a node has no address in.
    fn each_side_stated(&self) -> Result<(), LabError> {
        let missing = |node: &str, label| LabError::Missing {
            node: node.to_string(),
            label,
        };
        if self.ip_family.has_v4() {
            if let Some(h) = self.hosts.iter().find(|h| h.underlay_ip.is_none()) {
                return Err(missing(&h.node, LABEL_UNDERLAY_IP));
            }
            if let Some(h) = self.hosts.iter().find(|h| h.pod_subnet.is_none()) {
                return Err(missing(&h.node, LABEL_POD_SUBNET));
            }
            if let Some(p) = self.pods.iter().find(|p| p.ip.is_none()) {
                return Err(missing(&p.node, LABEL_POD_IP));
            }
        }
        let outside = self.services.as_ref().map(|s| &s.outside);
        for (family, label) in [
            (Family::Ipv4, crate::services::LABEL_OUTSIDE_IP),
            (Family::Ipv6, crate::services::LABEL_OUTSIDE_IP6),
        ] {
            match outside {
                Some(o) if self.families().contains(&family) && o.addr(family).is_none() => {
                    return Err(missing(&o.node, label))
                }
                _ => {}
            }
        }
        if self.ip_family.has_v6() {
            if let Some(h) = self.hosts.iter().find(|h| h.v6.is_none()) {
                return Err(missing(&h.node, LABEL_UNDERLAY_IP6));
            }
            if let Some(p) = self.pods.iter().find(|p| p.ip6.is_none()) {
                return Err(missing(&p.node, LABEL_POD_IP6));
            }
        }
        Ok(())
    }

    /// Each pod's link, read from the file: the end that is not the pod's is its host's veth.
    fn with_host_ifs(mut self, topo: &Topology) -> Lab {
        for pod in &mut self.pods {
            let me = format!("{}:{}", pod.node, pod.pod_if);
            let host = self.hosts.iter().find(|h| h.index == pod.host);
            let host_end = |end: &String| {
                let (node, iface) = end.split_once(':')?;
                (Some(node) == host.map(|h| h.node.as_str())).then(|| iface.to_string())
            };
            pod.host_if = topo
                .topology
                .links
                .iter()
                .find_map(|l| match l.endpoints.as_slice() {
                    [a, b] if *b == me => host_end(a),
                    [a, b] if *a == me => host_end(b),
                    _ => None,
                });
        }
        self
    }

    /// The families verify probes each pod pair in.
    pub fn families(&self) -> Vec<Family> {
        self.ip_family.families()
    }

    /// For what shows IPv4 only so far (trace's Service walks): the lab, or why
    /// `command` refuses it.
    pub fn ipv4_only(&self, command: &'static str) -> Result<&Lab, LabError> {
        match self.ip_family {
            IpFamily::Ipv4 => Ok(self),
            family => Err(LabError::FamilyNotShown {
                lab: self.name.clone(),
                family,
                command,
            }),
        }
    }

    /// Pod `pod`'s address in `family`, one of the lab's families: a loaded lab's pods have an
    /// address in each of them (see `checked`).
    pub fn pod_ip(&self, pod: usize, family: Family) -> IpAddr {
        self.pods[pod].addr(family)
    }

    pub fn mode(&self) -> Mode {
        match self.encap {
            Encap::Plain => Mode::HostGw,
            Encap::Vxlan(_) => Mode::Vxlan,
            Encap::Ipip => Mode::Ipip,
        }
    }

    /// Whether the lab seals pod traffic in IPsec (Cilium's) rather than WireGuard.
    pub fn ipsec(&self) -> bool {
        self.encryption
            .as_ref()
            .is_some_and(|e| e.ipsec_key.is_some())
    }

    pub fn host(&self, index: usize) -> Option<&LabHost> {
        self.hosts.iter().find(|h| h.index == index)
    }

    /// How pod packets of `family` cross the underlay: IPv6's own way where the lab names one
    /// (an ipip lab's VXLAN), the mode's otherwise.
    pub fn encap_in(&self, family: Family) -> Encap {
        match (family, self.encap6) {
            (Family::Ipv6, Some(e)) => e,
            _ => self.encap,
        }
    }

    /// The family of the outer header `family`'s pod packets cross in: the lab's underlay
    /// protocol where it fixes one (Cilium tunnels IPv6 over IPv4), `family` itself otherwise.
    /// Plain pod packets have no outer header; their family is their own.
    pub fn outer_family(&self, family: Family) -> Family {
        match self.encap_in(family) {
            Encap::Plain => family,
            _ => self.underlay_protocol.unwrap_or(family),
        }
    }

    /// The address `host` puts in the outer header of `family`'s pod packets: its address in
    /// [`Lab::outer_family`] of `family` (see [`LabHost::outer_ip`]).
    pub fn outer_ip(&self, host: &LabHost, family: Family) -> IpAddr {
        host.outer_ip(self.outer_family(family))
    }

    /// The encapsulation of each family the lab carries, IPv4's first: two where IPv6 crosses
    /// another way than IPv4, one otherwise.
    pub fn encaps(&self) -> Vec<(Family, Encap)> {
        let mut all: Vec<(Family, Encap)> = Vec::new();
        for f in self.families() {
            let e = self.encap_in(f);
            if !all.iter().any(|&(_, seen)| seen == e) {
                all.push((f, e));
            }
        }
        all
    }

    /// The lab's VXLAN, in whichever family crosses in it: its VNI and port.
    pub fn vxlan(&self) -> Option<VxlanParams> {
        self.families()
            .into_iter()
            .find_map(|f| self.encap_in(f).vxlan())
    }

    /// What the underlay must show from host `from`'s pods to host `to`'s in `family`: plain
    /// where `from` routes that peer directly (flannel's DirectRouting), the family's
    /// encapsulation otherwise.
    pub fn encap_between(&self, from: usize, to: usize, family: Family) -> Encap {
        match self.host(from) {
            Some(h) if h.direct_to(to) => Encap::Plain,
            _ => self.encap_in(family),
        }
    }

    /// Whether plain pod packets between these addresses are the lab's own: both pods' hosts
    /// route each other directly. In a tunnel mode any other plain pod packet is a leak.
    pub fn plain_between(&self, a: IpAddr, b: IpAddr) -> bool {
        let host_of = |ip: IpAddr| self.pods.iter().find(|p| p.owns(ip)).map(|p| p.host);
        let f = Family::of(a);
        match (host_of(a), host_of(b)) {
            (Some(x), Some(y)) => {
                self.encap_between(x, y, f) == Encap::Plain
                    && self.encap_between(y, x, f) == Encap::Plain
            }
            _ => false,
        }
    }
}

fn host(name: &str, node: &Node, namespace: String) -> Result<LabHost, LabError> {
    Ok(LabHost {
        node: name.to_string(),
        namespace,
        index: required(name, node, LABEL_HOST)?,
        underlay_if: required(name, node, LABEL_UNDERLAY_IF)?,
        underlay_ip: optional(name, node, LABEL_UNDERLAY_IP)?,
        pod_subnet: optional(name, node, LABEL_POD_SUBNET)?,
        flow_based: optional::<String>(name, node, LABEL_TUNNEL_KEY)?.is_some_and(|k| k == "route"),
        vtep_ip: optional(name, node, LABEL_VTEP_IP)?,
        vtep_mac: optional(name, node, LABEL_VTEP_MAC)?,
        expect_fail: expect_fail(name, node)?,
        rack: optional(name, node, LABEL_RACK)?,
        pod_routes: optional::<String>(name, node, LABEL_POD_ROUTE)?.is_some_and(|r| r == "veth"),
        proxy_arp: optional::<u8>(name, node, LABEL_PROXY_ARP)?.is_some_and(|v| v == 1),
        direct_to: optional(name, node, LABEL_DIRECT_TO)?,
        direct_proto: optional(name, node, LABEL_DIRECT_PROTO)?,
        tunnel_proto: optional(name, node, LABEL_TUNNEL_PROTO)?,
        wg: wireguard::of_host(name, node)?.and_then(|(_, host)| host),
        v6: host_v6(name, node)?,
    })
}

/// A host's IPv6 side, where its labels state one.
fn host_v6(name: &str, node: &Node) -> Result<Option<HostV6>, LabError> {
    let Some(underlay_ip) = optional(name, node, LABEL_UNDERLAY_IP6)? else {
        return Ok(None);
    };
    Ok(Some(HostV6 {
        underlay_ip,
        pod_subnet: required(name, node, LABEL_POD_SUBNET6)?,
        vtep_ip: optional(name, node, LABEL_VTEP_IP6)?,
        tunnel_dev: optional(name, node, LABEL_TUNNEL6_DEV)?,
        vtep_mac: optional(name, node, LABEL_VTEP_MAC6)?,
    }))
}

fn expect_fail(name: &str, node: &Node) -> Result<Option<ExpectFail>, LabError> {
    let Some(to) = optional(name, node, LABEL_EXPECT_FAIL_TO)? else {
        return Ok(None);
    };
    Ok(Some(ExpectFail {
        to,
        at: required(name, node, LABEL_EXPECT_FAIL_AT)?,
        why: required(name, node, LABEL_EXPECT_FAIL_WHY)?,
    }))
}

fn pod(name: &str, node: &Node, namespace: String) -> Result<LabPod, LabError> {
    Ok(LabPod {
        node: name.to_string(),
        namespace,
        host: required(name, node, LABEL_HOST)?,
        ip: optional(name, node, LABEL_POD_IP)?,
        mtu: required(name, node, LABEL_MTU)?,
        mtu_from_tunnel: optional::<String>(name, node, LABEL_MTU_FROM)?
            .is_some_and(|f| f == "tunnel"),
        ip6: optional(name, node, LABEL_POD_IP6)?,
        pod_if: required(name, node, LABEL_POD_IF)?,
        host_if: None,
    })
}

fn outside_node(name: &str, node: &Node, namespace: String) -> Result<LabOutside, LabError> {
    Ok(LabOutside {
        node: name.to_string(),
        namespace,
        ip: optional(name, node, crate::services::LABEL_OUTSIDE_IP)?,
        ip6: optional(name, node, crate::services::LABEL_OUTSIDE_IP6)?,
        iface: required(name, node, LABEL_OUTSIDE_IF)?,
    })
}

/// The Services the first host states, where it states any; they need an `outside` node.
fn services(
    topo: &Topology,
    hosts: &[LabHost],
    outside: Option<LabOutside>,
) -> Result<Option<LabServices>, LabError> {
    use crate::services::{LABEL_KUBE_PROXY, LABEL_POLICY, LABEL_SERVICES};
    let Some(first) = hosts.iter().min_by_key(|h| h.index) else {
        return Ok(None);
    };
    let (name, node) = (
        &first.node,
        topo.node(&first.node).ok_or(LabError::NoHosts)?,
    );
    let Some(text) = optional::<String>(name, node, LABEL_SERVICES)? else {
        return Ok(None);
    };
    let bad = |why: String| LabError::Bad {
        node: name.clone(),
        label: LABEL_SERVICES,
        value: text.clone(),
        why,
    };
    let services = crate::services::parse_label(&text).map_err(bad)?;
    let outside = outside
        .ok_or_else(|| bad("the lab has no `outside` node (`cnilab.role: outside`)".into()))?;
    Ok(Some(LabServices {
        kube_proxy: required(name, node, LABEL_KUBE_PROXY)?,
        policy: required(name, node, LABEL_POLICY)?,
        cluster_cidr: cidrs(name, node)?,
        services,
        outside,
    }))
}

/// `cnilab.cluster-cidr`: one prefix per family, comma-separated.
fn cidrs(name: &str, node: &Node) -> Result<Vec<ipnet::IpNet>, LabError> {
    let label = crate::services::LABEL_CLUSTER_CIDR;
    let text: String = required(name, node, label)?;
    text.split(',')
        .map(|c| {
            c.trim().parse().map_err(|_| LabError::Bad {
                node: name.to_string(),
                label,
                value: text.clone(),
                why: "expected IP prefixes, comma-separated".into(),
            })
        })
        .collect()
}

fn router(name: &str, node: &Node, namespace: String) -> Result<LabRouter, LabError> {
    let capture: String = required(name, node, LABEL_CAPTURE)?;
    Ok(LabRouter {
        node: name.to_string(),
        namespace,
        capture: capture.split(',').map(|s| s.trim().to_string()).collect(),
    })
}

fn optional<T: FromStr>(
    node_name: &str,
    node: &Node,
    label: &'static str,
) -> Result<Option<T>, LabError>
where
    T::Err: std::fmt::Display,
{
    let Some(value) = node.labels.get(label) else {
        return Ok(None);
    };
    let text = value.to_string();
    text.parse().map(Some).map_err(|e: T::Err| LabError::Bad {
        node: node_name.to_string(),
        label,
        value: text,
        why: e.to_string(),
    })
}

fn required<T: FromStr>(node_name: &str, node: &Node, label: &'static str) -> Result<T, LabError>
where
    T::Err: std::fmt::Display,
{
    optional(node_name, node, label)?.ok_or_else(|| LabError::Missing {
        node: node_name.to_string(),
        label,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::Plan;
    use crate::render::{render, Templates};

    /// The lab `cnilab gen` would write for `mode` and `n` hosts, read back.
    pub(crate) fn lab(mode: Mode, n: usize) -> Lab {
        let text = render(&Plan::new(mode, n, None).unwrap(), Templates::Embedded).unwrap();
        Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap()
    }

    /// The lab `cnilab gen` would write for `spec`, read back.
    pub(crate) fn lab_of_spec(spec: &crate::plan::LabSpec) -> Lab {
        let text = render(&Plan::from_spec(spec).unwrap(), Templates::Embedded).unwrap();
        Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap()
    }

    /// The lab of `mode` in `flavor` with `n` hosts, read back.
    pub(crate) fn flavored_lab(mode: Mode, flavor: crate::plan::Flavor, n: usize) -> Lab {
        lab_of_spec(&crate::plan::LabSpec {
            flavor,
            ..crate::plan::LabSpec::article(mode, n, None)
        })
    }

    #[test]
    fn a_rendered_vxlan_lab_reads_back_as_planned() {
        let l = lab(Mode::Vxlan, 3);
        assert_eq!(l.mode(), Mode::Vxlan);
        assert_eq!(l.hosts.len(), 3);
        assert_eq!(l.pods.len(), 3);
        assert_eq!(l.routers.len(), 3);
        assert_eq!(l.encap, Encap::Vxlan(VxlanParams { vni: 1, port: 4789 }));
        assert_eq!(l.pods[1].pod_if, "eth1");
        assert_eq!((l.flavor, l.tunnel_dev.as_deref()), (Flavor::Article, None));
        assert_eq!(l.hosts[2].underlay_ip, Some(Ipv4Addr::new(10, 0, 3, 2)));
        assert_eq!(l.hosts[2].namespace, "clab-flannel-vxlan-host3");
        assert_eq!(l.pods[0].ip, Some(Ipv4Addr::new(172, 16, 0, 2)));
        assert_eq!(l.pods[0].mtu, 1450);
        assert_eq!(l.routers[0].capture, vec!["eth1", "eth2"]);
    }

    #[test]
    fn every_mode_reads_back() {
        for mode in Mode::ALL {
            let l = lab(mode, 4);
            assert_eq!(l.mode(), mode);
            assert_eq!(l.pods.len(), 4);
            assert_eq!(l.encap.vxlan().is_some(), mode == Mode::Vxlan);
        }
        assert_eq!(lab(Mode::Ipip, 3).routers[0].capture.len(), 3);
    }

    /// A dual ipip lab crosses in IPIP in IPv4 and in Calico's IPv6 VXLAN in IPv6, both
    /// flavors; a file that puts IPv6 in IPIP is refused, and a vxlan lab has one encapsulation.
    #[test]
    fn a_dual_ipip_lab_reads_back_with_ipv6_in_vxlan() {
        let vxlan = Encap::Vxlan(VxlanParams {
            vni: 4096,
            port: 4789,
        });
        for flavor in [Flavor::Article, Flavor::Calico] {
            let spec = crate::plan::LabSpec {
                flavor,
                ip_family: IpFamily::Dual,
                ..crate::plan::LabSpec::article(Mode::Ipip, 3, None)
            };
            let l = lab_of_spec(&spec);
            assert_eq!(
                (l.mode(), l.encap, l.encap6),
                (Mode::Ipip, Encap::Ipip, Some(vxlan))
            );
            assert_eq!(
                l.encaps(),
                [(Family::Ipv4, Encap::Ipip), (Family::Ipv6, vxlan)]
            );
            assert_eq!(l.encap_between(1, 2, Family::Ipv6), vxlan);
            assert_eq!(l.encap_between(1, 2, Family::Ipv4), Encap::Ipip);
            assert_eq!(l.vxlan(), vxlan.vxlan());
            assert_eq!(l.pods[0].mtu, 1430);
            let v6 = l.hosts[0].v6.as_ref().unwrap();
            assert_eq!(v6.tunnel_dev.as_deref(), Some("vxlan-v6.calico"));
            let text = render(&Plan::from_spec(&spec).unwrap(), Templates::Embedded).unwrap();
            let edited = text.replace("cnilab.encap6: vxlan", "cnilab.encap6: ipip");
            let err = Lab::from_topology(&Topology::parse(&edited).unwrap()).unwrap_err();
            assert!(
                matches!(
                    err,
                    LabError::Bad {
                        label: LABEL_ENCAP6,
                        ..
                    }
                ),
                "{err}"
            );
            // Only host3 says IPv6 goes plain: the hosts disagree, and the loader says so.
            let (head, tail) = text.split_at(text.find("    host3:").unwrap());
            let edited = format!(
                "{head}{}",
                tail.replacen("cnilab.encap6: vxlan", "cnilab.encap6: host-gw", 1)
            );
            let err = Lab::from_topology(&Topology::parse(&edited).unwrap()).unwrap_err();
            assert!(
                matches!(&err, LabError::MixedLabel { label: LABEL_ENCAP6, second, .. } if second == "host3"),
                "{err}"
            );
        }
        let dual_vxlan = lab_of_spec(&crate::plan::LabSpec {
            ip_family: IpFamily::Dual,
            ..crate::plan::LabSpec::article(Mode::Vxlan, 3, None)
        });
        assert_eq!(dual_vxlan.encap6, None);
        assert_eq!(dual_vxlan.encaps().len(), 1);
        assert_eq!(lab(Mode::Ipip, 3).encaps(), [(Family::Ipv4, Encap::Ipip)]);
    }

    #[test]
    fn hosts_that_disagree_on_the_tunnel_are_an_error() {
        let text = render(
            &Plan::new(Mode::Vxlan, 3, None).unwrap(),
            Templates::Embedded,
        )
        .unwrap();
        // Only host3's label changes: the first `cnilab.vni: "1"` after `host3:`.
        let at = text.find("    host3:").unwrap();
        let (head, tail) = text.split_at(at);
        let edited = format!(
            "{head}{}",
            tail.replacen("cnilab.vni: \"1\"", "cnilab.vni: \"2\"", 1)
        );
        let err = Lab::from_topology(&Topology::parse(&edited).unwrap()).unwrap_err();
        assert!(
            matches!(&err, LabError::MixedEncap { second, b, .. } if second == "host3" && b.vxlan().unwrap().vni == 2),
            "{err}"
        );
        assert!(
            err.to_string().contains("says UDP/4789 VXLAN vni 1,"),
            "{err}"
        );
    }

    #[test]
    fn broken_labels_are_named() {
        let text = render(
            &Plan::new(Mode::HostGw, 2, None).unwrap(),
            Templates::Embedded,
        )
        .unwrap()
        .replace("cnilab.pod-ip: 10.0.2.2", "cnilab.pod-ip: 10.0.2.x");
        let err = Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap_err();
        assert!(matches!(&err, LabError::Bad { node, label: LABEL_POD_IP, .. } if node == "pod2"));
        let plain = Topology::parse("name: x\ntopology:\n  nodes:\n    a:\n").unwrap();
        assert_eq!(Lab::from_topology(&plain).unwrap_err(), LabError::NotCnilab);
    }

    #[test]
    fn a_vxlan_host_without_its_tunnel_parameters_is_an_error() {
        let text = render(
            &Plan::new(Mode::Vxlan, 2, None).unwrap(),
            Templates::Embedded,
        )
        .unwrap()
        .replacen("        cnilab.vxlan-port: \"4789\"\n", "", 1);
        let err = Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap_err();
        assert_eq!(
            err,
            LabError::Missing {
                node: "host1".into(),
                label: LABEL_VXLAN_PORT
            }
        );
    }

    #[test]
    fn a_flavor_s_device_and_vteps_read_back() {
        let spec = crate::plan::LabSpec {
            flavor: Flavor::Flannel,
            ..crate::plan::LabSpec::article(Mode::Vxlan, 3, None)
        };
        let text = render(&Plan::from_spec(&spec).unwrap(), Templates::Embedded).unwrap();
        let l = Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap();
        assert_eq!(l.flavor, Flavor::Flannel);
        assert_eq!(l.tunnel_dev.as_deref(), Some("flannel.1"));
        assert_eq!(l.encap, Encap::Vxlan(VxlanParams { vni: 1, port: 8472 }));
        assert_eq!(l.hosts[1].vtep_ip, Some(Ipv4Addr::new(172, 16, 1, 0)));
        assert_eq!(l.hosts[1].vtep_mac.as_deref(), Some("02:cb:00:00:00:02"));
        let edited = text.replacen("cnilab.tunnel-dev: flannel.1", "cnilab.tunnel-dev: vx0", 1);
        let err = Lab::from_topology(&Topology::parse(&edited).unwrap()).unwrap_err();
        assert!(
            matches!(&err, LabError::MixedLabel { label: LABEL_TUNNEL_DEV, second, .. } if second == "host2"),
            "{err}"
        );
    }

    #[test]
    fn direct_routing_reads_back_as_the_wire_per_pair() {
        let spec = crate::plan::LabSpec {
            flavor: Flavor::Flannel,
            underlay: Some(crate::underlay::Underlay::Racks(2)),
            direct_routing: true,
            ..crate::plan::LabSpec::article(Mode::Vxlan, 4, None)
        };
        let text = render(&Plan::from_spec(&spec).unwrap(), Templates::Embedded).unwrap();
        let l = Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap();
        let vxlan = Encap::Vxlan(VxlanParams { vni: 1, port: 8472 });
        assert_eq!(l.encap_between(1, 2, Family::Ipv4), Encap::Plain);
        assert_eq!(l.encap_between(4, 3, Family::Ipv4), Encap::Plain);
        assert_eq!(l.encap_between(2, 3, Family::Ipv4), vxlan);
        assert_eq!(l.encap_between(4, 1, Family::Ipv4), vxlan);
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(l.plain_between(ip("172.16.0.2").into(), ip("172.16.1.2").into()));
        assert!(!l.plain_between(ip("172.16.0.2").into(), ip("172.16.2.2").into()));
        // One host that no longer says so makes the pair's return path a tunnel: not plain.
        let at = text.find("    host2:").unwrap();
        let (head, tail) = text.split_at(at);
        let edited = format!(
            "{head}{}",
            tail.replacen("cnilab.direct-to: \"1\"", "cnilab.direct-to: \"9\"", 1)
        );
        let l = Lab::from_topology(&Topology::parse(&edited).unwrap()).unwrap();
        assert_eq!(
            (
                l.encap_between(1, 2, Family::Ipv4),
                l.encap_between(2, 1, Family::Ipv4)
            ),
            (Encap::Plain, vxlan)
        );
        assert!(!l.plain_between(ip("172.16.0.2").into(), ip("172.16.1.2").into()));
    }

    #[test]
    fn the_pod_interface_comes_from_its_label() {
        let text = render(
            &Plan::new(Mode::HostGw, 2, None).unwrap(),
            Templates::Embedded,
        )
        .unwrap();
        let at = text.find("    pod2:").unwrap();
        let (head, tail) = text.split_at(at);
        let edited = format!(
            "{head}{}",
            tail.replacen("cnilab.pod-if: eth1", "cnilab.pod-if: net0", 1)
        );
        let l = Lab::from_topology(&Topology::parse(&edited).unwrap()).unwrap();
        assert_eq!(
            (l.pods[0].pod_if.as_str(), l.pods[1].pod_if.as_str()),
            ("eth1", "net0")
        );
        let gone = text.replacen("        cnilab.pod-if: eth1\n", "", 1);
        let err = Lab::from_topology(&Topology::parse(&gone).unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                LabError::Missing {
                    label: LABEL_POD_IF,
                    ..
                }
            ),
            "{err}"
        );
    }

    fn dual_lab(mode: Mode, flavor: Flavor) -> (String, Lab) {
        family_lab(mode, flavor, IpFamily::Dual)
    }

    fn family_lab(mode: Mode, flavor: Flavor, ip_family: IpFamily) -> (String, Lab) {
        let spec = crate::plan::LabSpec {
            flavor,
            ip_family,
            ..crate::plan::LabSpec::article(mode, 3, None)
        };
        let text = render(&Plan::from_spec(&spec).unwrap(), Templates::Embedded).unwrap();
        let lab = Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap();
        (text, lab)
    }

    #[test]
    fn an_ipv6_lab_reads_back_its_ipv6_side_and_no_ipv4_one() {
        let (text, l) = family_lab(Mode::Vxlan, Flavor::Flannel, IpFamily::Ipv6);
        assert_eq!(l.families(), [Family::Ipv6]);
        assert_eq!(l.pods[1].ip, None);
        assert_eq!(l.pods[1].addrs(), [l.pod_ip(1, Family::Ipv6)]);
        assert_eq!(l.pod_ip(1, Family::Ipv6).to_string(), "fd00:172:16:1::2");
        let h = &l.hosts[1];
        assert_eq!((h.underlay_ip, h.pod_subnet), (None, None));
        assert_eq!(h.underlay(Family::Ipv6).to_string(), "fd00:10:0:2::2");
        assert_eq!(h.outer_ip(Family::Ipv6), h.underlay(Family::Ipv6));
        let nets: Vec<String> = h.pod_subnets().iter().map(|n| n.to_string()).collect();
        assert_eq!(nets, ["fd00:172:16:1::/64"]);
        // An IPv6 lab's pod without its IPv6 address has no pair to be probed in.
        let gone = text.replacen("        cnilab.pod-ip6: \"fd00:172:16:1::2\"\n", "", 1);
        let err = Lab::from_topology(&Topology::parse(&gone).unwrap()).unwrap_err();
        assert!(
            matches!(
                &err,
                LabError::Missing {
                    label: LABEL_POD_IP6,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_dual_lab_without_a_hosts_ipv4_side_is_refused_by_the_label() {
        let (text, _) = dual_lab(Mode::HostGw, Flavor::Article);
        let gone = text.replacen("        cnilab.underlay-ip: 192.168.0.100\n", "", 1);
        assert_ne!(gone, text, "the lab states host2's IPv4 underlay address");
        let err = Lab::from_topology(&Topology::parse(&gone).unwrap()).unwrap_err();
        assert_eq!(
            err,
            LabError::Missing {
                node: "host2".into(),
                label: LABEL_UNDERLAY_IP
            }
        );
    }

    #[test]
    fn a_dual_lab_reads_back_both_sides_of_every_pod_and_host() {
        let (_, l) = dual_lab(Mode::Vxlan, Flavor::Flannel);
        assert_eq!(l.families(), [Family::Ipv4, Family::Ipv6]);
        assert_eq!(l.pods[1].ip6, Some("fd00:172:16:1::2".parse().unwrap()));
        let v6 = l.hosts[1].v6.as_ref().unwrap();
        assert_eq!(v6.underlay_ip.to_string(), "fd00:10:0:2::2");
        assert_eq!(v6.pod_subnet.to_string(), "fd00:172:16:1::/64");
        assert_eq!(v6.vtep_ip, Some("fd00:172:16:1::".parse().unwrap()));
        assert_eq!(v6.tunnel_dev.as_deref(), Some("flannel-v6.1"));
        assert!(v6.vtep_mac.is_some());
        assert_eq!(
            l.hosts[1].underlay(Family::Ipv6),
            IpAddr::V6(v6.underlay_ip)
        );
        assert_eq!(l.hosts[1].underlay(Family::Ipv4).to_string(), "10.0.2.2");
        assert_eq!(l.pod_ip(1, Family::Ipv6).to_string(), "fd00:172:16:1::2");
        assert_eq!(l.pod_ip(1, Family::Ipv4).to_string(), "172.16.1.2");
        let six: IpAddr = "fd00:172:16::2".parse().unwrap();
        let other: IpAddr = "fd00:172:16:1::2".parse().unwrap();
        assert!(
            !l.plain_between(six, other),
            "a tunnel lab's pods are not plain"
        );
    }

    #[test]
    fn only_verify_takes_a_dual_lab() {
        let (text, l) = dual_lab(Mode::HostGw, Flavor::Article);
        let err = l.ipv4_only("graph").unwrap_err();
        assert!(
            matches!(
                &err,
                LabError::FamilyNotShown {
                    command: "graph",
                    family: IpFamily::Dual,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("graph checks IPv4 labs only"),
            "{err}"
        );
        assert!(lab(Mode::HostGw, 2).ipv4_only("trace").is_ok());
        // A dual lab's pod without its IPv6 address has no IPv6 pair to be probed in.
        let at = text.find("    pod2:").unwrap();
        let (head, tail) = text.split_at(at);
        let gone = format!(
            "{head}{}",
            tail.replacen("        cnilab.pod-ip6: \"fd00:10:0:2::2\"\n", "", 1)
        );
        let err = Lab::from_topology(&Topology::parse(&gone).unwrap()).unwrap_err();
        assert_eq!(
            err,
            LabError::Missing {
                node: "pod2".into(),
                label: LABEL_POD_IP6
            }
        );
    }
}
