//! A lab's encryption between hosts as its host labels state it: a WireGuard tunnel
//! (`gen --encryption wireguard`) or Cilium's IPsec (`gen --encryption ipsec`).

use super::point::{PointId, Role};
use super::{optional, required, Lab, LabError, LabHost};
use crate::topology::Node;
use serde::Serialize;
use std::net::Ipv4Addr;

pub const LABEL_ENCRYPTION: &str = "cnilab.encryption";
pub const LABEL_WG_DEV: &str = "cnilab.wg-dev";
pub const LABEL_WG_PORT: &str = "cnilab.wg-port";
pub const LABEL_WG_PUBLIC_KEY: &str = "cnilab.wg-public-key";
/// The host's WireGuard folder, relative to the topology file: its private key, and
/// wireguard-go's control socket where the kernel has no WireGuard.
pub const LABEL_WG_DIR: &str = "cnilab.wg-dir";
/// The one route flannel puts on its device (the cluster network); absent, a route per peer.
pub const LABEL_WG_ROUTE: &str = "cnilab.wg-route";
/// The routing table the peers' routes are in (Calico's), where it is not the main one.
pub const LABEL_WG_TABLE: &str = "cnilab.wg-table";
/// The host's tunnel address on the device, where the mode's own encapsulation (VXLAN, IPIP)
/// runs inside cnilab's tunnel between such addresses: encap, then encrypt.
pub const LABEL_WG_IP: &str = "cnilab.wg-ip";
/// The key number of an IPsec lab (`cnilab.encryption: ipsec`): host N sends ESP with SPI
/// N << 8 | it.
pub const LABEL_IPSEC_SPI: &str = "cnilab.ipsec-spi";

/// What every host of an encrypted lab says alike. An IPsec lab has no device, port, route
/// or table: only its key number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabWireguard {
    /// IPsec's key number (Cilium's), where the lab seals pod traffic in ESP rather than
    /// WireGuard; the SPI each host sends follows from it
    /// ([`crate::plan::encryption::ipsec::esp_spi`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipsec_key: Option<u32>,
    pub dev: String,
    pub port: u16,
    pub route: Option<ipnet::Ipv4Net>,
    /// The table of the per-peer routes where it is not the main one.
    pub table: Option<u32>,
}

impl std::fmt::Display for LabWireguard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ipsec_key {
            Some(key) => write!(f, "IPsec ESP of key {key}"),
            None => write!(f, "WireGuard {} on UDP {}", self.dev, self.port),
        }
    }
}

/// One host's own part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostWireguard {
    pub public_key: String,
    pub dir: String,
    /// The host's tunnel address (`cnilab.wg-ip`), where the mode's encapsulation runs inside
    /// the tunnel: the outer address of its VXLAN or IPIP, and the peers' allowed-ips for it.
    pub tunnel_ip: Option<Ipv4Addr>,
}

impl LabHost {
    /// The address the mode's outer header carries for this host in `family`: its tunnel
    /// address where the mode runs inside WireGuard (IPv4 only), its underlay address otherwise.
    pub fn outer_ip(&self, family: crate::family::Family) -> std::net::IpAddr {
        match (family, self.tunnel_ip()) {
            (crate::family::Family::Ipv4, Some(tunnel)) => tunnel.into(),
            _ => self.underlay(family),
        }
    }

    /// The host's tunnel address, where the mode runs inside WireGuard.
    pub fn tunnel_ip(&self) -> Option<Ipv4Addr> {
        self.wg.as_ref().and_then(|w| w.tunnel_ip)
    }
}

impl Lab {
    /// Where host `h`'s pod traffic shows the mode's shape: its WireGuard device where the mode
    /// runs inside the tunnel, its underlay interface otherwise.
    pub fn shape_point(&self, h: &LabHost) -> PointId {
        match (&self.encryption, h.tunnel_ip()) {
            (Some(wg), Some(_)) => PointId::with_role(&h.node, &wg.dev, Role::HostWireguard),
            _ => PointId::with_role(&h.node, &h.underlay_if, Role::HostUnderlay),
        }
    }
}

/// The host's encryption and its own WireGuard part (none for IPsec), or `None` where the
/// host states no encryption.
pub fn of_host(
    name: &str,
    node: &Node,
) -> Result<Option<(LabWireguard, Option<HostWireguard>)>, LabError> {
    let Some(kind) = optional::<String>(name, node, LABEL_ENCRYPTION)? else {
        return Ok(None);
    };
    match kind.as_str() {
        "wireguard" => {}
        "ipsec" => {
            let lab = LabWireguard {
                ipsec_key: Some(required(name, node, LABEL_IPSEC_SPI)?),
                dev: String::new(),
                port: 0,
                route: None,
                table: None,
            };
            return Ok(Some((lab, None)));
        }
        _ => {
            return Err(LabError::Bad {
                node: name.to_string(),
                label: LABEL_ENCRYPTION,
                value: kind,
                why: "verify knows wireguard and ipsec".into(),
            })
        }
    }
    let lab = LabWireguard {
        ipsec_key: None,
        dev: required(name, node, LABEL_WG_DEV)?,
        port: required(name, node, LABEL_WG_PORT)?,
        route: optional(name, node, LABEL_WG_ROUTE)?,
        table: optional(name, node, LABEL_WG_TABLE)?,
    };
    let host = HostWireguard {
        public_key: required(name, node, LABEL_WG_PUBLIC_KEY)?,
        dir: required(name, node, LABEL_WG_DIR)?,
        tunnel_ip: optional(name, node, LABEL_WG_IP)?,
    };
    Ok(Some((lab, Some(host))))
}
