//! A node's holder: a long-lived process, like a container's pause process, that owns the
//! node's mount and PID namespaces. It is PID 1 of the node, so killing it ends every process
//! the node started, daemons included; while it lives, it reaps the node's orphans.

use super::mounts::MountPlan;
use super::spawn;
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

/// Messages from the holder, each one write (atomic on a pipe).
pub(super) const READY: u8 = b'K';
pub(super) const FAILED: u8 = b'E';

/// The holder's descriptor for its one message to cnilab.
pub(super) const REPORT_FD: RawFd = 3;

/// Starts a holder in the calling thread's network namespace.
pub fn start(plan: &MountPlan) -> Result<Holder, HolderError> {
    let fail = |what: &str, e: nix::Error| HolderError {
        what: what.into(),
        errno: e as i32,
    };
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| fail("making a pipe", e))?;
    let spawned = spawn::spawn(plan, write.as_raw_fd());
    drop(write);
    let pid = spawned.map_err(|e| fail("making the node's mount and PID namespaces", e))?;
    parse(plan, &first_message(read)).inspect_err(|_| {
        let _ = nix::sys::wait::waitpid(pid, None);
    })?;
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

/// Reads one message, without waiting for the pipe to close: another node's child, cloned
/// meanwhile, holds it open until it executes its holder.
fn first_message(read: std::os::fd::OwnedFd) -> Vec<u8> {
    let mut file = File::from(read);
    let mut report = Vec::new();
    let mut buf = [0u8; 16];
    while !matches!(report.first(), Some(&READY)) && report.len() < 9 {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => report.extend_from_slice(&buf[..n]),
        }
    }
    report
}

fn parse(plan: &MountPlan, report: &[u8]) -> Result<(), HolderError> {
    let word = |b: Option<&[u8]>| b.map_or(0, |w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    match report.first() {
        Some(&READY) => Ok(()),
        Some(&FAILED) if report.len() >= 9 => {
            let step = word(report.get(1..5));
            let what = match plan.ops.get(step as usize) {
                Some(op) => op.to_string(),
                None if step == spawn::EXEC_STEP => "starting cnilab as the node's holder".into(),
                None => format!("step {step}"),
            };
            Err(HolderError {
                what,
                errno: word(report.get(5..9)) as i32,
            })
        }
        _ => Err(HolderError {
            what: "starting the node's holder process (it ended without a word)".into(),
            errno: 0,
        }),
    }
}

pub(super) fn send(fd: RawFd, tag: u8, words: &[u32]) {
    let mut buf = [0u8; 9];
    buf[0] = tag;
    for (i, w) in words.iter().enumerate().take(2) {
        buf[1 + 4 * i..5 + 4 * i].copy_from_slice(&w.to_ne_bytes());
    }
    // SAFETY: writes from a valid buffer.
    unsafe { libc::write(fd, buf.as_ptr().cast(), 1 + 4 * words.len().min(2)) };
}

/// `cnilab __node-holder`, as `spawn` starts it: PID 1 of a node whose mounts are made,
/// reaping the node's orphans for ever. Returns (exit code 2) only if run any other way.
pub fn run() -> i32 {
    if std::process::id() != 1 {
        eprintln!(
            "cnilab: `{}` is internal: cnilab starts it as PID 1 of a node",
            spawn::HOLDER_ARG.to_string_lossy()
        );
        return 2;
    }
    // SAFETY: plain system calls.
    unsafe {
        // Off cnilab's terminal and session, holding none of its files, and named for what
        // it is in `ps` (teardown finds lost holders by this name).
        libc::setsid();
        libc::prctl(libc::PR_SET_NAME, super::HOLDER_NAME.as_ptr(), 0, 0, 0);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        send(REPORT_FD, READY, &[]);
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
    fn a_failed_step_is_named_with_its_error() {
        let plan = MountPlan::new(&[], &[]);
        assert!(parse(&plan, &message(READY, &[])).is_ok());
        let e = parse(&plan, &message(FAILED, &[1, libc::EPERM as u32])).unwrap_err();
        assert_eq!(e.what, plan.ops[1].to_string());
        assert_eq!(e.errno, libc::EPERM);
        let e = parse(
            &plan,
            &message(FAILED, &[spawn::EXEC_STEP, libc::ENOENT as u32]),
        );
        assert_eq!(e.unwrap_err().what, "starting cnilab as the node's holder");
        assert!(parse(&plan, &[]).is_err(), "no word at all");
        assert!(parse(&plan, &[FAILED, 1]).is_err(), "a torn message");
    }
}
