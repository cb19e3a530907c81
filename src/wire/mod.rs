//! What crosses the wire, as values: bytes dissected into a [`Wire`], the [`Encap`] shapes a
//! lab promises, and ARP (or NDP, its IPv6 counterpart) with its operation as a field. verify, trace and bench all read
//! frames through this one module. Pure: no I/O.

pub mod dissect;
pub mod encap;
pub mod ipv6;
pub mod sealed;
pub mod tcpdump;

pub use dissect::{dissect, dissect_ip, Arp, ArpOp, Ndp, NdpOp, Tunnel, Wire};
pub use encap::{Encap, VxlanParams};
pub use sealed::{sealed, Seal, Sealed, WgMessage};

/// An Ethernet address.
pub type Mac = [u8; 6];

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(mac: &Mac) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The Ethernet destination of a frame: the next hop it was sent to.
pub fn ethernet_dst(frame: &[u8]) -> Option<Mac> {
    frame.get(..6)?.try_into().ok()
}

/// The IPv4 address `ip` is, for the readers that speak IPv4 only (trace, bench).
pub fn v4(ip: std::net::IpAddr) -> Option<std::net::Ipv4Addr> {
    match ip {
        std::net::IpAddr::V4(v4) => Some(v4),
        std::net::IpAddr::V6(_) => None,
    }
}
