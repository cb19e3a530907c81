//! Flushing a device's neighbours without dumping the table.
//!
//! A neighbour dump walks the one ARP (or NDP) table that every namespace shares, so in a
//! 254-host lab each namespace's dump costs milliseconds, and the dumps of a cold verify's
//! flushes took about a fifth of its CPU. Turning a device's IFF_NOARP flag on and off makes
//! the kernel drop every neighbour entry of that device (`neigh_changeaddr`), which since
//! Linux 6.13 walks the device's own list rather than the shared table.
//!
//! The toggle takes static entries too, so it is only for a namespace that holds none; and it
//! restarts IPv6 duplicate address detection and MLD on the device, whose frames would cross
//! the lab, so it is only for a namespace where IPv6 is off. The caller's thread must be inside
//! the namespace, as for [`super::neigh`].

use std::io;

/// The devices of the calling thread's namespace that resolve neighbours: every one but the
/// loopback and those already without ARP (tunnels that need no link-layer address).
pub fn devices() -> io::Result<Vec<String>> {
    let socket = probe_socket()?;
    let all = nix::net::if_::if_nameindex()?;
    let mut out = Vec::new();
    for iface in all.iter() {
        let name = iface.name().to_string_lossy().into_owned();
        let Some(flags) = super::ifreq::flags(&socket, &name) else {
            continue;
        };
        if flags & (libc::IFF_LOOPBACK | libc::IFF_NOARP) == 0 {
            out.push(name);
        }
    }
    Ok(out)
}

/// Drops every neighbour entry of each of `devices`, dynamic and static alike, by turning its
/// IFF_NOARP flag on and back off. A device that vanished meanwhile is skipped.
pub fn flush(devices: &[String]) -> io::Result<()> {
    let socket = probe_socket()?;
    for name in devices {
        let Some(flags) = super::ifreq::flags(&socket, name) else {
            continue;
        };
        super::ifreq::set_flags(&socket, name, flags | libc::IFF_NOARP)?;
        super::ifreq::set_flags(&socket, name, flags & !libc::IFF_NOARP)?;
    }
    Ok(())
}

/// Any socket of the namespace: the interface ioctls answer for the socket's namespace.
fn probe_socket() -> io::Result<std::os::fd::OwnedFd> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let flags = SockFlag::SOCK_CLOEXEC;
    Ok(socket(
        AddressFamily::Inet,
        SockType::Datagram,
        flags,
        None,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::neigh::{list, tests::ip};

    /// In a namespace of its own, with IPv6 off: a veth's learned and static neighbours both
    /// go, the other veth's stay, and the flag ends as it began.
    #[test]
    fn toggling_noarp_empties_that_device_only() {
        let hung = "flushing by device hung";
        let (before, after, flags) = crate::sys::netns::testing::in_private_netns(hung, || {
            for line in [
                "link add d0 type veth peer name d1",
                "link add e0 type veth peer name e1",
                "link set d0 up",
                "link set e0 up",
                "addr add 10.9.0.1/24 dev d0",
                "addr add 10.9.1.1/24 dev e0",
                "neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev d0 nud stale",
                "neigh add 10.9.0.3 lladdr 02:00:00:00:00:03 dev d0 nud permanent",
                "neigh add 10.9.1.2 lladdr 02:00:00:00:00:12 dev e0 nud stale",
            ] {
                ip("ip", line);
            }
            let names = devices().unwrap();
            assert!(names.contains(&"d0".to_string()), "{names:?}");
            assert!(!names.contains(&"lo".to_string()), "{names:?}");
            let before = list(libc::AF_INET as u8).unwrap();
            flush(&["d0".to_string()]).unwrap();
            let flags = super::super::ifreq::flags(&probe_socket().unwrap(), "d0");
            (before, list(libc::AF_INET as u8).unwrap(), flags)
        });
        let dsts = |l: &[crate::sys::neigh::Neighbour]| -> Vec<[u8; 4]> {
            l.iter().filter_map(|n| n.dst).collect()
        };
        assert_eq!(dsts(&before).len(), 3, "{before:?}");
        assert_eq!(dsts(&after), vec![[10, 9, 1, 2]], "{after:?}");
        let flags = flags.expect("d0 is still there");
        assert_eq!(flags & libc::IFF_NOARP, 0, "ARP is back on");
        assert_ne!(flags & libc::IFF_UP, 0, "d0 is still up");
    }
}
