//! One command at a time on a lab, in two scopes: deploy and destroy (the lab's life), and
//! verify, trace and bench (runs that probe it). Each is an flock(2) on a file in the state
//! folder, so the kernel releases it when its holder dies, however it dies. The file names its
//! holder, so that a second command can say whom it waits for.

use super::state;
use crate::sys::pid::ProcessId;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a waiting command tries the lock again.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// deploy and destroy: a lab is made or removed by one command at a time.
    Life,
    /// verify, trace and bench: each flushes what the lab learnt or loads it, so two at once
    /// would spoil each other's proof.
    Run,
}

impl Scope {
    fn suffix(self) -> &'static str {
        match self {
            Scope::Life => "life",
            Scope::Run => "run",
        }
    }
}

/// How long a command waits for the holder of a lock.
#[derive(Debug, Clone, Copy)]
pub enum Patience {
    /// Not at all: `--no-wait`.
    None,
    Forever,
    Upto(Duration),
}

/// The command that holds a lock, as its file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub command: String,
    pub process: Option<ProcessId>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.process {
            Some(p) => write!(f, "{} (pid {})", self.command, p.pid),
            None => f.write_str(&self.command),
        }
    }
}

impl Holder {
    /// The holder a lock file names; a file being rewritten names nobody yet.
    fn read(path: &Path) -> Holder {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| Holder::parse(&text))
            .unwrap_or_else(|| Holder {
                command: "another cnilab command".into(),
                process: None,
            })
    }

    /// `COMMAND PID START`, as [`LabLock`] writes it.
    fn parse(text: &str) -> Option<Holder> {
        let mut words = text.split_whitespace();
        let command = words.next()?.to_string();
        let process = match (words.next(), words.next()) {
            (Some(pid), Some(start)) => Some(ProcessId {
                pid: pid.parse().ok()?,
                start: start.parse().ok()?,
            }),
            _ => None,
        };
        Some(Holder { command, process })
    }

    fn line(command: &str) -> String {
        match ProcessId::this() {
            Some(p) => format!("{command} {} {}\n", p.pid, p.start),
            None => format!("{command}\n"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{holder} is running on lab `{lab}`; run again without --no-wait to wait for it")]
    Busy { lab: String, holder: Holder },
    #[error("interrupted while waiting for {holder} on lab `{lab}`")]
    Interrupted { lab: String, holder: Holder },
    #[error("cannot lock lab `{lab}` ({}): {source}", .path.display())]
    Io {
        lab: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LockError {
    /// 2: the lab is busy, or its lock cannot be had; 130: stopped by Ctrl-C while waiting.
    pub fn exit_code(&self) -> i32 {
        match self {
            LockError::Interrupted { .. } => 130,
            _ => 2,
        }
    }
}

/// A held lock; released when dropped, or when its process dies.
#[derive(Debug)]
pub struct LabLock {
    /// None for a caller that is not root: it can change no lab, and its command says so in
    /// its own words rather than failing to open a file under /run.
    held: Option<(Flock<File>, PathBuf)>,
}

/// Where a lab's lock of `scope` lives.
pub fn path(lab: &str, scope: Scope) -> PathBuf {
    state::dir().join(format!("{lab}.{}.lock", scope.suffix()))
}

/// Takes `lab`'s lock of `scope` for `command`, waiting as `patience` allows. `waiting` is
/// called once, with the holder, if the lock is busy and the caller waits.
pub fn take(
    lab: &str,
    scope: Scope,
    command: &str,
    patience: Patience,
    waiting: &dyn Fn(&Holder),
) -> Result<LabLock, LockError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(LabLock { held: None });
    }
    let path = path(lab, scope);
    let io = |source| LockError::Io {
        lab: lab.to_string(),
        path: path.clone(),
        source,
    };
    let started = Instant::now();
    let mut said = false;
    loop {
        if let Some(locked) = try_lock(&path).map_err(io)? {
            return hold(locked, &path, command).map_err(io);
        }
        let holder = named_holder(&path);
        let lab = lab.to_string();
        let out_of_patience = match patience {
            Patience::None => true,
            Patience::Forever => false,
            Patience::Upto(limit) => started.elapsed() >= limit,
        };
        if out_of_patience {
            return Err(LockError::Busy { lab, holder });
        }
        if crate::interrupt::requested() {
            return Err(LockError::Interrupted { lab, holder });
        }
        if !said {
            waiting(&holder);
            said = true;
        }
        std::thread::sleep(POLL);
    }
}

/// Who holds the lock at `path`. A holder writes its name just after it takes the lock, so a
/// file read in between names nobody yet: it is read again for a moment before that counts.
fn named_holder(path: &Path) -> Holder {
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        let holder = Holder::read(path);
        if holder.process.is_some() || Instant::now() >= deadline {
            return holder;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lock if it is free now. A file that was removed while this waited for it (a destroy
/// removes its lab's lock files) is no longer the lock: the next try opens the new one.
fn try_lock(path: &Path) -> std::io::Result<Option<Flock<File>>> {
    std::fs::create_dir_all(state::dir())?;
    loop {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((_, Errno::EWOULDBLOCK)) => return Ok(None),
            Err((_, errno)) => return Err(errno.into()),
        };
        let own = locked.metadata()?.ino();
        if std::fs::metadata(path).is_ok_and(|m| m.ino() == own) {
            return Ok(Some(locked));
        }
    }
}

fn hold(locked: Flock<File>, path: &Path, command: &str) -> std::io::Result<LabLock> {
    locked.set_len(0)?;
    (&*locked).write_all(Holder::line(command).as_bytes())?;
    Ok(LabLock {
        held: Some((locked, path.to_path_buf())),
    })
}

impl LabLock {
    /// Releases the lock and removes its file: for a destroy, once the lab is gone, so that
    /// no file of it is left. A command waiting on the old file opens the new one.
    pub fn remove(mut self) {
        if let Some((_, path)) = &self.held {
            let _ = std::fs::remove_file(path);
        }
        self.held = None;
    }
}

impl Drop for LabLock {
    fn drop(&mut self) {
        // Emptied first: a holder that died keeps its line, and a reader must not take a
        // released lock's line for a holder that still runs.
        if let Some((locked, _)) = &self.held {
            let _ = locked.set_len(0);
        }
    }
}

/// Whether a destroy of `lab` is under way: what a run watches for, to end itself.
pub fn destroying(lab: &str) -> bool {
    let holder = Holder::read(&path(lab, Scope::Life));
    holder.command == "destroy" && holder.process.is_some_and(|p| p.alive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_line_reads_back() {
        let line = Holder::line("verify");
        let holder = Holder::parse(&line).expect("parses");
        assert_eq!(holder.command, "verify");
        assert_eq!(holder.process, ProcessId::this());
        assert_eq!(
            holder.to_string(),
            format!("verify (pid {})", std::process::id())
        );
        assert_eq!(Holder::parse(""), None);
        assert_eq!(Holder::parse("trace 12 x"), None);
    }

    #[test]
    fn a_held_lock_is_refused_without_patience_and_free_once_dropped() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test writes under {} and must run as root",
            state::STATE_DIR
        );
        let lab = format!("locktest{}", std::process::id());
        let quiet = |_: &Holder| {};
        let first = take(&lab, Scope::Run, "verify", Patience::None, &quiet).unwrap();
        let busy = take(&lab, Scope::Run, "trace", Patience::None, &quiet).unwrap_err();
        let me = format!("verify (pid {})", std::process::id());
        assert!(busy.to_string().starts_with(&me), "{busy}");
        assert_eq!(busy.exit_code(), 2);
        // Another scope of the same lab is another lock.
        let life = take(&lab, Scope::Life, "destroy", Patience::None, &quiet).unwrap();
        assert!(destroying(&lab), "a live destroy holds the life lock");
        drop(first);
        let second = take(&lab, Scope::Run, "trace", Patience::None, &quiet).unwrap();
        second.remove();
        life.remove();
        assert!(!destroying(&lab), "a released lock names nobody");
        assert!(!path(&lab, Scope::Run).exists() && !path(&lab, Scope::Life).exists());
    }
}
