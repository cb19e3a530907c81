//! Encrypted pod traffic (`gen --encryption`): the WireGuard tunnel a lab carries its pod
//! traffic in between hosts, either as flannel's wireguard backend builds it or as cnilab's
//! own tunnel for the article's modes.
//!
//! Pure data, like [`crate::plan`]: the templates turn it into exec lines and labels. The keys
//! are generated here ([`keys`]); gen writes them beside the topology.

pub mod ipsec;
pub mod keys;

use super::{Flavor, Mode, Plan};
use crate::routing::Routing;
use crate::underlay::Underlay;
use serde::Serialize;
use std::fmt;

/// How pod traffic between hosts is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Encryption {
    /// In the clear, as the mode puts it on the wire (the default).
    #[default]
    None,
    /// A WireGuard tunnel between hosts (host-gw, article or flannel flavor).
    Wireguard,
    /// IPsec ESP between hosts (Cilium's: static xfrm states and policies).
    Ipsec,
}

impl Encryption {
    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::None => "none",
            Encryption::Wireguard => "wireguard",
            Encryption::Ipsec => "ipsec",
        }
    }
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WireGuard's own UDP port, which flannel's backend keeps (`ListenPort: 51820`).
pub const WIREGUARD_PORT: u16 = 51820;
/// flannel's device name (pkg/backend/wireguard/wireguard.go, `createWGDev(... "flannel-wg" ...)`).
pub const FLANNEL_WG_DEV: &str = "flannel-wg";
/// cnilab's own tunnel device for the article's modes.
pub const OWN_WG_DEV: &str = "cnilab-wg";
/// Calico's device (felix/config/config_params.go, `WireguardInterfaceName` default).
pub const CALICO_WG_DEV: &str = "wireguard.cali";
/// The routing table felix takes for WireGuard: the first index of its route table ranges
/// (felix/dataplane/driver.go `routeTableIndexAllocator.GrabIndex()`, lowest first; the
/// default range starts at 1).
pub const CALICO_WG_TABLE: u32 = 1;
/// The mark felix gives WireGuard: its sixth single mark bit (accept, pass, drop, scratch-0
/// and scratch-1 come first, felix/dataplane/driver.go), lowest first in the default
/// IptablesMarkMask 0xffff0000.
pub const CALICO_WG_MARK: u32 = 0x0020_0000;
/// The priority of felix's rule (`WireguardRoutingRulePriority` default).
pub const CALICO_WG_RULE_PRIORITY: u32 = 99;
/// What flannel takes off the underlay MTU for the tunnel and the pods
/// (pkg/backend/wireguard/wireguard_network.go, `overhead = 80`: room for IPv6 outer headers).
pub const FLANNEL_WG_OVERHEAD: u16 = 80;
/// Cilium's device (cilium/cilium pkg/wireguard/types/types.go, `IfaceName`).
pub const CILIUM_WG_DEV: &str = "cilium_wg0";
/// Cilium's fixed WireGuard port (pkg/wireguard/types, `ListenPort`; "exposed on UDP port
/// 51871", Documentation/security/network/encryption-wireguard.rst).
pub const CILIUM_WG_PORT: u16 = 51871;
/// The mark Cilium's agent gives the device's own datagrams (pkg/wireguard/agent/agent.go
/// `init`: `FirewallMark: linux_defaults.MagicMarkWireGuardEncrypted`, 0x1E00 in
/// pkg/datapath/linux/linux_defaults/mark.go): encrypted already, never sent to it again.
pub const CILIUM_WG_MARK: u32 = 0x1e00;
/// What Cilium takes off the device MTU for WireGuard (pkg/mtu/mtu.go, `WireguardOverhead = 80`:
/// the 32-byte message minimum, a 40-byte outer IPv6 header and UDP's 8).
pub const CILIUM_WG_OVERHEAD: u16 = 80;
/// WireGuard over IPv4: outer IPv4 (20) + UDP (8) + WireGuard data header (16) + tag (16).
pub const WG_IPV4_OVERHEAD: u16 = 60;

/// Whose tunnel a lab shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WgLayout {
    /// flannel's wireguard backend: one route for the cluster network on the device, the
    /// device's address the `.0` of the host's subnet.
    Flannel,
    /// cnilab's own: a route per peer's pod subnet on the device, no address on it.
    Own,
    /// Calico's (felix): the peers' blocks routed to the device in a table of its own, which
    /// a rule sends every packet to unless WireGuard's own fwmark is on it.
    Calico,
    /// Cilium's: a route per peer's pod CIDR on the device, where Cilium's eBPF redirects a
    /// packet for a remote endpoint to it (bypassing its VXLAN tunnel).
    Cilium,
    /// cnilab's own under the article's vxlan or ipip mode: encap, then encrypt. Each host's
    /// device has a tunnel address ([`tunnel_ip`]); the mode's VXLAN or IPIP runs between
    /// those addresses, so only WireGuard crosses the underlay. A peer's allowed-ips is its
    /// tunnel address.
    OwnEncap,
}

/// The network of the hosts' tunnel addresses on cnilab's own device under vxlan or ipip: host
/// *i* gets `100.64.0.i/24` (RFC 6598's shared space, which no other part of a lab uses).
pub const TUNNEL_NET: &str = "100.64.0.0/24";
pub const TUNNEL_PREFIX: u8 = 24;

/// Host `index`'s tunnel address (1 ≤ index ≤ 254).
pub fn tunnel_ip(index: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(100, 64, 0, index as u8)
}

/// The tunnel a lab's hosts build.
#[derive(Debug, Clone, Serialize)]
pub struct Wireguard {
    pub layout: WgLayout,
    pub dev: &'static str,
    pub port: u16,
    /// The device's MTU (and the pods'): the underlay's 1500 less the tunnel's overhead.
    pub mtu: u16,
    /// The route flannel puts on the device: every pod subnet of the cluster.
    pub cluster_net: &'static str,
    /// Calico's table and rule priority; the device's fwmark (Calico's and Cilium's, 0 for none).
    pub table: u32,
    pub mark: u32,
    pub rule_priority: u32,
    /// The pods' MTU: the device's, less the mode's own overhead where the mode's
    /// encapsulation runs inside the tunnel ([`WgLayout::OwnEncap`]).
    pub pod_mtu: u16,
    /// Per host (by index − 1): its tunnel address on the device, where the layout gives it one
    /// ([`WgLayout::OwnEncap`]); empty otherwise.
    pub tunnel_ips: Vec<std::net::Ipv4Addr>,
    /// Per host (by index − 1): its key pair.
    pub keys: Vec<keys::KeyPair>,
    /// Per host: its WireGuard folder, relative to the topology file ([`node_dir`]).
    pub dirs: Vec<String>,
}

impl Wireguard {
    /// Each host's private key file, at its path relative to the topology file.
    pub fn key_files(&self) -> Vec<(std::path::PathBuf, String)> {
        (self.dirs.iter().zip(&self.keys))
            .map(|(dir, pair)| {
                (
                    std::path::Path::new(dir).join(PRIVATE_KEY_FILE),
                    pair.private_file(),
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    #[error("--encryption ipsec is Cilium's: it is built for --mode vxlan --flavor cilium on the mode's own underlay only, not for --mode {mode} --flavor {flavor} --underlay {underlay}{routing}")]
    IpsecNotHere {
        mode: Mode,
        flavor: Flavor,
        underlay: Underlay,
        routing: &'static str,
    },
    #[error("--encryption wireguard is built for --mode host-gw with the article or flannel flavor, for the article's --mode vxlan|ipip, for --mode vxlan --flavor calico|cilium and for --mode ipip --flavor calico, on the mode's own underlay only, not for --mode {mode} --flavor {flavor} --underlay {underlay}{routing}")]
    NotHere {
        mode: Mode,
        flavor: Flavor,
        underlay: Underlay,
        /// ` --routing bgp` where that is what is not built.
        routing: &'static str,
    },
    #[error("--encryption carries IPv4 only for now: use it without --ip-family {0}")]
    NotIpv6(crate::family::IpFamily),
    #[error("cannot generate encryption keys: {0}")]
    Keys(String),
}

/// The tunnel `plan` gets for `encryption`, with fresh keys; `None` for no encryption.
pub fn plan(plan: &Plan, encryption: Encryption) -> Result<Option<Wireguard>, EncryptionError> {
    match encryption {
        Encryption::None => return Ok(None),
        // Cilium's IPsec is no WireGuard tunnel: [`ipsec`] plans it.
        Encryption::Ipsec => return Ok(None),
        Encryption::Wireguard => {}
    }
    let layout = match (plan.mode, plan.flavor) {
        (Mode::HostGw, Flavor::Article) => WgLayout::Own,
        (Mode::HostGw, Flavor::Flannel) => WgLayout::Flannel,
        (Mode::Vxlan | Mode::Ipip, Flavor::Calico) => WgLayout::Calico,
        (Mode::Vxlan, Flavor::Cilium) => WgLayout::Cilium,
        (Mode::Vxlan | Mode::Ipip, Flavor::Article) => WgLayout::OwnEncap,
        _ => return Err(not_here(plan)),
    };
    if !plan.underlay_is_default || plan.routing != Routing::Static || plan.cross_subnet {
        return Err(not_here(plan));
    }
    if plan.ipv6 {
        return Err(EncryptionError::NotIpv6(plan.ip_family));
    }
    let keys = (0..plan.hosts.len())
        .map(|_| keys::KeyPair::generate())
        .collect::<Result<Vec<_>, _>>()?;
    let (dev, port, mark, mtu) = device(layout);
    let inside = layout == WgLayout::OwnEncap;
    Ok(Some(Wireguard {
        layout,
        dev,
        port,
        mtu,
        // The mode's header goes inside the tunnel, so the pods give up room for both.
        pod_mtu: match inside {
            true => mtu - (1500 - plan.mode.pod_mtu()),
            false => mtu,
        },
        tunnel_ips: match inside {
            true => plan.hosts.iter().map(|h| tunnel_ip(h.index)).collect(),
            false => Vec::new(),
        },
        cluster_net: plan.underlay_supernet,
        table: CALICO_WG_TABLE,
        mark,
        rule_priority: CALICO_WG_RULE_PRIORITY,
        keys,
        dirs: plan
            .hosts
            .iter()
            .map(|h| node_dir(&plan.lab, &h.name))
            .collect(),
    }))
}

/// A layout's device, port, fwmark (0 for none) and MTU (the pods' too).
fn device(layout: WgLayout) -> (&'static str, u16, u32, u16) {
    match layout {
        WgLayout::Flannel => (
            FLANNEL_WG_DEV,
            WIREGUARD_PORT,
            0,
            1500 - FLANNEL_WG_OVERHEAD,
        ),
        WgLayout::Own | WgLayout::OwnEncap => {
            (OWN_WG_DEV, WIREGUARD_PORT, 0, 1500 - WG_IPV4_OVERHEAD)
        }
        // felix's automatic WireGuard MTU over IPv4: the host's less 60
        // (felix/dataplane/linux/int_dataplane.go, `wireguardMTUOverhead`).
        WgLayout::Calico => (
            CALICO_WG_DEV,
            WIREGUARD_PORT,
            CALICO_WG_MARK,
            1500 - WG_IPV4_OVERHEAD,
        ),
        WgLayout::Cilium => (
            CILIUM_WG_DEV,
            CILIUM_WG_PORT,
            CILIUM_WG_MARK,
            1500 - CILIUM_WG_OVERHEAD,
        ),
    }
}

/// Cilium's IPsec for `plan` (`--encryption ipsec`), with fresh keys; `None` for another
/// encryption.
pub fn ipsec(plan: &Plan, encryption: Encryption) -> Result<Option<ipsec::Ipsec>, EncryptionError> {
    if encryption != Encryption::Ipsec {
        return Ok(None);
    }
    plan_ipsec(plan).map(Some)
}

fn plan_ipsec(plan: &Plan) -> Result<ipsec::Ipsec, EncryptionError> {
    let custom = !plan.underlay_is_default || plan.routing != Routing::Static || plan.cross_subnet;
    if (plan.mode, plan.flavor) != (Mode::Vxlan, Flavor::Cilium) || custom {
        return Err(EncryptionError::IpsecNotHere {
            mode: plan.mode,
            flavor: plan.flavor,
            underlay: plan.underlay,
            routing: routing_suffix(plan),
        });
    }
    if plan.ipv6 {
        return Err(EncryptionError::NotIpv6(plan.ip_family));
    }
    let sides: Vec<ipsec::HostSide> = (plan.hosts.iter())
        .map(|h| ipsec::HostSide {
            underlay_ip: h.underlay_ip,
            pod_subnet: h.pod_subnet,
        })
        .collect();
    let dirs = (plan.hosts.iter())
        .map(|h| format!("{}/ipsec/{}", crate::routing::files_dir(&plan.lab), h.name))
        .collect();
    ipsec::Ipsec::plan(&sides, dirs)
}

fn not_here(plan: &Plan) -> EncryptionError {
    EncryptionError::NotHere {
        mode: plan.mode,
        flavor: plan.flavor,
        underlay: plan.underlay,
        routing: routing_suffix(plan),
    }
}

/// ` --routing bgp` or ` --cross-subnet` where that is what is not built.
fn routing_suffix(plan: &Plan) -> &'static str {
    match (plan.routing, plan.cross_subnet) {
        (Routing::Bgp, _) => " --routing bgp",
        (_, true) => " --cross-subnet",
        _ => "",
    }
}

/// Where host `node`'s WireGuard folder lives, relative to the topology file: its private key,
/// and the control socket wireguard-go makes. Beside BIRD's folders in `<lab>.cnilab/`, outside
/// containerlab's `clab-<lab>/` (see [`crate::routing::files_dir`] for why).
pub fn node_dir(lab: &str, node: &str) -> String {
    format!("{}/wireguard/{node}", crate::routing::files_dir(lab))
}

/// Where that folder is bound inside the node: wireguard-go and `wg` look for a device's
/// control socket in `/var/run/wireguard/<dev>.sock` (wireguard-go ipc/uapi_linux.go,
/// `socketDirectory`), so `wg` in the node finds it, and cnilab finds it from outside.
pub const NODE_DIR: &str = "/var/run/wireguard";
/// The private key's file name in that folder.
pub const PRIVATE_KEY_FILE: &str = "private.key";
