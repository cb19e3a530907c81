//! Kubernetes Services in a lab: the plan of `gen --services S` (ClusterIPs, ports, NodePorts,
//! endpoints, the `outside` machine) and the one text form of it that the `cnilab.services`
//! label carries, so that gen writes and verify reads the same thing.
//!
//! Pure data, like [`crate::plan`]: the templates `kube-proxy-iptables.rules.j2` and
//! `kube-proxy.nft.j2` turn it into kube-proxy's rules.

mod label;
mod names;
mod outside;
mod rules;

pub use label::{label_text, parse_label, StatedService};
pub use names::{endpoint_chains, probabilities, EndpointChains};
pub use rules::{FamilyEndpoint, FamilyRules, FamilyService};

use crate::family::{six, six_prefix, Family, IpFamily};
use crate::plan::{Host, Mode};
use crate::underlay::Rack;
use outside::outside;
use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The Kubernetes namespace every Service of a lab lives in.
pub const NAMESPACE: &str = "default";
/// The Service port every Service listens on, TCP and UDP alike.
pub const SERVICE_PORT: u16 = 80;
/// The first Service's targetPort; Service `i` uses `TARGET_PORT_BASE + i`.
pub const TARGET_PORT_BASE: u16 = 8000;
/// The port `outside` listens on for the pods' egress probes.
pub const EGRESS_PORT: u16 = 9000;
/// kube-proxy's NodePort range (the API server's default `--service-node-port-range`).
pub const NODE_PORT_MIN: u16 = 30000;
pub const NODE_PORT_MAX: u16 = 32767;
/// kube-proxy's default masquerade bit 14 (`--iptables-masquerade-bit`): 0x4000.
pub const MASQ_MARK: &str = "0x4000";
/// The highest address `outside` may take on the underlay segment it joins.
pub const OUTSIDE_OCTET: u8 = 254;
/// Where a host sees its folder of kube-proxy rules: under /run, which both runtimes let a
/// bind make (see runtime/netns/sandbox/mounts.rs), as BIRD's /run/bird.
pub const NODE_DIR: &str = "/run/kube-proxy";
/// The labels that state the Services (on every host) and the endpoints (on each pod).
pub const LABEL_KUBE_PROXY: &str = "cnilab.kube-proxy";
pub const LABEL_POLICY: &str = "cnilab.traffic-policy";
pub const LABEL_SERVICES: &str = "cnilab.services";
pub const LABEL_CLUSTER_CIDR: &str = "cnilab.cluster-cidr";
pub const LABEL_OUTSIDE_IP: &str = "cnilab.outside-ip";
pub const LABEL_OUTSIDE_IP6: &str = "cnilab.outside-ip6";

/// Which of kube-proxy's data planes programs the Services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum KubeProxy {
    #[default]
    Iptables,
    Nftables,
}

/// A Service's `externalTrafficPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TrafficPolicy {
    /// Any node forwards NodePort traffic to any endpoint, masqueraded.
    #[default]
    Cluster,
    /// Only nodes with a local endpoint answer, and the client's address is kept.
    Local,
}

macro_rules! text_enum {
    ($t:ty { $($v:ident => $s:literal),+ }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($s => Ok(Self::$v),)+ _ => Err(format!("unknown value `{s}`")) }
            }
        }
    };
}
text_enum!(KubeProxy { Iptables => "iptables", Nftables => "nftables" });
text_enum!(TrafficPolicy { Cluster => "cluster", Local => "local" });

/// What `gen` was asked for; `count == 0` means no Services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServicesSpec {
    pub count: usize,
    pub kube_proxy: KubeProxy,
    pub policy: TrafficPolicy,
    /// The range ClusterIPs come from (kube-apiserver's `--service-cluster-ip-range`).
    pub cidr: ipnet::Ipv4Net,
    /// The first Service's NodePort; the others follow it.
    pub node_port: u16,
    /// How many pods each Service selects.
    pub endpoints: usize,
}

impl Default for ServicesSpec {
    fn default() -> Self {
        ServicesSpec {
            count: 0,
            kube_proxy: KubeProxy::Iptables,
            policy: TrafficPolicy::Cluster,
            cidr: "10.96.0.0/16".parse().expect("a valid CIDR"),
            node_port: 30001,
            endpoints: 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("--node-port {first}: the Services' NodePorts run {first}–{last}, outside kube-proxy's range {NODE_PORT_MIN}–{NODE_PORT_MAX}")]
    NodePortOutOfRange { first: u16, last: u32 },
    #[error(
        "--endpoints 0: a Service that selects no pod has nothing to forward to; give 1 or more"
    )]
    SelectsNoPod,
    #[error("--endpoints {asked}: the lab has only {pods} pods to select")]
    TooManyEndpoints { asked: usize, pods: usize },
    #[error("--service-cidr {cidr} has no room for {count} ClusterIPs")]
    CidrTooSmall { cidr: ipnet::Ipv4Net, count: usize },
    #[error("--services {count}: at most {max} Services per lab")]
    TooMany { count: usize, max: usize },
    #[error("--services with --mode ipip and --ip-family {0} is not built yet: `outside`'s leg on ipip's router is IPv4 only; use --mode vxlan for Services in IPv6")]
    IpipIpv6(IpFamily),
    #[error("--services with --encryption is not built yet: kube-proxy's rules and the tunnel have not been proven together; leave out --encryption")]
    WithEncryption,
    #[error("--services needs pods that reach each other, and on this underlay host-gw's pods cannot cross the routers: add --routing bgp, or use --mode vxlan")]
    PodsApart,
    #[error("--services puts `outside` on the underlay's 192.168.0.0/24, and its {hosts} hosts leave no address free there: use fewer hosts")]
    NoRoomForOutside { hosts: usize },
}

/// The most Services a lab carries: their targetPorts and NodePorts stay readable.
pub const MAX_SERVICES: usize = 100;

/// One pod a Service selects, with its address in each family the plan knows (an IPv6-only
/// lab's plan keeps the IPv4 addresses its IPv6 ones are [`six`] of, and states none of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub pod: String,
    pub ip: Ipv4Addr,
    pub ip6: Option<Ipv6Addr>,
    pub host: usize,
}

impl Endpoint {
    /// The endpoint's address in `family`: its IPv4 one, or [`six`] of it.
    pub fn addr(&self, family: Family) -> IpAddr {
        match family {
            Family::Ipv4 => IpAddr::V4(self.ip),
            Family::Ipv6 => IpAddr::V6(self.ip6.unwrap_or_else(|| six(self.ip))),
        }
    }
}

/// One protocol of a Service port, with kube-proxy's names for its chains.
#[derive(Debug, Clone, Serialize)]
pub struct PortChains {
    /// `tcp` or `udp`.
    pub proto: &'static str,
    /// iptables: KUBE-SVC-*, KUBE-EXT-*, KUBE-SVL-* and a KUBE-SEP-* per endpoint.
    pub svc: String,
    pub ext: String,
    pub svl: String,
    pub seps: Vec<String>,
    /// nftables: `service-*`, `external-*`, `local-*` and an `endpoint-*` per endpoint.
    pub nft_service: String,
    pub nft_external: String,
    pub nft_local: String,
    pub nft_endpoints: Vec<String>,
    /// Each endpoint's `-m statistic --probability` (none for the last), as kube-proxy prints it.
    pub probabilities: Vec<Option<String>>,
    /// kube-proxy's comment for the port: `default/svc1:tcp`.
    pub comment: String,
}

/// A host's own endpoints of a Service: (endpoint index, `--probability`).
pub type LocalEndpoints = Vec<(usize, Option<String>)>;

/// One Service: a ClusterIP port, its targetPort and NodePort, TCP and UDP. Its addresses in
/// each family the lab carries are in [`Service::cluster_ip_in`]; kube-proxy's rules, one set per
/// family, in [`ServicePlan::families`].
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    /// The IPv4 ClusterIP; the IPv6 one is [`six`] of it.
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    pub target_port: u16,
    pub node_port: u16,
    pub endpoints: Vec<Endpoint>,
    /// Under the local policy, each host's own endpoints: (host index, [(endpoint index,
    /// probability)]), for KUBE-SVL-* and nftables' `local-*` chain.
    pub local: Vec<(usize, LocalEndpoints)>,
}

impl Service {
    /// The ClusterIP in `family`: the IPv4 one, or [`six`] of it.
    pub fn cluster_ip_in(&self, family: Family) -> IpAddr {
        match family {
            Family::Ipv4 => IpAddr::V4(self.cluster_ip),
            Family::Ipv6 => IpAddr::V6(six(self.cluster_ip)),
        }
    }
}

/// The machine outside the cluster, on the underlay.
#[derive(Debug, Clone, Serialize)]
pub struct Outside {
    pub ip: Ipv4Addr,
    /// Its IPv6 address ([`six`] of `ip`) in a lab that carries IPv6.
    pub ip6: Option<Ipv6Addr>,
    pub iface: &'static str,
    /// Where the underlay is routed: each host's subnet and the router towards it.
    pub routes: Vec<(String, Ipv4Addr)>,
    /// The same routes in IPv6, in a lab that carries it.
    pub routes6: Vec<(String, Ipv6Addr)>,
    /// The other end of `outside`'s link: host-gw's switch, vxlan's WAN or a leg of ipip's router.
    pub peer: String,
    /// ipip: the router's leg towards `outside`, and its address there.
    pub router_leg: Option<(String, Ipv4Addr)>,
}

/// Everything the templates need for a lab's Services.
#[derive(Debug, Clone, Serialize)]
pub struct ServicePlan {
    pub kube_proxy: KubeProxy,
    pub policy: TrafficPolicy,
    /// All pod subnets in each family, comma-separated as the `cnilab.cluster-cidr` label
    /// states them: kube-proxy's `--cluster-cidr`, and the CNI's masquerade boundary.
    pub cluster_cidr: String,
    pub services: Vec<Service>,
    /// kube-proxy's rules in each family the lab carries, IPv4's first: kube-proxy runs one
    /// proxier per family (NewDualStackProxier), each with its own table.
    pub families: Vec<FamilyRules>,
    pub outside: Outside,
    pub masq_mark: &'static str,
    /// The `cnilab.services` label, in [`label_text`]'s form.
    pub label: String,
    /// The folder, relative to the topology file, that holds a folder of rules per host, and
    /// where each host sees its folder.
    pub dir: String,
    pub node_dir: &'static str,
    pub egress_port: u16,
}

/// Where a lab's Services go: its name, mode, families, hosts and racks.
pub struct Site<'a> {
    pub lab: &'a str,
    pub mode: Mode,
    pub family: IpFamily,
    pub hosts: &'a [Host],
    pub racks: &'a [Rack],
}

/// Plans `spec.count` Services over the site's hosts; `None` for no Services. In a dual lab
/// each Service has an IPv4 and an IPv6 ClusterIP, IPv4's first (`ipFamilyPolicy:
/// PreferDualStack` in a cluster whose first service CIDR is IPv4's); in an IPv6 lab an IPv6
/// one only (SingleStack). The IPv6 addresses are [`six`] of the IPv4 plan's.
pub fn plan(spec: &ServicesSpec, site: &Site<'_>) -> Result<Option<ServicePlan>, ServiceError> {
    if spec.count == 0 {
        return Ok(None);
    }
    check(spec, site.hosts)?;
    // ipip's router gives `outside` an IPv4 leg only: IPv6 would reach no one there.
    if site.mode == Mode::Ipip && site.family.has_v6() {
        return Err(ServiceError::IpipIpv6(site.family));
    }
    let outside = outside(site.mode, site.family, site.hosts, site.racks)?;
    let services: Vec<Service> = (1..=spec.count)
        .map(|i| service(spec, i, site.hosts))
        .collect();
    let fams = site.family.families();
    let cidr = cluster_cidr(site.mode);
    let families = fams
        .iter()
        .map(|&f| rules::family_rules(f, spec, cidr, &services))
        .collect();
    Ok(Some(ServicePlan {
        kube_proxy: spec.kube_proxy,
        policy: spec.policy,
        cluster_cidr: cidrs_text(cidr, &fams),
        label: label_text(&services, &fams),
        services,
        families,
        outside,
        masq_mark: MASQ_MARK,
        dir: format!("{}/kube-proxy", crate::routing::files_dir(site.lab)),
        node_dir: NODE_DIR,
        egress_port: EGRESS_PORT,
    }))
}

/// The IPv4 cluster CIDR in each family, comma-separated: `172.16.0.0/16,fd00:172:16::/48`.
fn cidrs_text(v4: ipnet::Ipv4Net, families: &[Family]) -> String {
    let one = |f: &Family| match f {
        Family::Ipv4 => v4.to_string(),
        Family::Ipv6 => six_prefix(v4).to_string(),
    };
    families.iter().map(one).collect::<Vec<_>>().join(",")
}

fn check(spec: &ServicesSpec, hosts: &[Host]) -> Result<(), ServiceError> {
    // A Service's endpoints sit on several hosts: a lab whose pods cannot reach every host's
    // pods (host-gw across routers, statically routed) cannot carry one.
    if hosts.iter().any(|h| h.unreachable.is_some()) {
        return Err(ServiceError::PodsApart);
    }
    if spec.count > MAX_SERVICES {
        return Err(ServiceError::TooMany {
            count: spec.count,
            max: MAX_SERVICES,
        });
    }
    let last = u32::from(spec.node_port) + spec.count as u32 - 1;
    if spec.node_port < NODE_PORT_MIN || last > u32::from(NODE_PORT_MAX) {
        return Err(ServiceError::NodePortOutOfRange {
            first: spec.node_port,
            last,
        });
    }
    let pods: usize = hosts.iter().map(|h| h.pods.len()).sum();
    match spec.endpoints {
        0 => return Err(ServiceError::SelectsNoPod),
        n if n > pods => return Err(ServiceError::TooManyEndpoints { asked: n, pods }),
        _ => {}
    }
    // .0 is the network, .1 the `kubernetes` Service; ours start at .11 (svc1 = 10.96.0.11).
    if spec.cidr.hosts().count() < spec.count + 11 {
        return Err(ServiceError::CidrTooSmall {
            cidr: spec.cidr,
            count: spec.count,
        });
    }
    Ok(())
}

/// The pod subnets' supernet: host-gw numbers them 10.0.i.0/24, the overlays 172.16.(i−1).0/24.
fn cluster_cidr(mode: Mode) -> ipnet::Ipv4Net {
    match mode {
        Mode::HostGw => "10.0.0.0/16",
        Mode::Vxlan | Mode::Ipip => "172.16.0.0/16",
    }
    .parse()
    .expect("a valid CIDR")
}

/// Service `i` (from 1) selects `spec.endpoints` pods, taken host by host from host `i`
/// round the lab, so that two or more endpoints sit on different hosts.
fn endpoints(spec: &ServicesSpec, i: usize, hosts: &[Host]) -> Vec<Endpoint> {
    let n = hosts.len();
    (0..spec.endpoints)
        .map(|k| {
            let h = &hosts[(i - 1 + k) % n];
            let p = &h.pods[((i - 1 + k) / n) % h.pods.len()];
            Endpoint {
                pod: p.name.clone(),
                ip: p.ip,
                ip6: p.ip6,
                host: h.index,
            }
        })
        .collect()
}

fn service(spec: &ServicesSpec, i: usize, hosts: &[Host]) -> Service {
    let name = format!("svc{i}");
    let base = u32::from(spec.cidr.network());
    let target_port = TARGET_PORT_BASE + i as u16;
    let endpoints = endpoints(spec, i, hosts);
    let local = hosts
        .iter()
        .map(|h| {
            let mine: Vec<usize> = (0..endpoints.len())
                .filter(|&k| endpoints[k].host == h.index)
                .collect();
            let odds = probabilities(mine.len());
            (h.index, mine.into_iter().zip(odds).collect())
        })
        .collect();
    Service {
        local,
        cluster_ip: Ipv4Addr::from(base + 10 + i as u32),
        port: SERVICE_PORT,
        target_port,
        node_port: spec.node_port + i as u16 - 1,
        endpoints,
        name,
    }
}

#[cfg(test)]
mod tests;
