//! A lab's WireGuard tunnel as its host labels state it (`gen --encryption wireguard`).

use super::{optional, required, LabError};
use crate::topology::Node;
use serde::Serialize;

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

/// What every host of an encrypted lab says alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabWireguard {
    pub dev: String,
    pub port: u16,
    pub route: Option<ipnet::Ipv4Net>,
    /// The table of the per-peer routes where it is not the main one.
    pub table: Option<u32>,
}

impl std::fmt::Display for LabWireguard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WireGuard {} on UDP {}", self.dev, self.port)
    }
}

/// One host's own part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostWireguard {
    pub public_key: String,
    pub dir: String,
}

/// The host's tunnel and its own part, or `None` where the host states no encryption.
pub fn of_host(name: &str, node: &Node) -> Result<Option<(LabWireguard, HostWireguard)>, LabError> {
    let Some(kind) = optional::<String>(name, node, LABEL_ENCRYPTION)? else {
        return Ok(None);
    };
    if kind != "wireguard" {
        return Err(LabError::Bad {
            node: name.to_string(),
            label: LABEL_ENCRYPTION,
            value: kind,
            why: "verify knows wireguard only".into(),
        });
    }
    let lab = LabWireguard {
        dev: required(name, node, LABEL_WG_DEV)?,
        port: required(name, node, LABEL_WG_PORT)?,
        route: optional(name, node, LABEL_WG_ROUTE)?,
        table: optional(name, node, LABEL_WG_TABLE)?,
    };
    let host = HostWireguard {
        public_key: required(name, node, LABEL_WG_PUBLIC_KEY)?,
        dir: required(name, node, LABEL_WG_DIR)?,
    };
    Ok(Some((lab, host)))
}
