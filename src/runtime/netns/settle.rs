//! Waiting for new links to come up for real before a deploy reports success.
//!
//! A veth has carrier as soon as both ends are up, but the kernel marks it operationally up,
//! and lets a bridge forward through it, only when its link watcher runs, and that runs at most
//! once a second. Probing straight after the last exec line would then lose the first packets
//! of a perfectly good lab.

use crate::sys::netns::NetnsGuard;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(20);

/// Returns once every interface that is administratively up in these namespaces is also
/// running, or after `limit`: a link whose peer is down by design never comes up, and that is
/// the lab's business, not a deploy failure.
pub fn wait_for_links(namespaces: &[String], limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut pending: Vec<&String> = namespaces.iter().collect();
    while !pending.is_empty() && Instant::now() < deadline {
        pending = std::thread::scope(|s| {
            s.spawn(|| {
                pending
                    .into_iter()
                    .filter(|ns| links_settling(ns))
                    .collect::<Vec<_>>()
            })
            .join()
            .unwrap_or_default()
        });
        if !pending.is_empty() {
            std::thread::sleep(POLL);
        }
    }
}

/// True if some interface in `ns` is up but not yet running. Runs on the caller's thread, so
/// callers keep it off threads that must not change namespace.
fn links_settling(ns: &str) -> bool {
    let Ok(_guard) = NetnsGuard::enter(ns) else {
        return false;
    };
    let Ok(interfaces) = nix::net::if_::if_nameindex() else {
        return false;
    };
    // A socket made inside the namespace asks about that namespace's interfaces.
    let Ok(socket) = std::net::UdpSocket::bind("0.0.0.0:0") else {
        return false;
    };
    interfaces.iter().any(|iface| {
        let flags = crate::sys::ifreq::flags(&socket, &iface.name().to_string_lossy());
        flags.is_some_and(|f| f & libc::IFF_UP != 0 && f & libc::IFF_RUNNING == 0)
    })
}
