//! Each node of the netns runtime as a light container without an image: the host's binaries
//! seen read-only, private /tmp and /run, a PID namespace of its own, and exec lines that keep
//! only the capabilities network configuration needs (see [`privilege::KEPT`]).
//!
//! A holder process owns the node's mount and PID namespaces (see [`holder`]); its network
//! namespace is the node's, so `ip netns exec clab-<lab>-<node>` keeps working for people.
//! The thread that runs a node's exec lines enters the holder's namespaces and drops its
//! privileges for good, so every line it starts is born inside, through the ordinary spawn.

mod holder;
mod mounts;
pub mod privilege;
mod spawn;

pub use holder::{run as run_holder, HolderError};
pub use mounts::MountPlan;
pub use spawn::HOLDER_ARG;

use holder::Holder;
use nix::sched::CloneFlags;
use privilege::Privilege;

/// What a holder calls itself (its comm, as `ps` shows it).
pub const HOLDER_NAME: &std::ffi::CStr = c"cnilab-node";

pub struct Sandbox {
    holder: Holder,
    privilege: Privilege,
}

impl Sandbox {
    /// Starts the node's holder from the calling thread, which is in the node's network
    /// namespace.
    pub fn start(plan: &MountPlan) -> Result<Sandbox, HolderError> {
        Ok(Sandbox {
            holder: holder::start(plan)?,
            privilege: Privilege::new(),
        })
    }

    /// Moves the calling thread into the node for good: its mount namespace, its PID namespace
    /// for the children the thread starts, and only the kept capabilities with no_new_privs.
    /// Every program the thread then starts is born inside, through the ordinary fast spawn.
    /// The thread can never come back out, so it must be one that ends with the node's work.
    pub fn enter_for_good(&self) -> Result<(), HolderError> {
        let fail = |what: &'static str| {
            move |e: nix::Error| HolderError {
                what: what.to_string(),
                errno: e as i32,
            }
        };
        // A thread shares its root and working directory with the others until it unshares
        // them; only then may it change mount namespace.
        nix::sched::unshare(CloneFlags::CLONE_FS).map_err(fail("unsharing the thread's root"))?;
        nix::sched::setns(&self.holder.mnt, CloneFlags::CLONE_NEWNS)
            .map_err(fail("entering the node's mount namespace"))?;
        nix::unistd::chdir("/").map_err(fail("changing to the node's /"))?;
        nix::sched::setns(&self.holder.pid_ns, CloneFlags::CLONE_NEWPID)
            .map_err(fail("entering the node's PID namespace"))?;
        self.privilege
            .drop_all_but_kept()
            .map_err(|errno| HolderError {
                what: "dropping capabilities".into(),
                errno,
            })
    }
}

/// cnilab's Ctrl-C handler must not run in the child that sets a node up: sharing cnilab's
/// memory and files, it would tell cnilab of a signal twice.
fn default_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: resetting a disposition is async-signal-safe.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}
