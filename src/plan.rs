//! The address plan: which nodes a lab has and which addresses they get.
//!
//! This is pure data. The templates turn it into exec lines and labels; nothing here knows
//! what an exec line looks like, so the templates stay the one place that says how a mode is
//! built.

use serde::Serialize;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The data plane a lab demonstrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    HostGw,
    Vxlan,
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
/// IANA's VXLAN port; iproute2 would pick the kernel's legacy 8472 if it were not given.
pub const VXLAN_PORT: u16 = 4789;

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

pub const MIN_HOSTS: usize = 2;
/// Host indices become the third octet of 10.0.i.0/24 and a factor of the last octet of
/// 192.168.0.x, so 254 is where the plan runs out of addresses.
pub const MAX_HOSTS: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("unknown mode `{0}`: expected one of host-gw, vxlan, ipip")]
    UnknownMode(String),
    #[error("{0} hosts is out of range: a lab has {MIN_HOSTS} to {MAX_HOSTS} hosts")]
    HostsOutOfRange(usize),
    #[error("lab name `{0}` is not valid: use letters, digits, '-', '_' or '.', starting with a letter or digit")]
    BadLabName(String),
}

/// The step between hosts on the shared 192.168.0.0/24 segment: the largest "round" step that
/// still fits every host. It yields the article's .100/.200 at two hosts without a special case.
pub fn segment_step(hosts: usize) -> u8 {
    [100u8, 50, 20, 10, 5, 2, 1]
        .into_iter()
        .find(|&s| usize::from(s) * hosts <= 254)
        .unwrap_or(1)
}

/// One host and the pod it carries.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub index: usize,
    pub name: String,
    pub pod: String,
    /// The host's address on the underlay, on `underlay_if`.
    pub underlay_ip: Ipv4Addr,
    pub underlay_if: &'static str,
    /// The host's own underlay subnet where the underlay is routed (vxlan, ipip): routers
    /// route it, and nothing else may cross the underlay.
    pub underlay_subnet: Option<String>,
    /// Next hop towards the other hosts where the underlay is routed (vxlan, ipip).
    pub underlay_gw: Option<Ipv4Addr>,
    /// The host's veth towards its pod, enslaved to cni0.
    pub pod_veth: String,
    pub pod_subnet: String,
    pub pod_gw: Ipv4Addr,
    pub pod_ip: Ipv4Addr,
    /// flannel's VTEP address: the `.0` of the pod subnet, on flannel.1 (vxlan only).
    pub vtep_ip: Option<Ipv4Addr>,
    /// The interface a pod reaches its host through.
    pub pod_if: &'static str,
    /// The router in front of this host (vxlan only) and its address on the WAN.
    pub router: Option<String>,
    pub router_wan_ip: Option<Ipv4Addr>,
    /// The router's interface on the WAN (vxlan only).
    pub router_wan_if: Option<&'static str>,
    /// The router's leg into this host's subnet (vxlan: eth2 of gw<i>; ipip: eth<i> of gw).
    pub router_lan_if: Option<String>,
}

/// Everything a template needs to render one lab.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub mode: Mode,
    pub lab: String,
    pub hosts: Vec<Host>,
    pub pod_mtu: u16,
    pub vni: u32,
    pub vxlan_port: u16,
    /// The supernet of all host-side underlay subnets, excluded from MASQUERADE.
    pub underlay_supernet: &'static str,
}

impl Plan {
    pub fn new(mode: Mode, hosts: usize, lab: Option<&str>) -> Result<Plan, PlanError> {
        if !(MIN_HOSTS..=MAX_HOSTS).contains(&hosts) {
            return Err(PlanError::HostsOutOfRange(hosts));
        }
        let lab = lab.unwrap_or(mode.default_lab_name()).to_string();
        if !crate::topology::valid_name(&lab) {
            return Err(PlanError::BadLabName(lab));
        }
        let step = segment_step(hosts);
        let hosts = (1..=hosts).map(|i| host(mode, i, step)).collect();
        Ok(Plan {
            mode,
            lab,
            hosts,
            pod_mtu: mode.pod_mtu(),
            vni: VXLAN_VNI,
            vxlan_port: VXLAN_PORT,
            underlay_supernet: "10.0.0.0/16",
        })
    }
}

fn octet(i: usize) -> u8 {
    u8::try_from(i).expect("host index is bounded by MAX_HOSTS")
}

fn host(mode: Mode, i: usize, step: u8) -> Host {
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
    let router_lan_if = match mode {
        Mode::HostGw => None,
        Mode::Vxlan => Some("eth2".to_string()),
        Mode::Ipip => Some(format!("eth{i}")),
    };
    Host {
        index: i,
        name: format!("host{i}"),
        pod: format!("pod{i}"),
        underlay_ip,
        underlay_if: "eth1",
        underlay_subnet: routed.then(|| format!("10.0.{n}.0/24")),
        underlay_gw,
        pod_veth: format!("pod{i}-veth"),
        pod_subnet: format!("{a}.{b}.{c}.0/24"),
        pod_gw: Ipv4Addr::new(a, b, c, 1),
        pod_ip: Ipv4Addr::new(a, b, c, 2),
        vtep_ip: vxlan.then(|| Ipv4Addr::new(a, b, c, 0)),
        pod_if: "eth1",
        router: vxlan.then(|| format!("gw{i}")),
        router_wan_ip: vxlan.then_some(on_segment),
        router_wan_if: vxlan.then_some("eth1"),
        router_lan_if,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(p.hosts[1].pod_subnet, "10.0.2.0/24");
        assert_eq!(p.hosts[1].pod_gw.to_string(), "10.0.2.1");
        assert_eq!(p.hosts[1].pod_ip.to_string(), "10.0.2.2");
        assert_eq!(p.pod_mtu, 1500);
    }

    #[test]
    fn vxlan_two_hosts_is_the_article() {
        let p = Plan::new(Mode::Vxlan, 2, None).unwrap();
        let h2 = &p.hosts[1];
        assert_eq!(h2.underlay_ip.to_string(), "10.0.2.2");
        assert_eq!(h2.underlay_gw.unwrap().to_string(), "10.0.2.1");
        assert_eq!(h2.pod_subnet, "172.16.1.0/24");
        assert_eq!(h2.vtep_ip.unwrap().to_string(), "172.16.1.0");
        assert_eq!(h2.router.as_deref(), Some("gw2"));
        assert_eq!(h2.router_wan_ip.unwrap().to_string(), "192.168.0.200");
        assert_eq!(p.pod_mtu, 1450);
    }

    #[test]
    fn ipip_has_no_vtep_or_per_host_router() {
        let p = Plan::new(Mode::Ipip, 3, None).unwrap();
        assert_eq!(p.hosts[2].underlay_ip.to_string(), "10.0.3.2");
        assert_eq!(p.hosts[2].pod_ip.to_string(), "172.16.2.2");
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
                assert!(seen.insert(h.pod_ip), "{mode} {}", h.pod_ip);
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
}
