//! The address plan: which nodes a lab has and which addresses they get.
//!
//! This is pure data. The templates turn it into exec lines and labels; nothing here knows
//! what an exec line looks like, so the templates stay the one place that says how a mode is
//! built.

pub mod encryption;

use crate::family::{six, six_net, IpFamily, VXLAN6_OVERHEAD};
use crate::routing::Routing;
use crate::underlay::{segment_step, Rack, Underlay, UnderlayError};
use serde::Serialize;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The data plane a lab demonstrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Plain routing over one L2 segment.
    HostGw,
    /// flannel-style VXLAN (VNI 1, UDP 4789) over a routed underlay.
    Vxlan,
    /// calico-style IP-in-IP over a routed underlay.
    Ipip,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::HostGw, Mode::Vxlan, Mode::Ipip];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::HostGw => "host-gw",
            Mode::Vxlan => "vxlan",
            Mode::Ipip => "ipip",
        }
    }

    /// The lab name the article uses for this mode.
    pub fn default_lab_name(self) -> &'static str {
        match self {
            Mode::HostGw => "host-gw-lab",
            Mode::Vxlan => "flannel-vxlan",
            Mode::Ipip => "ipip-demo",
        }
    }

    /// The underlay the article builds the mode on.
    pub fn default_underlay(self) -> Underlay {
        match self {
            Mode::HostGw => Underlay::Flat,
            Mode::Vxlan | Mode::Ipip => Underlay::Routed,
        }
    }

    /// Pod MTU on a 1500-byte underlay: the overlay header has to fit inside it.
    pub fn pod_mtu(self) -> u16 {
        match self {
            Mode::HostGw => 1500,
            Mode::Vxlan => 1500 - VXLAN_OVERHEAD,
            Mode::Ipip => 1500 - IPIP_OVERHEAD,
        }
    }
}

/// Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14).
pub const VXLAN_OVERHEAD: u16 = 50;
/// Outer IPv4 header.
pub const IPIP_OVERHEAD: u16 = 20;
/// flannel's VNI, as in the article.
pub const VXLAN_VNI: u32 = 1;
pub use crate::wire::encap::VXLAN_PORT;

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| PlanError::UnknownMode(s.to_string()))
    }
}

/// Whose way of programming the mode a lab shows: the article's simplified one, or what a
/// real CNI plugin sets up (see the README's side-by-side table for the sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// The article's simplified lab (the default).
    #[default]
    Article,
    /// What flannel programs (host-gw, vxlan).
    Flannel,
    /// What Calico programs (vxlan, ipip).
    Calico,
    /// Cilium's flow-based VXLAN tunnel, keyed by routes instead of eBPF (vxlan).
    Cilium,
}

impl Flavor {
    pub const ALL: [Flavor; 4] = [
        Flavor::Article,
        Flavor::Flannel,
        Flavor::Calico,
        Flavor::Cilium,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Article => "article",
            Flavor::Flannel => "flannel",
            Flavor::Calico => "calico",
            Flavor::Cilium => "cilium",
        }
    }

    /// The flavors that exist for a mode: flannel has no IPIP backend, Calico no host-gw one
    /// cnilab models, and Cilium tunnels with VXLAN (Geneve needs a kernel this one lacks).
    pub fn valid_for(mode: Mode) -> &'static [Flavor] {
        match mode {
            Mode::HostGw => &[Flavor::Article, Flavor::Flannel],
            Mode::Vxlan => &[
                Flavor::Article,
                Flavor::Flannel,
                Flavor::Calico,
                Flavor::Cilium,
            ],
            Mode::Ipip => &[Flavor::Article, Flavor::Calico],
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Flavor {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flavor::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| PlanError::UnknownFlavor(s.to_string()))
    }
}

/// The tunnel device a flavor programs, with what goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    pub dev: &'static str,
    /// VXLAN only: the UDP port and VNI.
    pub port: u16,
    pub vni: u32,
}

/// flannel's default VXLAN port: it leaves the port to the kernel, whose default is 8472.
pub const FLANNEL_VXLAN_PORT: u16 = 8472;
/// Calico's defaults (felix `VXLANPort`, `VXLANVNI`).
pub const CALICO_VXLAN_PORT: u16 = 4789;
pub const CALICO_VXLAN_VNI: u32 = 4096;
/// Cilium's default VXLAN port (`defaults.TunnelPortVXLAN`).
pub const CILIUM_VXLAN_PORT: u16 = 8472;
/// Cilium carries the sender's security identity in the VNI; the lab gives every pod the
/// first identity Cilium hands out to workloads.
pub const CILIUM_VNI: u32 = 256;

fn tunnel(mode: Mode, flavor: Flavor) -> Option<Tunnel> {
    let (dev, port, vni) = match (mode, flavor) {
        (Mode::HostGw, _) => return None,
        (Mode::Vxlan, Flavor::Article) => ("flannel.1", VXLAN_PORT, VXLAN_VNI),
        (Mode::Vxlan, Flavor::Flannel) => ("flannel.1", FLANNEL_VXLAN_PORT, VXLAN_VNI),
        (Mode::Vxlan, Flavor::Calico) => ("vxlan.calico", CALICO_VXLAN_PORT, CALICO_VXLAN_VNI),
        (Mode::Vxlan, Flavor::Cilium) => ("cilium_vxlan", CILIUM_VXLAN_PORT, CILIUM_VNI),
        (Mode::Ipip, Flavor::Calico) => ("tunl0", 0, 0),
        (Mode::Ipip, _) => ("tunl1", 0, 0),
    };
    Some(Tunnel { dev, port, vni })
}

/// A host's VTEP MAC where the flavor programs peers' MACs statically: fixed by the plan, so
/// the file says which MAC each peer's neighbour and FDB entries point at.
fn vtep_mac(i: u8) -> String {
    format!("02:cb:00:00:00:{i:02x}")
}

/// The IPv6 VTEP's MAC: the IPv4 one's, with 06 in its fifth byte.
fn vtep_mac6(i: u8) -> String {
    format!("02:cb:00:00:06:{i:02x}")
}

pub const MIN_HOSTS: usize = 2;
/// Host indices become the third octet of 10.0.i.0/24 and a factor of the last octet of
/// 192.168.0.x, so 254 is where the plan runs out of addresses.
pub const MAX_HOSTS: usize = 254;
/// Pod addresses run from .2 of the host's /24; veth names must fit in 15 characters.
pub const MAX_PODS_PER_HOST: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("unknown mode `{0}`: expected one of host-gw, vxlan, ipip")]
    UnknownMode(String),
    #[error("{0} hosts is out of range: a lab has {MIN_HOSTS} to {MAX_HOSTS} hosts")]
    HostsOutOfRange(usize),
    #[error("lab name `{0}` is not valid: use letters, digits, '-', '_' or '.', starting with a letter or digit")]
    BadLabName(String),
    #[error("unknown flavor `{0}`: expected one of article, flannel, calico, cilium")]
    UnknownFlavor(String),
    #[error("--mode {mode} has no flavor `{flavor}`: valid flavors for {mode} are {}", valid_flavors(.mode))]
    FlavorNotInMode { mode: Mode, flavor: Flavor },
    #[error("{0} pods per host is out of range: a host carries 1 to {MAX_PODS_PER_HOST} pods")]
    PodsOutOfRange(usize),
    #[error(transparent)]
    Underlay(#[from] UnderlayError),
    #[error(transparent)]
    Services(#[from] crate::services::ServiceError),
    #[error("--mode {mode} is built on its own routed underlay only; --underlay {underlay} is for --mode host-gw (and with racks:R for --mode vxlan --flavor flannel or calico, and --mode ipip --flavor calico)")]
    UnderlayNotInMode { mode: Mode, underlay: Underlay },
    #[error("--routing bgp needs routers to peer with: use it with --mode host-gw and --underlay routed or racks:R")]
    BgpNeedsRouters,
    #[error("{flag} is {valid}'s option on racks of hosts: use it with --mode {modes} --flavor {valid} --underlay racks:R, not with --mode {mode} --flavor {flavor} --underlay {underlay}")]
    HybridNotHere {
        flag: &'static str,
        valid: Flavor,
        /// The modes the flag is built for, as the message shows them.
        modes: &'static str,
        mode: Mode,
        flavor: Flavor,
        underlay: Underlay,
    },
    #[error("--mode ipip --ip-family ipv6: IPIP carries IPv4 only (IP protocol 4 has no IPv6 inside it); for an IPv6 overlay use `cnilab gen --mode vxlan --ip-family ipv6 --hosts {hosts}`")]
    IpipCarriesIpv4Only { hosts: usize },
    #[error("--ip-family {family} is not built for {what} yet: {fix}")]
    FamilyNotBuilt {
        family: IpFamily,
        what: String,
        fix: &'static str,
    },
}

fn valid_flavors(mode: &Mode) -> String {
    let names: Vec<_> = Flavor::valid_for(*mode)
        .iter()
        .map(|f| f.as_str())
        .collect();
    names.join(", ")
}

/// One pod: its node, address and the host side of its veth.
#[derive(Debug, Clone, Serialize)]
pub struct Pod {
    pub name: String,
    pub ip: Ipv4Addr,
    /// The pod's IPv6 address, in an ipv6 or dual lab: [`six`] of `ip`.
    pub ip6: Option<Ipv6Addr>,
    /// The host's end of the pod's veth: on cni0 for the article and flannel, routed for
    /// Calico (`cali…`) and Cilium (`lxc…`).
    pub veth: String,
}

/// One host and the pods it carries.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub index: usize,
    pub name: String,
    pub pods: Vec<Pod>,
    /// The host's address on the underlay, on `underlay_if`.
    pub underlay_ip: Ipv4Addr,
    pub underlay_if: &'static str,
    /// The host's own underlay subnet where the underlay is routed (vxlan, ipip): routers
    /// route it, and nothing else may cross the underlay.
    pub underlay_subnet: Option<String>,
    /// Next hop towards the other hosts where the underlay is routed (vxlan, ipip).
    pub underlay_gw: Option<Ipv4Addr>,
    pub pod_subnet: ipnet::Ipv4Net,
    pub pod_gw: Ipv4Addr,
    /// The tunnel address: the `.0` of the pod subnet, a /32 on the tunnel device (flannel's
    /// VTEP address, Calico's tunnel address; Cilium's peers use it only as a next hop).
    pub vtep_ip: Option<Ipv4Addr>,
    /// The tunnel device's MAC where peers program it statically (flannel, Calico and Cilium
    /// VXLAN).
    pub vtep_mac: Option<String>,
    /// The interface a pod reaches its host through.
    pub pod_if: &'static str,
    /// The router in front of this host (vxlan only) and its address on the WAN.
    pub router: Option<String>,
    pub router_wan_ip: Option<Ipv4Addr>,
    /// The router's interface on the WAN (vxlan only).
    pub router_wan_if: Option<&'static str>,
    /// The router's leg into this host's subnet (vxlan: `eth2` of `gw<i>`; ipip: `eth<i>` of `gw`).
    pub router_lan_if: Option<String>,
    /// The rack the host sits in (host-gw on a routed or racks underlay).
    pub rack: Option<usize>,
    /// The hosts whose pods this host's pods cannot reach (host-gw across racks), as ranges:
    /// the lab declares those pairs as expected failures.
    pub unreachable: Option<String>,
    /// With `--routing bgp`: the host's AS and its BIRD folder, relative to the topology file.
    pub asn: Option<u32>,
    pub bird_dir: Option<String>,
    /// With flannel's DirectRouting or Calico's CrossSubnet: the peers on this host's own subnet
    /// (its rack mates), as ranges. They get a plain route via the peer; every other peer goes through VXLAN.
    pub direct_to: Option<String>,
    /// The host's IPv6 addresses, in an ipv6 or dual lab.
    pub v6: Option<HostV6>,
}

/// A host's IPv6 side: each address is [`six`] of its IPv4 counterpart.
#[derive(Debug, Clone, Serialize)]
pub struct HostV6 {
    pub underlay_ip: Ipv6Addr,
    pub underlay_subnet: Option<ipnet::Ipv6Net>,
    pub underlay_gw: Option<Ipv6Addr>,
    pub pod_subnet: ipnet::Ipv6Net,
    pub pod_gw: Ipv6Addr,
    pub vtep_ip: Option<Ipv6Addr>,
    /// The IPv6 VTEP's MAC where peers program it statically (flannel's `VtepMACv6`).
    pub vtep_mac: Option<String>,
    pub router_wan_ip: Option<Ipv6Addr>,
}

/// Everything a template needs to render one lab.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub mode: Mode,
    pub flavor: Flavor,
    pub lab: String,
    pub hosts: Vec<Host>,
    pub pods_per_host: usize,
    pub pod_mtu: u16,
    /// The tunnel device and, for VXLAN, its port and VNI (none for host-gw).
    pub tunnel: Option<Tunnel>,
    pub vni: u32,
    pub vxlan_port: u16,
    /// The supernet of all host-side underlay subnets, excluded from MASQUERADE.
    pub underlay_supernet: &'static str,
    pub underlay: Underlay,
    /// The mode's own underlay: the file then says nothing about it, and reads as the
    /// article's.
    pub underlay_is_default: bool,
    /// The segments of hosts behind routers (host-gw on a routed or racks underlay).
    pub racks: Vec<Rack>,
    pub routing: Routing,
    /// flannel's DirectRouting: peers on the host's own subnet are routed plain.
    pub direct_routing: bool,
    /// Calico's CrossSubnet (VXLAN or IPIP): the same plain routes to rack mates, the tunnel
    /// to the rest; with VXLAN every peer's VTEP entries are kept.
    pub cross_subnet: bool,
    /// The WireGuard tunnel between hosts (`gen --encryption wireguard`), set by gen after
    /// planning, since it carries fresh keys.
    pub encryption: Option<encryption::Wireguard>,
    /// Cilium's IPsec between hosts (`gen --encryption ipsec`), likewise set by gen.
    pub ipsec: Option<encryption::ipsec::Ipsec>,
    pub ip_family: IpFamily,
    /// Whether the lab carries IPv4 and IPv6, for the templates.
    pub ipv4: bool,
    pub ipv6: bool,
    /// The IPv6 VTEP device where the lab tunnels IPv6 (flannel's or Calico's dual-stack name).
    pub tunnel6_dev: Option<&'static str>,
    /// `gen --services S`: the Services, kube-proxy's mode and `outside` (none by default).
    pub services: Option<crate::services::ServicePlan>,
}

/// flannel's IPv6 VTEP (pkg/backend/vxlan/vxlan.go: `flannel-v6.<VNI>`).
pub const FLANNEL_V6_DEV: &str = "flannel-v6.1";
/// Calico's IPv6 VTEP (felix/dataplane/linux/dataplanedefs/dataplane_defs.go:
/// `VXLANIfaceNameV6`), with the same VNI and port as `vxlan.calico` (felix's one `VXLANVNI`
/// and `VXLANPort` for both families).
pub const CALICO_V6_DEV: &str = "vxlan-v6.calico";

/// The IPv6 VTEP of the flavors that tunnel IPv6 (none for the rest). IPIP carries IPv4
/// only, so an ipip lab sends IPv6 as Calico's dual-stack does, in `vxlan-v6.calico` (an
/// IPv4 IPPool with ipipMode beside an IPv6 one with vxlanMode: felix's
/// EncapsulationCalculator enables IPIP and VXLANEnabledV6 side by side).
fn tunnel6_dev(mode: Mode, flavor: Flavor) -> Option<&'static str> {
    match (mode, flavor) {
        (Mode::Vxlan, Flavor::Article | Flavor::Flannel) => Some(FLANNEL_V6_DEV),
        (Mode::Vxlan, Flavor::Calico) | (Mode::Ipip, _) => Some(CALICO_V6_DEV),
        // Cilium has one tunnel device for both families.
        (Mode::Vxlan, Flavor::Cilium) => tunnel(mode, flavor).map(|t| t.dev),
        _ => None,
    }
}

/// How a host's IPv6 VTEP relates to its IPv4 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vtep6 {
    /// A device of its own mirroring the IPv4 one: its address, and a MAC of its own where the
    /// IPv4 one's is fixed (flannel, Calico's VXLAN); none where there is no IPv4 VTEP.
    Mirrored,
    /// A device of its own though the host has no IPv4 VTEP (an ipip lab's `vxlan-v6.calico`),
    /// at the ::0 of its pod /64 with a MAC of its own.
    Own,
    /// The IPv4 device itself (Cilium's `cilium_vxlan`): its address mirrored, its one MAC.
    Shared,
}

fn vtep6(mode: Mode, flavor: Flavor) -> Vtep6 {
    match (mode, flavor) {
        (Mode::Ipip, _) => Vtep6::Own,
        (_, Flavor::Cilium) => Vtep6::Shared,
        _ => Vtep6::Mirrored,
    }
}

/// The VNI and port of the lab's VXLAN: the mode's own tunnel's, or where an ipip lab tunnels
/// IPv6, `vxlan-v6.calico`'s (felix's one `VXLANVNI` and `VXLANPort`).
fn vxlan_params(mode: Mode, tunnel: Option<Tunnel>, family: IpFamily) -> (u32, u16) {
    match (mode, tunnel) {
        (Mode::Ipip, _) if family.has_v6() => (CALICO_VXLAN_VNI, CALICO_VXLAN_PORT),
        (_, Some(t)) => (t.vni, t.port),
        (_, None) => (VXLAN_VNI, VXLAN_PORT),
    }
}

/// What a user asks for: the article's lab unless a flavor or more pods are named.
#[derive(Debug, Clone, Copy)]
pub struct LabSpec<'a> {
    pub mode: Mode,
    pub flavor: Flavor,
    pub hosts: usize,
    pub pods_per_host: usize,
    pub lab: Option<&'a str>,
    /// `None`: the mode's own underlay.
    pub underlay: Option<Underlay>,
    pub routing: Routing,
    /// flannel's DirectRouting (vxlan, flannel flavor, racks underlay only).
    pub direct_routing: bool,
    /// Calico's CrossSubnet (vxlan or ipip, calico flavor, racks underlay only).
    pub cross_subnet: bool,
    pub ip_family: IpFamily,
}

impl<'a> LabSpec<'a> {
    /// The article's lab: its flavor, one pod per host.
    pub fn article(mode: Mode, hosts: usize, lab: Option<&'a str>) -> LabSpec<'a> {
        LabSpec {
            mode,
            flavor: Flavor::Article,
            hosts,
            pods_per_host: 1,
            lab,
            underlay: None,
            routing: Routing::Static,
            direct_routing: false,
            cross_subnet: false,
            ip_family: IpFamily::Ipv4,
        }
    }
}

impl Plan {
    /// The article's lab for a mode (flavor `article`, one pod per host).
    pub fn new(mode: Mode, hosts: usize, lab: Option<&str>) -> Result<Plan, PlanError> {
        Plan::from_spec(&LabSpec::article(mode, hosts, lab))
    }

    pub fn from_spec(spec: &LabSpec<'_>) -> Result<Plan, PlanError> {
        check_counts(spec)?;
        let underlay = spec.underlay.unwrap_or(spec.mode.default_underlay());
        let lab = lab_name(spec, underlay)?;
        let tunnel_racks = check_underlay(spec, underlay)?;
        let (hosts, racks) = plan_nodes(spec, underlay, tunnel_racks, &lab)?;
        Ok(Plan::assemble(spec, lab, underlay, hosts, racks))
    }

    /// The plan of `spec`'s lab, its names, underlay and nodes settled; the rest follows
    /// from the mode, flavor and address family.
    fn assemble(
        spec: &LabSpec<'_>,
        lab: String,
        underlay: Underlay,
        hosts: Vec<Host>,
        racks: Vec<Rack>,
    ) -> Plan {
        let LabSpec {
            mode,
            flavor,
            pods_per_host,
            routing,
            direct_routing,
            cross_subnet,
            ip_family,
            ..
        } = *spec;
        let tunnel = tunnel(mode, flavor);
        let (vni, vxlan_port) = vxlan_params(mode, tunnel, ip_family);
        Plan {
            mode,
            flavor,
            lab,
            hosts,
            pods_per_host,
            pod_mtu: pod_mtu(mode, flavor, ip_family),
            tunnel,
            vni,
            vxlan_port,
            underlay_supernet: "10.0.0.0/16",
            underlay,
            underlay_is_default: underlay == mode.default_underlay(),
            racks,
            routing,
            direct_routing,
            cross_subnet,
            encryption: None,
            ipsec: None,
            ip_family,
            ipv4: ip_family.has_v4(),
            ipv6: ip_family.has_v6(),
            tunnel6_dev: tunnel6_dev(mode, flavor).filter(|_| ip_family.has_v6()),
            services: None,
        }
    }

    /// The plan with `spec.count` Services on it (see [`crate::services`]).
    pub fn with_services(
        mut self,
        spec: &crate::services::ServicesSpec,
    ) -> Result<Plan, PlanError> {
        let site = crate::services::Site {
            lab: &self.lab,
            mode: self.mode,
            family: self.ip_family,
            hosts: &self.hosts,
            racks: &self.racks,
        };
        self.services = crate::services::plan(spec, &site)?;
        Ok(self)
    }
}

/// Whether `underlay` suits `spec`'s mode, host count and address family; returns whether
/// the lab's racks are joined by the mode's tunnel.
fn check_underlay(spec: &LabSpec<'_>, underlay: Underlay) -> Result<bool, PlanError> {
    let mode = spec.mode;
    let tunnel_racks = check_tunnel_racks(spec, underlay)?;
    if mode != Mode::HostGw && underlay != mode.default_underlay() && !tunnel_racks {
        return Err(PlanError::UnderlayNotInMode { mode, underlay });
    }
    underlay.check(spec.hosts)?;
    check_family(spec, underlay)?;
    Ok(tunnel_racks)
}

/// The lab's hosts and racks, with their IPv6 sides where the lab carries IPv6.
fn plan_nodes(
    spec: &LabSpec<'_>,
    underlay: Underlay,
    tunnel_racks: bool,
    lab: &str,
) -> Result<(Vec<Host>, Vec<Rack>), PlanError> {
    let mut racks = plan_racks(spec, underlay, tunnel_racks, lab)?;
    let mut hosts = plan_hosts(spec, &racks, lab);
    if spec.ip_family.has_v6() {
        let vtep6 = vtep6(spec.mode, spec.flavor);
        hosts.iter_mut().for_each(|h| with_v6(h, vtep6));
        racks.iter_mut().for_each(rack_with_v6);
    }
    Ok((hosts, racks))
}

/// The pods' MTU: the smallest any family's overlay leaves on a 1500-byte underlay. One link
/// carries both families, so a dual VXLAN lab takes IPv6's 1430; flannel gives its pods 1450
/// in dual-stack too (its encapOverhead is 50 for either VTEP), 20 bytes more than an IPv6
/// underlay leaves. A dual ipip lab takes 1430 too: felix's determinePodMTU picks the
/// smallest MTU of the enabled encapsulations, IPIP's 1480 and IPv6 VXLAN's 1430.
///
/// Cilium tunnels both families over its IPv4 underlay (`underlay-protocol` ipv4, its default),
/// so its IPv6 pod packets cost VXLAN over IPv4's 50 bytes and its pods keep 1450.
fn pod_mtu(mode: Mode, flavor: Flavor, family: IpFamily) -> u16 {
    match (mode, flavor) {
        (Mode::Vxlan, Flavor::Cilium) => mode.pod_mtu(),
        (Mode::Vxlan | Mode::Ipip, _) if family.has_v6() => 1500 - VXLAN6_OVERHEAD,
        _ => mode.pod_mtu(),
    }
}

/// What exists in IPv6 so far: the article's and flannel's host-gw and vxlan labs and Calico's
/// vxlan lab on their own underlays; in dual only, the article's and Calico's ipip labs and
/// Cilium's vxlan lab there too; host-gw on a routed or racks underlay with static routes or
/// BGP (a BIRD session per family); and flannel's and Calico's vxlan on racks (with
/// DirectRouting or CrossSubnet too).
/// Everything else is refused, with the reason and what to ask for instead.
fn check_family(spec: &LabSpec<'_>, underlay: Underlay) -> Result<(), PlanError> {
    let family = spec.ip_family;
    if family == IpFamily::Ipv4 {
        return Ok(());
    }
    if (spec.mode, family) == (Mode::Ipip, IpFamily::Ipv6) {
        return Err(PlanError::IpipCarriesIpv4Only { hosts: spec.hosts });
    }
    let refuse = |what: String, fix| Err(PlanError::FamilyNotBuilt { family, what, fix });
    let calico = spec.flavor == Flavor::Calico && spec.mode != Mode::HostGw;
    // Cilium tunnels IPv6 pods over its IPv4 underlay: it needs an IPv4 side.
    let cilium_dual = spec.flavor == Flavor::Cilium && family == IpFamily::Dual;
    if !matches!(spec.flavor, Flavor::Article | Flavor::Flannel) && !calico && !cilium_dual {
        let fix = match spec.flavor {
            Flavor::Cilium => "Cilium's tunnel runs over its IPv4 underlay (underlay-protocol ipv4): use --ip-family dual",
            _ => "use the article's flavor (leave --flavor out), --flavor flannel, or --flavor calico",
        };
        return refuse(
            format!("--flavor {} with --mode {}", spec.flavor, spec.mode),
            fix,
        );
    }
    // host-gw's routed and racks underlays route IPv6 as they route IPv4 (rack_routers).
    let racked_host_gw = spec.mode == Mode::HostGw && underlay != Underlay::Flat;
    // flannel's and Calico's VXLAN on racks: each VTEP reaches every peer's IPv6 underlay
    // address through the rack routers, which route the racks' /64s as they do for host-gw.
    let racked_vxlan = spec.mode == Mode::Vxlan
        && matches!(spec.flavor, Flavor::Flannel | Flavor::Calico)
        && matches!(underlay, Underlay::Racks(_));
    if underlay != spec.mode.default_underlay() && !racked_host_gw && !racked_vxlan {
        return refuse(
            format!("--underlay {underlay} with --mode {}", spec.mode),
            "leave --underlay out: the mode's own underlay carries IPv6",
        );
    }
    Ok(())
}

/// A host with its IPv6 addresses, each [`six`] of its IPv4 one, and its IPv6 VTEP as `vtep6`
/// says.
fn with_v6(h: &mut Host, vtep6: Vtep6) {
    let own = vtep6 == Vtep6::Own;
    let vtep = own.then(|| h.pod_subnet.network());
    let vtep_mac = match vtep6 {
        Vtep6::Shared => h.vtep_mac.clone(),
        _ if h.vtep_mac.is_some() || own => Some(vtep_mac6(octet(h.index))),
        _ => None,
    };
    for pod in &mut h.pods {
        pod.ip6 = Some(six(pod.ip));
    }
    h.v6 = Some(HostV6 {
        underlay_ip: six(h.underlay_ip),
        underlay_subnet: h
            .underlay_subnet
            .as_deref()
            .and_then(|s| s.parse().ok())
            .map(six_net),
        underlay_gw: h.underlay_gw.map(six),
        pod_subnet: six_net(h.pod_subnet),
        pod_gw: six(h.pod_gw),
        vtep_ip: h.vtep_ip.or(vtep).map(six),
        vtep_mac,
        router_wan_ip: h.router_wan_ip.map(six),
    });
}

/// A rack with its IPv6 side, each [`six`] of its IPv4 address: the routers get IPv6 by the
/// hosts' rule.
fn rack_with_v6(r: &mut Rack) {
    let subnet: ipnet::Ipv4Net = r.subnet.parse().expect("the plan writes a rack's subnet");
    r.v6 = Some(crate::underlay::RackV6 {
        subnet: six_net(subnet),
        gateway: six(r.gateway),
        wan_ip: six(r.wan_ip),
    });
}

/// The sizes and the flavor, checked before anything is derived from them.
fn check_counts(spec: &LabSpec<'_>) -> Result<(), PlanError> {
    if !(MIN_HOSTS..=MAX_HOSTS).contains(&spec.hosts) {
        return Err(PlanError::HostsOutOfRange(spec.hosts));
    }
    if !Flavor::valid_for(spec.mode).contains(&spec.flavor) {
        return Err(PlanError::FlavorNotInMode {
            mode: spec.mode,
            flavor: spec.flavor,
        });
    }
    if !(1..=MAX_PODS_PER_HOST).contains(&spec.pods_per_host) {
        return Err(PlanError::PodsOutOfRange(spec.pods_per_host));
    }
    Ok(())
}

/// The name asked for, or a default of the mode's own that tells flavors and underlays apart,
/// so that labs of each can be up side by side.
fn lab_name(spec: &LabSpec<'_>, underlay: Underlay) -> Result<String, PlanError> {
    let (mode, flavor) = (spec.mode, spec.flavor);
    let lab = match (spec.lab, flavor) {
        (Some(lab), _) => lab.to_string(),
        (None, Flavor::Article) => mode.default_lab_name().to_string(),
        (None, _) => format!("{mode}-{flavor}"),
    };
    let lab = match underlay == mode.default_underlay() || spec.lab.is_some() {
        true => lab,
        false => format!("{lab}-{}", underlay.to_string().replace(':', "")),
    };
    if !crate::topology::valid_name(&lab) {
        return Err(PlanError::BadLabName(lab));
    }
    Ok(lab)
}

/// The racks of hosts behind routers, with their BGP daemons when the routing asks for them.
fn plan_racks(
    spec: &LabSpec<'_>,
    underlay: Underlay,
    tunnel_racks: bool,
    lab: &str,
) -> Result<Vec<Rack>, PlanError> {
    let mut racks = match spec.mode {
        Mode::HostGw => crate::underlay::racks(underlay, spec.hosts),
        Mode::Vxlan | Mode::Ipip if tunnel_racks => crate::underlay::racks(underlay, spec.hosts),
        Mode::Vxlan | Mode::Ipip => Vec::new(),
    };
    if spec.routing == Routing::Bgp {
        if racks.is_empty() {
            return Err(PlanError::BgpNeedsRouters);
        }
        for r in &mut racks {
            r.asn = Some(crate::routing::router_as(r.index));
            r.bird_dir = Some(crate::routing::node_dir(lab, &r.router));
        }
    }
    Ok(racks)
}

/// Every host, placed in its rack where the underlay has racks.
fn plan_hosts(spec: &LabSpec<'_>, racks: &[Rack], lab: &str) -> Vec<Host> {
    let (mode, hosts) = (spec.mode, spec.hosts);
    let step = segment_step(hosts);
    let hybrid = spec.direct_routing || spec.cross_subnet;
    (1..=hosts)
        .map(|i| {
            let h = host(mode, spec.flavor, i, step, spec.pods_per_host);
            match racks.iter().find(|r| r.hosts.contains(&i)) {
                Some(rack) if mode != Mode::HostGw => tunnel_in_rack(h, rack, hosts, hybrid),
                Some(rack) => with_routing(in_rack(h, rack, hosts), spec.routing, lab),
                None => h,
            }
        })
        .collect()
}

/// Whether this is a tunnel lab that can sit on racks (flannel's or Calico's VXLAN, Calico's
/// IPIP), where the hybrid flags apply; a hybrid flag anywhere else is named first, since it is
/// what makes the rest of the request wrong.
fn check_tunnel_racks(spec: &LabSpec<'_>, underlay: Underlay) -> Result<bool, PlanError> {
    let (mode, flavor) = (spec.mode, spec.flavor);
    let on_racks = matches!(underlay, Underlay::Racks(_));
    let wrong = |flag: &'static str, valid: Flavor, modes: &'static str| PlanError::HybridNotHere {
        flag,
        valid,
        modes,
        mode,
        flavor,
        underlay,
    };
    let flannel = on_racks && (mode, flavor) == (Mode::Vxlan, Flavor::Flannel);
    let calico = on_racks && mode != Mode::HostGw && flavor == Flavor::Calico;
    if spec.direct_routing && !flannel {
        return Err(wrong("--direct-routing", Flavor::Flannel, "vxlan"));
    }
    if spec.cross_subnet && !calico {
        return Err(wrong("--cross-subnet", Flavor::Calico, "vxlan or ipip"));
    }
    Ok(flannel || calico)
}

/// A tunnel host in its rack: every pair works, through the tunnel or, with DirectRouting or
/// CrossSubnet, plain between rack mates (flannel and Calico route a peer on their own subnet
/// via the peer's own address).
fn tunnel_in_rack(h: Host, rack: &Rack, hosts: usize, direct_routing: bool) -> Host {
    let index = h.index;
    Host {
        unreachable: None,
        direct_to: direct_routing
            .then(|| crate::underlay::rack_mates(rack, index))
            .filter(|mates| !mates.is_empty()),
        ..in_rack(h, rack, hosts)
    }
}

/// With BGP, the host peers with its router and every pair works: it declares no failures.
fn with_routing(h: Host, routing: Routing, lab: &str) -> Host {
    match routing {
        Routing::Static => h,
        Routing::Bgp => Host {
            asn: Some(crate::routing::host_as(h.index)),
            bird_dir: Some(crate::routing::node_dir(lab, &h.name)),
            unreachable: None,
            ..h
        },
    }
}

/// A host-gw host moved off the flat segment into its rack, behind the rack's router.
fn in_rack(h: Host, rack: &Rack, hosts: usize) -> Host {
    use crate::underlay::{host_ip, hosts_outside, ROUTER_LAN_IF, ROUTER_WAN_IF};
    Host {
        underlay_ip: host_ip(rack, h.index),
        underlay_subnet: Some(rack.subnet.clone()),
        underlay_gw: Some(rack.gateway),
        router: Some(rack.router.clone()),
        router_wan_ip: Some(rack.wan_ip),
        router_wan_if: Some(ROUTER_WAN_IF),
        router_lan_if: Some(ROUTER_LAN_IF.to_string()),
        rack: Some(rack.index),
        unreachable: Some(hosts_outside(rack, hosts)),
        ..h
    }
}

fn octet(i: usize) -> u8 {
    u8::try_from(i).expect("host index is bounded by MAX_HOSTS")
}

fn host(mode: Mode, flavor: Flavor, i: usize, step: u8, pods_per_host: usize) -> Host {
    let n = octet(i);
    let on_segment = Ipv4Addr::new(192, 168, 0, step * n);
    // host-gw numbers pod subnets from 10.0.1.0/24, the overlays from 172.16.0.0/24 (article).
    let (pod_subnet_base, underlay_ip, underlay_gw) = match mode {
        Mode::HostGw => ([10, 0, n], on_segment, None),
        Mode::Vxlan | Mode::Ipip => (
            [172, 16, n - 1],
            Ipv4Addr::new(10, 0, n, 2),
            Some(Ipv4Addr::new(10, 0, n, 1)),
        ),
    };
    let [a, b, c] = pod_subnet_base;
    let vxlan = mode == Mode::Vxlan;
    let routed = mode != Mode::HostGw;
    let has_vtep_ip = vxlan || (mode, flavor) == (Mode::Ipip, Flavor::Calico);
    let static_vtep_mac = vxlan && flavor != Flavor::Article;
    let router_lan_if = match mode {
        Mode::HostGw => None,
        Mode::Vxlan => Some("eth2".to_string()),
        Mode::Ipip => Some(format!("eth{i}")),
    };
    Host {
        index: i,
        name: format!("host{i}"),
        pods: (1..=pods_per_host)
            .map(|j| pod(flavor, i, j, pods_per_host, [a, b, c]))
            .collect(),
        underlay_ip,
        underlay_if: "eth1",
        underlay_subnet: routed.then(|| format!("10.0.{n}.0/24")),
        underlay_gw,
        pod_subnet: ipnet::Ipv4Net::new(Ipv4Addr::new(a, b, c, 0), 24).expect("24 fits IPv4"),
        pod_gw: Ipv4Addr::new(a, b, c, 1),
        vtep_ip: has_vtep_ip.then(|| Ipv4Addr::new(a, b, c, 0)),
        vtep_mac: static_vtep_mac.then(|| vtep_mac(n)),
        pod_if: "eth1",
        router: vxlan.then(|| format!("gw{i}")),
        router_wan_ip: vxlan.then_some(on_segment),
        router_wan_if: vxlan.then_some("eth1"),
        router_lan_if,
        rack: None,
        unreachable: None,
        asn: None,
        bird_dir: None,
        direct_to: None,
        v6: None,
    }
}

/// Pod `j` of host `i`: the article's `pod<i>` when a host has one pod, `pod<i>-<j>` otherwise,
/// at .(j+1) of the host's subnet.
fn pod(flavor: Flavor, i: usize, j: usize, per_host: usize, [a, b, c]: [u8; 3]) -> Pod {
    let name = if per_host == 1 {
        format!("pod{i}")
    } else {
        format!("pod{i}-{j}")
    };
    let veth = match flavor {
        Flavor::Article | Flavor::Flannel => format!("{name}-veth"),
        Flavor::Calico => format!("cali{name}"),
        Flavor::Cilium => format!("lxc{name}"),
    };
    let last = u8::try_from(j + 1).expect("pods per host is bounded by MAX_PODS_PER_HOST");
    Pod {
        name,
        ip: Ipv4Addr::new(a, b, c, last),
        ip6: None,
        veth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_routing_is_flannel_vxlan_on_racks_only() {
        let spec = |mode, flavor, underlay| LabSpec {
            flavor,
            underlay: Some(underlay),
            direct_routing: true,
            ..LabSpec::article(mode, 4, None)
        };
        let ok = Plan::from_spec(&spec(Mode::Vxlan, Flavor::Flannel, Underlay::Racks(2))).unwrap();
        let direct: Vec<_> = ok.hosts.iter().map(|h| h.direct_to.as_deref()).collect();
        assert_eq!(direct, [Some("2"), Some("1"), Some("4"), Some("3")]);
        assert!(ok.hosts.iter().all(|h| h.unreachable.is_none()));
        for (mode, flavor, underlay) in [
            (Mode::Vxlan, Flavor::Flannel, Underlay::Routed),
            (Mode::Vxlan, Flavor::Calico, Underlay::Racks(2)),
            (Mode::HostGw, Flavor::Flannel, Underlay::Racks(2)),
        ] {
            let err = Plan::from_spec(&spec(mode, flavor, underlay)).unwrap_err();
            assert!(
                matches!(
                    err,
                    PlanError::HybridNotHere {
                        flag: "--direct-routing",
                        ..
                    }
                ),
                "{err}"
            );
        }
        let calico = LabSpec {
            direct_routing: false,
            cross_subnet: true,
            ..spec(Mode::Vxlan, Flavor::Calico, Underlay::Racks(2))
        };
        let ok = Plan::from_spec(&calico).unwrap();
        assert_eq!(ok.hosts[0].direct_to.as_deref(), Some("2"));
        let err = Plan::from_spec(&LabSpec {
            flavor: Flavor::Flannel,
            ..calico
        })
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "--cross-subnet is calico's option on racks of hosts: use it with --mode vxlan or ipip"
            ),
            "{err}"
        );
        // Calico's IPIP takes it too, on the same racks; the article's IPIP does not.
        let ipip = LabSpec {
            mode: Mode::Ipip,
            ..calico
        };
        let ok = Plan::from_spec(&ipip).unwrap();
        let direct: Vec<_> = ok.hosts.iter().map(|h| h.direct_to.as_deref()).collect();
        assert_eq!(direct, [Some("2"), Some("1"), Some("4"), Some("3")]);
        assert_eq!(ok.racks.len(), 2);
        assert_eq!(ok.hosts[3].underlay_ip.to_string(), "192.168.2.3");
        assert_eq!(ok.hosts[3].router_lan_if.as_deref(), Some("eth2"));
        let article = LabSpec {
            flavor: Flavor::Article,
            ..ipip
        };
        assert!(matches!(
            Plan::from_spec(&article).unwrap_err(),
            PlanError::HybridNotHere {
                flag: "--cross-subnet",
                ..
            }
        ));
    }

    #[test]
    fn step_gives_the_article_addresses_and_fits_every_size() {
        assert_eq!(segment_step(2), 100);
        assert_eq!(segment_step(3), 50);
        assert_eq!(segment_step(5), 50);
        assert_eq!(segment_step(6), 20);
        assert_eq!(segment_step(12), 20);
        assert_eq!(segment_step(13), 10);
        assert_eq!(segment_step(127), 2);
        assert_eq!(segment_step(128), 1);
        for n in MIN_HOSTS..=MAX_HOSTS {
            assert!(usize::from(segment_step(n)) * n <= 254, "n={n}");
        }
    }

    #[test]
    fn host_gw_two_hosts_is_the_article() {
        let p = Plan::new(Mode::HostGw, 2, None).unwrap();
        assert_eq!(p.lab, "host-gw-lab");
        assert_eq!(p.hosts[0].underlay_ip.to_string(), "192.168.0.100");
        assert_eq!(p.hosts[1].underlay_ip.to_string(), "192.168.0.200");
        assert_eq!(p.hosts[1].pod_subnet.to_string(), "10.0.2.0/24");
        assert_eq!(p.hosts[1].pod_gw.to_string(), "10.0.2.1");
        assert_eq!(p.hosts[1].pods[0].ip.to_string(), "10.0.2.2");
        assert_eq!(p.pod_mtu, 1500);
    }

    #[test]
    fn vxlan_two_hosts_is_the_article() {
        let p = Plan::new(Mode::Vxlan, 2, None).unwrap();
        let h2 = &p.hosts[1];
        assert_eq!(h2.underlay_ip.to_string(), "10.0.2.2");
        assert_eq!(h2.underlay_gw.unwrap().to_string(), "10.0.2.1");
        assert_eq!(h2.pod_subnet.to_string(), "172.16.1.0/24");
        assert_eq!(h2.vtep_ip.unwrap().to_string(), "172.16.1.0");
        assert_eq!(h2.router.as_deref(), Some("gw2"));
        assert_eq!(h2.router_wan_ip.unwrap().to_string(), "192.168.0.200");
        assert_eq!(p.pod_mtu, 1450);
    }

    #[test]
    fn ipip_has_no_vtep_or_per_host_router() {
        let p = Plan::new(Mode::Ipip, 3, None).unwrap();
        assert_eq!(p.hosts[2].underlay_ip.to_string(), "10.0.3.2");
        assert_eq!(p.hosts[2].pods[0].ip.to_string(), "172.16.2.2");
        assert!(p.hosts[2].vtep_ip.is_none() && p.hosts[2].router.is_none());
        assert_eq!(p.pod_mtu, 1480);
    }

    #[test]
    fn addresses_are_unique_at_the_largest_size() {
        for mode in Mode::ALL {
            let p = Plan::new(mode, MAX_HOSTS, None).unwrap();
            let mut seen = std::collections::HashSet::new();
            for h in &p.hosts {
                assert!(seen.insert(h.underlay_ip), "{mode} {}", h.underlay_ip);
                assert!(seen.insert(h.pods[0].ip), "{mode} {}", h.pods[0].ip);
                if let Some(wan) = h.router_wan_ip {
                    assert!(seen.insert(wan), "{mode} {wan}");
                }
            }
        }
    }

    #[test]
    fn out_of_range_sizes_and_bad_names_are_rejected() {
        for n in [0, 1, MAX_HOSTS + 1] {
            assert_eq!(
                Plan::new(Mode::Vxlan, n, None).unwrap_err(),
                PlanError::HostsOutOfRange(n)
            );
        }
        assert!(Plan::new(Mode::Vxlan, 2, Some("-x")).is_err());
        assert!(Plan::new(Mode::Vxlan, 2, Some("a b")).is_err());
        assert!("vxlan".parse::<Mode>().is_ok());
        assert!("flannel".parse::<Mode>().is_err());
    }

    #[test]
    fn calico_tunnels_ipv6_in_its_own_vtep() {
        let spec = |mode, flavor, ip_family| LabSpec {
            flavor,
            ip_family,
            ..LabSpec::article(mode, 3, None)
        };
        for family in [IpFamily::Dual, IpFamily::Ipv6] {
            let p = Plan::from_spec(&spec(Mode::Vxlan, Flavor::Calico, family)).unwrap();
            assert_eq!(p.tunnel6_dev, Some(CALICO_V6_DEV));
            assert_eq!((p.vni, p.vxlan_port), (CALICO_VXLAN_VNI, CALICO_VXLAN_PORT));
            assert_eq!(p.pod_mtu, 1430);
            let flannel = Plan::from_spec(&spec(Mode::Vxlan, Flavor::Flannel, family)).unwrap();
            assert_eq!(flannel.tunnel6_dev, Some(FLANNEL_V6_DEV));
        }
        let v4 = Plan::from_spec(&spec(Mode::Vxlan, Flavor::Calico, IpFamily::Ipv4)).unwrap();
        assert_eq!(v4.tunnel6_dev, None);
    }

    /// Cilium's one device carries both families over the IPv4 underlay: its IPv6 VTEP is
    /// cilium_vxlan itself, with its one MAC, and its pods keep VXLAN over IPv4's 1450. An
    /// IPv6-only lab would need Cilium's IPv6 underlay, which is not built.
    #[test]
    fn cilium_tunnels_ipv6_in_its_one_device_and_ipv6_alone_is_refused() {
        let spec = |ip_family| LabSpec {
            flavor: Flavor::Cilium,
            ip_family,
            ..LabSpec::article(Mode::Vxlan, 3, None)
        };
        let p = Plan::from_spec(&spec(IpFamily::Dual)).unwrap();
        assert_eq!(p.tunnel6_dev, Some("cilium_vxlan"));
        assert_eq!(
            (p.pod_mtu, p.vni, p.vxlan_port),
            (1450, CILIUM_VNI, CILIUM_VXLAN_PORT)
        );
        let (h, v6) = (&p.hosts[1], p.hosts[1].v6.as_ref().unwrap());
        assert_eq!(v6.vtep_mac, h.vtep_mac);
        assert_eq!(v6.vtep_ip.unwrap().to_string(), "fd00:172:16:1::");
        let refused = Plan::from_spec(&spec(IpFamily::Ipv6)).unwrap_err();
        assert!(
            matches!(refused, PlanError::FamilyNotBuilt { .. }),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("use --ip-family dual"),
            "{refused}"
        );
    }

    #[test]
    fn dual_ipip_sends_ipv6_in_vxlan_v6_calico_and_ipv6_alone_is_refused() {
        let spec = |flavor, ip_family| LabSpec {
            flavor,
            ip_family,
            ..LabSpec::article(Mode::Ipip, 3, None)
        };
        for flavor in [Flavor::Article, Flavor::Calico] {
            let p = Plan::from_spec(&spec(flavor, IpFamily::Dual)).unwrap();
            assert_eq!(p.tunnel6_dev, Some(CALICO_V6_DEV), "{flavor}");
            assert_eq!((p.vni, p.vxlan_port), (CALICO_VXLAN_VNI, CALICO_VXLAN_PORT));
            // felix's determinePodMTU: the smaller of IPIP's 1480 and IPv6 VXLAN's 1430.
            assert_eq!(p.pod_mtu, 1430);
            let v6 = p.hosts[1].v6.as_ref().unwrap();
            assert_eq!(v6.vtep_ip.unwrap().to_string(), "fd00:172:16:1::");
            assert_eq!(v6.vtep_mac.as_deref(), Some("02:cb:00:00:06:02"));
            assert_eq!(v6.underlay_gw.unwrap().to_string(), "fd00:10:0:2::1");
            let refused = Plan::from_spec(&spec(flavor, IpFamily::Ipv6)).unwrap_err();
            assert_eq!(refused, PlanError::IpipCarriesIpv4Only { hosts: 3 });
            let v4 = Plan::from_spec(&spec(flavor, IpFamily::Ipv4)).unwrap();
            assert_eq!((v4.pod_mtu, v4.tunnel6_dev, v4.vni), (1480, None, 0));
        }
        let racks = LabSpec {
            underlay: Some(Underlay::Racks(2)),
            ..spec(Flavor::Calico, IpFamily::Dual)
        };
        assert!(matches!(
            Plan::from_spec(&racks).unwrap_err(),
            PlanError::FamilyNotBuilt { .. }
        ));
    }
}
