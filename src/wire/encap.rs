//! The shapes in which pod packets cross the underlay.

use serde::Serialize;

/// IANA's VXLAN port; iproute2 would pick the kernel's legacy 8472 if it were not given.
pub const VXLAN_PORT: u16 = 4789;

/// How pod packets cross the underlay. A VXLAN lab always carries its port and VNI, so a lab
/// that tunnels without them cannot be built, and a frame's shape is one `==` away from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Encap {
    /// host-gw: pod addresses in plain IPv4.
    Plain,
    Vxlan(VxlanParams),
    /// IP protocol 4 between the hosts' underlay addresses.
    Ipip,
}

impl Encap {
    /// The cnilab mode whose shape this is, as its flag spells it.
    pub fn mode_name(self) -> &'static str {
        match self {
            Encap::Plain => "host-gw",
            Encap::Vxlan(_) => "vxlan",
            Encap::Ipip => "ipip",
        }
    }

    pub fn vxlan(self) -> Option<VxlanParams> {
        match self {
            Encap::Vxlan(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_tunnel(self) -> bool {
        self != Encap::Plain
    }
}

impl std::fmt::Display for Encap {
    /// The frame shape in words, e.g. `UDP/4789 VXLAN vni 1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encap::Plain => f.write_str("plain IPv4"),
            Encap::Vxlan(v) => write!(f, "UDP/{} VXLAN vni {}", v.port, v.vni),
            Encap::Ipip => f.write_str("IPIP (protocol 4)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VxlanParams {
    pub vni: u32,
    pub port: u16,
}
