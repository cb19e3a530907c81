//! Removing a lab's namespaces: what `ip netns del` does, done in-process so that every
//! namespace gets its own error and one failure does not stop the rest. Every process still
//! inside a node (its sandbox holder, daemons, a `setsid -f` child of an exec line) is ended
//! first: nothing outlives its lab.

use crate::runtime::error::TeardownError;
use crate::sys::netns::{netns_path, pids_in};
use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// How long killed processes may take to be gone before teardown says so.
const EXIT_LIMIT: Duration = Duration::from_secs(3);

/// Removes every namespace in `names` that exists; returns one error per failure.
pub fn remove_namespaces(names: &[String]) -> Vec<TeardownError> {
    let mut errors = end_processes(names);
    for name in names {
        let path = netns_path(name);
        if !path.exists() {
            continue;
        }
        // Detached, so a process still inside (a ping left running) cannot block the unmount;
        // EINVAL means it was never mounted, as after a crash between create and bind.
        match umount2(&path, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) => {}
            Err(e) => {
                errors.push(TeardownError::Unmount { path, source: e });
                continue;
            }
        }
        if let Err(source) = std::fs::remove_file(&path) {
            if source.kind() != std::io::ErrorKind::NotFound {
                errors.push(TeardownError::RemoveFile { path, source });
            }
        }
    }
    errors
}

/// SIGKILLs every process in these namespaces and waits until they are gone. Killing a
/// sandbox holder (PID 1 of its node's PID namespace) ends every process of that node.
fn end_processes(names: &[String]) -> Vec<TeardownError> {
    let mut killed: Vec<(Pid, &String)> = pids_in(names)
        .into_iter()
        .filter(|(pid, _)| kill(*pid, Signal::SIGKILL).is_ok())
        .collect();
    // A node whose namespace was deleted by hand (`ip netns del`) has no name to be found by;
    // its holder, and with it the node's processes, would live on unreachable.
    let unnamed = String::from("(a namespace deleted by hand)");
    let orphans: Vec<Pid> =
        crate::sys::netns::unnamed(&super::sandbox::HOLDER_NAME.to_string_lossy())
            .into_iter()
            .filter(|pid| kill(*pid, Signal::SIGKILL).is_ok())
            .collect();
    killed.extend(orphans.into_iter().map(|pid| (pid, &unnamed)));
    let deadline = Instant::now() + EXIT_LIMIT;
    while killed.iter().any(|(pid, _)| alive(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    killed
        .into_iter()
        .filter(|(pid, _)| alive(*pid))
        .map(|(pid, ns)| TeardownError::ProcessLeft {
            pid: pid.as_raw(),
            namespace: ns.clone(),
        })
        .collect()
}

/// Alive and not a zombie: a zombie holds no resources and waits only for its parent.
fn alive(pid: Pid) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
