//! Each node of the netns runtime as a light container without an image: the host's binaries
//! seen read-only, private /tmp and /run, a PID namespace of its own, and exec lines that keep
//! only the capabilities network configuration needs (see [`privilege::KEPT`]).
//!
//! A holder process owns the node's mount and PID namespaces (see [`holder`]); its network
//! namespace is the node's, so `ip netns exec clab-<lab>-<node>` keeps working for people.
//! Exec lines enter the holder's namespaces, as `nsenter` would, before they exec.

mod holder;
mod mounts;
pub mod privilege;

pub use holder::HolderError;
pub use mounts::MountPlan;

use holder::Holder;
use privilege::Privilege;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

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

    /// `cmd` set to run inside the node. The process cnilab waits for stays in the host's PID
    /// namespace and passes on the exit status of the line, which runs in the node's.
    pub fn contain(&self, mut cmd: Command) -> Command {
        let mnt = self.holder.mnt.as_raw_fd();
        let pid_ns = self.holder.pid_ns.as_raw_fd();
        let privilege = self.privilege;
        // SAFETY: the closure only makes system calls on values copied before the fork.
        unsafe {
            cmd.pre_exec(move || {
                enter(mnt, pid_ns, privilege).map_err(std::io::Error::from_raw_os_error)
            });
        }
        cmd
    }
}

/// In the forked child of `Command::spawn`, before exec.
fn enter(mnt: i32, pid_ns: i32, privilege: Privilege) -> Result<(), i32> {
    default_signals();
    // SAFETY: plain system calls in a single-threaded child.
    unsafe {
        if libc::setns(mnt, libc::CLONE_NEWNS) != 0
            || libc::chdir(c"/".as_ptr()) != 0
            || libc::setns(pid_ns, libc::CLONE_NEWPID) != 0
        {
            return Err(mounts::errno());
        }
        // A PID namespace takes only children born after setns: the line is a child.
        match libc::fork() {
            -1 => Err(mounts::errno()),
            0 => {
                // If cnilab kills the waiting parent (a timeout), the line dies with it.
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                privilege.drop_all_but_kept()
            }
            line => relay(line),
        }
    }
}

/// Waits for the line and exits as it did, holding none of its pipes meanwhile.
fn relay(line: libc::pid_t) -> ! {
    // SAFETY: plain system calls in a single-threaded child.
    unsafe {
        libc::syscall(libc::SYS_close_range, 0, libc::c_uint::MAX, 0);
        let mut status = 0;
        while libc::waitpid(line, &mut status, 0) < 0 {
            if mounts::errno() != libc::EINTR {
                libc::_exit(127);
            }
        }
        if libc::WIFEXITED(status) {
            libc::_exit(libc::WEXITSTATUS(status));
        }
        libc::_exit(128 + libc::WTERMSIG(status))
    }
}

/// cnilab's Ctrl-C handler must not run in a forked child that never execs: it would tell
/// cnilab of a signal twice.
fn default_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: resetting a disposition is async-signal-safe.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}
