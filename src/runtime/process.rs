//! Running a program without a shell and keeping what a failure needs: exit code and stderr.
//!
//! A program is done when it exits, not when its output pipe closes: a daemon it forked (or a
//! `setsid -f` child) may hold the pipe for ever. What it wrote is collected until it exits,
//! plus a short grace period for the last bytes in flight.

use crate::interrupt;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Ran {
    /// None when killed by a signal or when the program could not be started.
    pub code: Option<i32>,
    pub stderr: String,
    /// Stopped by an interrupt: killed by SIGINT (Ctrl-C reached the whole process group), or
    /// killed by us because cnilab was asked to stop.
    pub interrupted: bool,
    /// Killed because it ran past its time limit.
    pub timed_out: bool,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// How long a program may run, and whether cnilab's own interrupt ends it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bounds {
    pub timeout: Option<Duration>,
    /// The program runs in a process group of its own, killed as a whole when it times out or
    /// when cnilab is interrupted (SIGTERM reaches only cnilab, so cnilab passes it on).
    pub own_group: bool,
}

/// After the program exits, how long its last output may take to arrive.
const GRACE: Duration = Duration::from_millis(200);
/// How often the wait looks at the interrupt flag.
const TICK: Duration = Duration::from_millis(50);
/// Enough stderr to explain a failure; the rest is read and dropped so the writer never blocks.
const STDERR_CAP: usize = 64 * 1024;

/// Runs `argv` from the calling thread, so the child lives in this thread's network namespace.
pub fn run(argv: &[String], stdin: Option<String>) -> Ran {
    run_command(command(argv), stdin, Bounds::default())
}

/// [`run`], for a program that must not outlive the thread that waits for it: a deploy killed
/// with SIGKILL must leave no `ip -batch` making the lab's namespaces after a destroy removed
/// them. What the program starts itself is not affected (the setting is not inherited across
/// fork). Only where it matters: a hook before exec makes std fork instead of posix_spawn.
pub fn run_tied(argv: &[String], stdin: Option<String>) -> Ran {
    let mut cmd = command(argv);
    // SAFETY: prctl(2) is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    run_command(cmd, stdin, Bounds::default())
}

pub fn command(argv: &[String]) -> Command {
    let (program, args) = argv.split_first().expect("a command has a program");
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// Runs `cmd` (its stdio is set here) until it exits, times out or is interrupted.
pub fn run_command(mut cmd: Command, stdin: Option<String>, bounds: Bounds) -> Ran {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd.stdin(match stdin {
        Some(_) => Stdio::piped(),
        None => Stdio::null(),
    });
    if bounds.own_group {
        cmd.process_group(0);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Ran {
                stderr: format!("cannot run `{program}`: {e}"),
                ..Ran::default()
            }
        }
    };
    // Fed from the wait loop, not from a thread: a thread inside a node's PID namespace
    // cannot start threads, and a program that stops reading must not stall the wait.
    let mut pipes = Pipes::new(child.stdin.take(), stdin, child.stderr.take());
    let (status, stop) = wait(&mut child, &mut pipes, bounds);
    pipes.drain(GRACE);
    let signal = status.and_then(|s| s.signal());
    Ran {
        code: status.and_then(|s| s.code()),
        stderr: String::from_utf8_lossy(&pipes.stderr_bytes)
            .trim()
            .to_string(),
        interrupted: stop == Stop::Interrupted
            || signal == Some(nix::sys::signal::Signal::SIGINT as i32),
        timed_out: stop == Stop::TimedOut,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Exited,
    TimedOut,
    Interrupted,
}

/// Waits for the process itself (a pidfd), reading stderr meanwhile.
fn wait(child: &mut Child, pipes: &mut Pipes, bounds: Bounds) -> (Option<ExitStatus>, Stop) {
    let exited = pidfd(child.id());
    let deadline = bounds.timeout.map(|t| Instant::now() + t);
    loop {
        let mut tick = TICK;
        if let Some(d) = deadline {
            tick = tick.min(d.saturating_duration_since(Instant::now()));
        }
        pipes.pump(tick, exited.as_ref().map(|fd| fd.as_fd()));
        if let Ok(Some(status)) = child.try_wait() {
            return (Some(status), Stop::Exited);
        }
        let stop = if deadline.is_some_and(|d| Instant::now() >= d) {
            Stop::TimedOut
        } else if bounds.own_group && interrupt::requested() {
            Stop::Interrupted
        } else {
            continue;
        };
        kill(child, bounds.own_group);
        return (child.wait().ok(), stop);
    }
}

fn kill(child: &mut Child, group: bool) {
    if group {
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    }
    let _ = child.kill();
}

/// A descriptor that becomes readable when the process exits (Linux 5.3+).
fn pidfd(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative result is a descriptor that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A child's stdin, written, and its stderr, read, without blocking.
struct Pipes {
    stdin: Option<ChildStdin>,
    input: Vec<u8>,
    written: usize,
    stderr: Option<ChildStderr>,
    stderr_bytes: Vec<u8>,
}

impl Pipes {
    fn new(stdin: Option<ChildStdin>, input: Option<String>, stderr: Option<ChildStderr>) -> Pipes {
        for fd in [
            stdin.as_ref().map(|p| p.as_fd()),
            stderr.as_ref().map(|p| p.as_fd()),
        ]
        .into_iter()
        .flatten()
        {
            let flags = nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK);
            let _ = nix::fcntl::fcntl(fd, flags);
        }
        Pipes {
            stdin,
            input: input.map(String::into_bytes).unwrap_or_default(),
            written: 0,
            stderr,
            stderr_bytes: Vec::new(),
        }
    }

    /// Moves what it can within `limit`; returns early when `also` (a pidfd) becomes readable.
    /// Without a pidfd it never waits longer than a few milliseconds.
    fn pump(&mut self, limit: Duration, also: Option<BorrowedFd>) {
        let limit = match also {
            Some(_) => limit,
            None => limit.min(Duration::from_millis(5)),
        };
        let stderr = self.stderr.as_ref().map(|p| (p.as_fd(), PollFlags::POLLIN));
        let stdin = self.stdin.as_ref().map(|p| (p.as_fd(), PollFlags::POLLOUT));
        let exited = also.map(|fd| (fd, PollFlags::POLLIN));
        let ready = ready([stderr, stdin, exited], limit);
        if ready[0] {
            self.read_available();
        }
        if ready[1] {
            self.write_some();
        }
    }

    fn write_some(&mut self) {
        let Some(pipe) = &mut self.stdin else { return };
        while self.written < self.input.len() {
            match pipe.write(&self.input[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
        }
        // All written, or the reader is gone: closing tells it the input is over.
        self.stdin = None;
    }

    fn read_available(&mut self) {
        let Some(pipe) = &mut self.stderr else { return };
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = STDERR_CAP.saturating_sub(self.stderr_bytes.len());
                    self.stderr_bytes.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
        }
        self.stderr = None;
    }

    /// After the program exited: reads until stderr closes or `grace` is over, whichever comes
    /// first. Dropping the pipes then leaves any descendant that holds them with a broken pipe.
    fn drain(&mut self, grace: Duration) {
        self.stdin = None;
        let end = Instant::now() + grace;
        while self.stderr.is_some() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let stderr = self.stderr.as_ref().map(|p| (p.as_fd(), PollFlags::POLLIN));
            ready([stderr], left);
            self.read_available();
        }
        self.stderr = None;
    }
}

/// Waits up to `limit` for any of the present descriptors; says which had an event. An
/// interrupted poll leaves every event clear, and the callers' loops try again.
fn ready<const N: usize>(fds: [Option<(BorrowedFd, PollFlags)>; N], limit: Duration) -> [bool; N] {
    let mut polled: Vec<PollFd> = fds
        .iter()
        .flatten()
        .map(|&(fd, ev)| PollFd::new(fd, ev))
        .collect();
    let timeout = PollTimeout::try_from(limit).unwrap_or(PollTimeout::MAX);
    let _ = poll(&mut polled, timeout);
    let mut events = polled.iter().map(|p| p.any().unwrap_or(false));
    fds.map(|fd| fd.is_some() && events.next().unwrap_or(false))
}

pub fn strings<const N: usize>(words: [&str; N]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Where `program` would be found on PATH, as execvp would find it.
pub fn which(program: &str) -> Option<PathBuf> {
    which::which(program).ok()
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        command(&strings(["sh", "-c", script]))
    }

    #[test]
    fn a_child_holding_the_pipe_does_not_keep_the_wait() {
        let start = Instant::now();
        let ran = run_command(
            sh("echo before >&2; (sleep 30 &) ; exit 3"),
            None,
            Bounds::default(),
        );
        assert!(start.elapsed() < Duration::from_secs(5), "{ran:?}");
        assert_eq!(ran.code, Some(3));
        assert_eq!(ran.stderr, "before");
    }

    #[test]
    fn a_program_past_its_limit_is_killed() {
        let start = Instant::now();
        let bounds = Bounds {
            timeout: Some(Duration::from_millis(300)),
            own_group: true,
        };
        let ran = run_command(sh("sleep 30"), None, bounds);
        assert!(ran.timed_out && !ran.ok(), "{ran:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn input_larger_than_a_pipe_reaches_the_program() {
        let input: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let ran = run_command(sh("wc -l >&2"), Some(input), Bounds::default());
        assert!(ran.ok(), "{ran:?}");
        assert_eq!(ran.stderr, "20000");
    }

    #[test]
    fn stdin_and_stderr_pass_through() {
        let ran = run_command(sh("cat >&2"), Some("hello\n".into()), Bounds::default());
        assert!(ran.ok());
        assert_eq!(ran.stderr, "hello");
    }
}
