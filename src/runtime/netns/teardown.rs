//! Removing a lab's namespaces: what `ip netns del` does, done in-process so that every
//! namespace gets its own error and one failure does not stop the rest.

use crate::netns::netns_path;
use crate::runtime::error::TeardownError;
use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};

/// Removes every namespace in `names` that exists; returns one error per failure.
pub fn remove_namespaces(names: &[String]) -> Vec<TeardownError> {
    let mut errors = Vec::new();
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
