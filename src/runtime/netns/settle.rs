//! Waiting for new links to come up for real before a deploy reports success.
//!
//! A veth has carrier as soon as both ends are up, but the kernel marks it operationally up,
//! and lets a bridge forward through it, only when its link watcher runs, and that runs at most
//! once a second. Probing straight after the last exec line would then lose the first packets
//! of a perfectly good lab.
//!
//! A namespace that cannot be entered is never settled: under containerlab it means the node's
//! container made no `/run/netns` link, or stopped and left a dangling one, and a deploy that
//! reported success then would hand verify a lab that is not there.

use crate::runtime::RuntimeError;
use crate::sys::netns::NetnsGuard;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(20);

/// Namespaces that still could not be entered when the wait ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "network namespace(s) {} cannot be entered (no such /run/netns entry, or its process has \
     ended): the node(s) are not running",
    .namespaces.join(", ")
)]
pub struct Missing {
    pub namespaces: Vec<String>,
}

impl From<Missing> for RuntimeError {
    fn from(missing: Missing) -> RuntimeError {
        RuntimeError::Setup {
            step: "waiting for the lab's links to come up".into(),
            detail: missing.to_string(),
        }
    }
}

/// What one look into a namespace found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    /// Every interface that is up is also running.
    Settled,
    /// Some interface is up but not yet running.
    Settling,
    /// The namespace cannot be entered.
    Missing,
}

/// Returns once every interface that is administratively up in these namespaces is also
/// running, or after `limit`: a link whose peer is down by design never comes up, and that is
/// the lab's business, not a deploy failure. A namespace that cannot be entered by then is.
pub fn wait_for_links(namespaces: &[String], limit: Duration) -> Result<(), Missing> {
    let deadline = Instant::now() + limit;
    let mut pending: Vec<(&String, Look)> =
        namespaces.iter().map(|ns| (ns, Look::Missing)).collect();
    loop {
        pending = look_again(pending);
        if pending.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(POLL);
    }
    let missing: Vec<String> = pending
        .into_iter()
        .filter(|(_, look)| *look == Look::Missing)
        .map(|(ns, _)| ns.clone())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Missing {
            namespaces: missing,
        })
    }
}

/// Looks into each pending namespace on a thread of its own, which changes namespace so that
/// the caller's thread never does; keeps those not settled yet, with what was seen.
fn look_again(pending: Vec<(&String, Look)>) -> Vec<(&String, Look)> {
    std::thread::scope(|s| {
        s.spawn(|| {
            pending
                .into_iter()
                .map(|(ns, _)| (ns, look(ns)))
                .filter(|(_, look)| *look != Look::Settled)
                .collect::<Vec<_>>()
        })
        .join()
        // A look that panicked saw nothing: every namespace counts as missing.
        .unwrap_or_default()
    })
}

/// Runs on the caller's thread, so callers keep it off threads that must not change namespace.
fn look(ns: &str) -> Look {
    let Ok(_guard) = NetnsGuard::enter(ns) else {
        return Look::Missing;
    };
    let Ok(interfaces) = nix::net::if_::if_nameindex() else {
        return Look::Settling;
    };
    // A socket made inside the namespace asks about that namespace's interfaces.
    let Ok(socket) = std::net::UdpSocket::bind("0.0.0.0:0") else {
        return Look::Settling;
    };
    let settling = interfaces.iter().any(|iface| {
        let flags = crate::sys::ifreq::flags(&socket, &iface.name().to_string_lossy());
        flags.is_some_and(|f| f & libc::IFF_UP != 0 && f & libc::IFF_RUNNING == 0)
    });
    if settling {
        Look::Settling
    } else {
        Look::Settled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_that_does_not_exist_is_never_settled() {
        let gone = "cnilab-settle-test-no-such-namespace".to_string();
        let started = Instant::now();
        let err = wait_for_links(std::slice::from_ref(&gone), Duration::from_millis(60))
            .expect_err("a missing namespace counted as settled");
        assert_eq!(err.namespaces, std::slice::from_ref(&gone));
        assert!(
            started.elapsed() >= Duration::from_millis(60),
            "gave up early"
        );
        let shown = RuntimeError::from(err).to_string();
        assert!(
            shown.contains(&gone) && shown.contains("not running"),
            "{shown}"
        );
    }

    #[test]
    fn no_namespaces_means_nothing_to_wait_for() {
        assert_eq!(wait_for_links(&[], Duration::from_secs(5)), Ok(()));
    }
}
