//! A node's holder: a long-lived process, like a container's pause process, that owns the
//! node's mount and PID namespaces. It is PID 1 of the node, so killing it ends every process
//! the node started, daemons included; while it lives, it reaps the node's orphans.

use super::mounts::{self, MountPlan};
use nix::unistd::{fork, ForkResult, Pid};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};

/// The holder's namespaces; the holder itself outlives this handle on purpose, until teardown
/// kills it with every other process of the node.
pub struct Holder {
    pub mnt: File,
    pub pid_ns: File,
}

/// Why a holder could not be made: the operation (None for the namespaces themselves) and
/// the errno.
#[derive(Debug)]
pub struct HolderError {
    pub what: String,
    pub errno: i32,
}

impl std::fmt::Display for HolderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = std::io::Error::from_raw_os_error(self.errno);
        write!(f, "{}: {e}", self.what)
    }
}

/// Messages from the forked processes, each one write (atomic on a pipe).
const PID: u8 = b'P';
const READY: u8 = b'K';
const FAILED: u8 = b'E';
/// In a FAILED message, the step "making the namespaces", not one of the plan's.
const NAMESPACES: u32 = u32::MAX;

/// Starts a holder in the calling thread's network namespace.
pub fn start(plan: &MountPlan) -> Result<Holder, HolderError> {
    let fail = |what: &str, e: nix::Error| HolderError {
        what: what.into(),
        errno: e as i32,
    };
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| fail("making a pipe", e))?;
    let null = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| fail("opening /dev/null", e))?;
    // SAFETY: the child only makes system calls on data prepared before the fork.
    let first = match unsafe { fork() }.map_err(|e| fail("forking", e))? {
        ForkResult::Child => intermediate(plan, write.as_raw_fd(), null),
        ForkResult::Parent { child } => child,
    };
    drop(write);
    let _ = nix::unistd::close(null);
    let _ = nix::sys::wait::waitpid(first, None);
    let mut report = Vec::new();
    let _ = File::from(read).read_to_end(&mut report);
    let pid = parse(plan, &report)?;
    let ns = |kind: &str| {
        File::open(format!("/proc/{pid}/ns/{kind}")).map_err(|e| HolderError {
            what: format!("opening the node's {kind} namespace"),
            errno: e.raw_os_error().unwrap_or(0),
        })
    };
    Ok(Holder {
        mnt: ns("mnt")?,
        pid_ns: ns("pid")?,
    })
}

fn parse(plan: &MountPlan, mut report: &[u8]) -> Result<Pid, HolderError> {
    let (mut pid, mut ready) = (None, false);
    while let Some((&tag, rest)) = report.split_first() {
        let word = |b: &[u8]| {
            b.get(..4)
                .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
        };
        match tag {
            PID => pid = word(rest).map(|p| Pid::from_raw(p as i32)),
            READY => ready = true,
            FAILED => {
                let step = word(rest).unwrap_or(NAMESPACES);
                let errno = rest.get(4..).and_then(word).unwrap_or(0) as i32;
                let what = match plan.ops.get(step as usize) {
                    Some(op) => op.to_string(),
                    None => "making the node's mount and PID namespaces".into(),
                };
                return Err(HolderError { what, errno });
            }
            _ => break,
        }
        report = rest.get(if tag == READY { 0 } else { 4 }..).unwrap_or(&[]);
    }
    match (pid, ready) {
        (Some(pid), true) => Ok(pid),
        _ => Err(HolderError {
            what: "starting the node's holder process (it ended without a word)".into(),
            errno: 0,
        }),
    }
}

fn send(fd: RawFd, tag: u8, words: &[u32]) {
    let mut buf = [0u8; 9];
    buf[0] = tag;
    for (i, w) in words.iter().enumerate().take(2) {
        buf[1 + 4 * i..5 + 4 * i].copy_from_slice(&w.to_ne_bytes());
    }
    // SAFETY: writes from a valid buffer.
    unsafe { libc::write(fd, buf.as_ptr().cast(), 1 + 4 * words.len().min(2)) };
}

/// Makes the namespaces, forks the holder into them, tells its PID and exits.
fn intermediate(plan: &MountPlan, report: RawFd, null: RawFd) -> ! {
    super::default_signals();
    // SAFETY: plain system calls in a single-threaded child.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWPID) != 0 {
            send(report, FAILED, &[NAMESPACES, mounts::errno() as u32]);
            libc::_exit(1);
        }
        match libc::fork() {
            0 => holder(plan, report, null),
            -1 => send(report, FAILED, &[NAMESPACES, mounts::errno() as u32]),
            pid => send(report, PID, &[pid as u32]),
        }
        libc::_exit(0)
    }
}

/// PID 1 of the node: sets up the node's file system view, then reaps orphans for ever.
fn holder(plan: &MountPlan, report: RawFd, null: RawFd) -> ! {
    for (i, op) in plan.ops.iter().enumerate() {
        if let Err(errno) = mounts::apply(op) {
            send(report, FAILED, &[i as u32, errno as u32]);
            // SAFETY: ends this child.
            unsafe { libc::_exit(1) };
        }
    }
    // SAFETY: plain system calls in a single-threaded child.
    unsafe {
        // Off cnilab's terminal and session, holding none of its files or pipes, and named
        // for what it is in `ps`.
        libc::setsid();
        libc::prctl(libc::PR_SET_NAME, c"cnilab-node".as_ptr(), 0, 0, 0);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        send(report, READY, &[]);
        libc::syscall(libc::SYS_close_range, 3, libc::c_uint::MAX, 0);
        loop {
            if libc::waitpid(-1, std::ptr::null_mut(), 0) < 0 {
                libc::sleep(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tag: u8, words: &[u32]) -> Vec<u8> {
        let mut v = vec![tag];
        for w in words {
            v.extend_from_slice(&w.to_ne_bytes());
        }
        v
    }

    #[test]
    fn a_ready_holder_reports_its_pid_in_either_order() {
        let plan = MountPlan::new(&[]);
        for report in [
            [message(PID, &[42]), message(READY, &[])].concat(),
            [message(READY, &[]), message(PID, &[42])].concat(),
        ] {
            assert_eq!(parse(&plan, &report).unwrap(), Pid::from_raw(42));
        }
    }

    #[test]
    fn a_failed_step_is_named_with_its_error() {
        let plan = MountPlan::new(&[]);
        let report = [
            message(PID, &[42]),
            message(FAILED, &[1, libc::EPERM as u32]),
        ]
        .concat();
        let e = parse(&plan, &report).unwrap_err();
        assert_eq!(e.what, plan.ops[1].to_string());
        assert_eq!(e.errno, libc::EPERM);
        let e = parse(&plan, &message(FAILED, &[NAMESPACES, libc::EPERM as u32])).unwrap_err();
        assert!(e.what.contains("namespaces"), "{e}");
        assert!(parse(&plan, &message(PID, &[42])).is_err(), "no READY");
    }
}
