//! Entering a network namespace, scoped.
//!
//! A thread that enters a namespace must come back out even when the work inside fails, or
//! later work on that thread silently lands in the lab. [`NetnsGuard`] restores the thread's
//! original namespace in `Drop`; [`in_netns`] goes further and does the work on a thread of its
//! own, so the caller's thread never changes namespace at all.

use nix::sched::{setns, CloneFlags};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Where `ip netns` and containerlab link named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

pub fn exists(name: &str) -> bool {
    netns_path(name).exists()
}

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("network namespace `{name}` does not exist ({path} is missing); is the lab deployed?")]
    Missing { name: String, path: PathBuf },
    #[error("cannot enter network namespace `{name}`: {source}")]
    Enter { name: String, source: io::Error },
}

/// The calling thread is inside a namespace until this is dropped.
pub struct NetnsGuard {
    original: File,
}

impl NetnsGuard {
    pub fn enter(name: &str) -> Result<NetnsGuard, NetnsError> {
        let target = open(name)?;
        let enter_err = |e: io::Error| NetnsError::Enter {
            name: name.to_string(),
            source: e,
        };
        let original = File::open("/proc/thread-self/ns/net").map_err(enter_err)?;
        setns(&target, CloneFlags::CLONE_NEWNET).map_err(|e| enter_err(e.into()))?;
        Ok(NetnsGuard { original })
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.original, CloneFlags::CLONE_NEWNET) {
            // Carrying on would run later work inside the lab, or worse: stop here.
            eprintln!("cnilab: cannot return to the original network namespace: {e}");
            std::process::abort();
        }
    }
}

/// Moves the calling thread into namespace `name` with no way back: only for a thread that
/// ends with the work it does there (one that may also give up the right to come back).
pub fn enter_for_good(name: &str) -> Result<(), NetnsError> {
    let target = open(name)?;
    setns(&target, CloneFlags::CLONE_NEWNET).map_err(|e| NetnsError::Enter {
        name: name.to_string(),
        source: e.into(),
    })
}

fn open(name: &str) -> Result<File, NetnsError> {
    let path = netns_path(name);
    File::open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => NetnsError::Missing {
            name: name.to_string(),
            path: path.clone(),
        },
        _ => NetnsError::Enter {
            name: name.to_string(),
            source: e,
        },
    })
}

/// Runs `work` on a fresh thread inside namespace `name` and returns its result.
pub fn in_netns<T, F>(name: &str, work: F) -> Result<T, NetnsError>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let _guard = NetnsGuard::enter(name)?;
                Ok(work())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The processes in any of these namespaces, each with its namespace's name, as `ip netns
/// pids` finds them: one pass over /proc, however many namespaces.
pub fn pids_in(names: &[String]) -> Vec<(nix::unistd::Pid, &String)> {
    use std::os::unix::fs::MetadataExt;
    let id = |m: std::fs::Metadata| (m.dev(), m.ino());
    let wanted: std::collections::HashMap<(u64, u64), &String> = names
        .iter()
        .filter_map(|n| Some((id(std::fs::metadata(netns_path(n)).ok()?), n)))
        .collect();
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    if wanted.is_empty() {
        return Vec::new();
    }
    let own = std::process::id() as i32;
    proc_dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != own)
        .filter_map(|pid| {
            let ns = std::fs::metadata(format!("/proc/{pid}/ns/net")).ok()?;
            Some((nix::unistd::Pid::from_raw(pid), *wanted.get(&id(ns))?))
        })
        .collect()
}

/// Processes called `comm` whose network namespace has no name in /run/netns any more: no
/// lab can reach them, as after `ip netns del` by hand.
pub fn unnamed(comm: &str) -> Vec<nix::unistd::Pid> {
    use std::os::unix::fs::MetadataExt;
    let id = |m: std::fs::Metadata| (m.dev(), m.ino());
    let named: std::collections::HashSet<(u64, u64)> = std::fs::read_dir(NETNS_DIR)
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::metadata(e.path()).ok().map(id))
                .collect()
        })
        .unwrap_or_default();
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc_dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net")).is_ok_and(|m| !named.contains(&id(m)))
        })
        .map(nix::unistd::Pid::from_raw)
        .collect()
}

/// Network namespaces for tests, made and removed by the tests themselves.
#[cfg(test)]
pub mod testing {
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::Duration;

    fn assert_root() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test needs root: it makes a network namespace"
        );
    }

    /// Runs `body` on a thread of its own in a private network namespace (empty, and gone
    /// with the thread) and returns what it returns, failing with `hung` if it takes longer
    /// than 10 s (and, when it panics, after the panic's own message).
    pub fn in_private_netns<T: Send + 'static>(
        hung: &str,
        body: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        assert_root();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            let _ = tx.send(body());
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(value) => value,
            Err(RecvTimeoutError::Timeout) => panic!("{hung}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the namespace's thread panicked"),
        }
    }

    /// A named namespace of one test's own, `cnilab-test-<test>-<pid>`, for code that enters
    /// namespaces by name; deleted on drop, so also when the test fails.
    pub struct Scratch(String);

    impl Scratch {
        /// Makes the namespace and runs each of `steps` in it, as `ip -n <it> <step>`.
        pub fn new(test: &str, steps: &[&str]) -> Scratch {
            assert_root();
            let scratch = Scratch(format!("cnilab-test-{test}-{}", std::process::id()));
            let ns = scratch.0.as_str();
            let add = [format!("netns add {ns}")];
            let steps = steps.iter().map(|s| format!("-n {ns} {s}"));
            for step in add.into_iter().chain(steps) {
                let args: Vec<&str> = step.split_whitespace().collect();
                let ok = std::process::Command::new("ip").args(&args).status();
                assert!(ok.is_ok_and(|s| s.success()), "ip {step} failed");
            }
            scratch
        }

        pub fn name(&self) -> &str {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }
}
