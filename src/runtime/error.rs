//! Everything a runtime can fail with, as data. cli.rs prints it once.

use crate::topology::TopologyError;
use std::path::PathBuf;

pub const INSTALL_CONTAINERLAB: &str =
    "install it with `bash -c \"$(curl -sL https://get.containerlab.dev)\"` \
or from its apt repository (https://containerlab.dev/install/), or use `--runtime netns`";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// Something in the file this runtime cannot realise, e.g. a node kind or a link form.
    #[error("{file}: {what}")]
    Unsupported { file: PathBuf, what: String },
    /// One line per problem found before anything was made.
    #[error("cannot deploy, the preflight checks failed:\n  {}", .problems.join("\n  "))]
    Preflight { problems: Vec<String> },
    #[error("lab `{lab}` is already up: {why}; run `cnilab destroy -t {}` first", .file.display())]
    AlreadyUp {
        lab: String,
        file: PathBuf,
        why: String,
    },
    #[error("containerlab is not on PATH; {INSTALL_CONTAINERLAB}")]
    ContainerlabMissing,
    #[error("lab `{lab}` was deployed with the {recorded} runtime, not {asked}; destroy it without --runtime, or with --runtime {recorded}")]
    RuntimeMismatch {
        lab: String,
        recorded: super::RuntimeKind,
        asked: super::RuntimeKind,
    },
    /// An exec line failed. `line` counts from 1 in the node's `exec:` list.
    #[error("node `{node}`, exec line {line} `{command}` failed with exit code {}{}",
        .code.map_or("(killed by a signal)".to_string(), |c| c.to_string()),
        if .stderr.is_empty() { String::new() } else { format!(": {}", .stderr) })]
    ExecFailed {
        node: String,
        line: usize,
        command: String,
        code: Option<i32>,
        stderr: String,
    },
    /// An exec line (or a batch of them: `lines` names the range, `command` the first) ran
    /// past its limit and was killed.
    #[error("node `{node}`, exec line {lines}, `{command}`, did not finish within {} s and was killed{}",
        .limit.as_secs_f64(),
        if .stderr.is_empty() { String::new() } else { format!(": {}", .stderr) })]
    ExecTimedOut {
        node: String,
        lines: String,
        command: String,
        limit: std::time::Duration,
        stderr: String,
    },
    /// Making the lab's namespaces, links or bridges failed.
    #[error("{step} failed: {detail}")]
    Setup { step: String, detail: String },
    #[error("interrupted")]
    Interrupted,
    #[error("`containerlab {action}` failed with exit code {}{}",
        .code.map_or("(killed by a signal)".to_string(), |c| c.to_string()),
        if .tail.is_empty() { String::new() } else { format!("; its last lines:\n  {}", .tail.join("\n  ")) })]
    ContainerlabFailed {
        action: &'static str,
        code: Option<i32>,
        tail: Vec<String>,
    },
    /// containerlab only logs a failing exec line and reports success; cnilab does not.
    #[error("containerlab deployed the lab, but {} exec line(s) failed:\n  {}", .failures.len(), lines(.failures))]
    ContainerlabExecFailed {
        failures: Vec<super::containerlab::ExecProblem>,
    },
    #[error("containerlab {found} is too old: cnilab needs {oldest} or newer (its log layout; CI tests {tested}); upgrade with `containerlab version upgrade`")]
    ContainerlabTooOld {
        found: String,
        oldest: String,
        tested: String,
    },
    #[error("cannot {what} {}: {source}", .path.display())]
    State {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Teardown went on past each failure; these are all of them.
    #[error("destroy left things behind:\n  {}", lines(.errors))]
    Teardown { errors: Vec<TeardownError> },
    #[error("{cause}\nrolling back also failed:\n  {}", lines(.errors))]
    RollbackFailed {
        cause: Box<RuntimeError>,
        errors: Vec<TeardownError>,
    },
}

/// One thing a teardown could not remove. Teardown goes on past each of these, so a half-made
/// lab is removed as completely as possible, and reports them all.
#[derive(Debug, thiserror::Error)]
pub enum TeardownError {
    #[error("cannot unmount {}: {source}", .path.display())]
    Unmount {
        path: PathBuf,
        source: nix::errno::Errno,
    },
    #[error("cannot remove {}: {source}", .path.display())]
    RemoveFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("process {pid} in network namespace {namespace} did not end after SIGKILL")]
    ProcessLeft { pid: i32, namespace: String },
    #[error("cannot remove host bridge `{bridge}`: {stderr}")]
    HostBridge { bridge: String, stderr: String },
    #[error("cannot list the containers of lab `{lab}`: {detail}")]
    Containers { lab: String, detail: String },
    /// `containerlab destroy -t FILE` removes only the nodes FILE names now.
    #[error("containers of lab `{lab}` are left that `containerlab destroy -t FILE` does not remove (nodes no longer in the file?): {}; remove them with `docker rm -f {}`", .names.join(", "), .names.join(" "))]
    ContainersLeft { lab: String, names: Vec<String> },
    #[error("cannot remove containerlab's firewall rule for bridge `{bridge}`: {detail}")]
    Firewall { bridge: String, detail: String },
    /// A step of the teardown that failed the way a deploy step can, e.g. `containerlab
    /// destroy` exiting non-zero.
    #[error(transparent)]
    Step(Box<RuntimeError>),
}

impl From<RuntimeError> for TeardownError {
    fn from(e: RuntimeError) -> TeardownError {
        TeardownError::Step(Box::new(e))
    }
}

fn lines<E: std::fmt::Display>(errors: &[E]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

impl RuntimeError {
    /// 2: the environment or the input is wrong and nothing ran; 1: a deploy or destroy ran and
    /// failed; 130: stopped by Ctrl-C, as shells report it.
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::Topology(_)
            | RuntimeError::Unsupported { .. }
            | RuntimeError::Preflight { .. }
            | RuntimeError::AlreadyUp { .. }
            | RuntimeError::ContainerlabMissing
            | RuntimeError::ContainerlabTooOld { .. }
            | RuntimeError::RuntimeMismatch { .. } => 2,
            RuntimeError::Interrupted => 130,
            RuntimeError::RollbackFailed { cause, .. } => match cause.exit_code() {
                130 => 130,
                _ => 1,
            },
            _ => 1,
        }
    }
}
