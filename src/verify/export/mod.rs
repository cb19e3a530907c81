//! verify's report as files for other programs: a self-contained HTML page for a browser
//! (`--html`) and JUnit XML for CI test views (`--junit`). Both are pure: they turn a
//! [`Report`] and the lab it came from into a string; the CLI writes it.

pub mod escape;
#[cfg(test)]
mod fixture;
pub mod html;
pub mod junit;

use super::judge::PairVerdict;
use super::report::{CaptureSummary, PairRow, Report};
use crate::lab::Lab;
use std::path::{Path, PathBuf};

/// How a pair ended, as the files show it. A pair that passed only after a retry is told
/// apart from a clean pass, since a flaky path is worth a look even when it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    Fail,
    ExpectedFailure,
    Retry,
    Pass,
}

/// The words judge puts in a remark about a probe that needed more than one attempt.
/// Remarks are free text, so this is the one place that reads them.
const RETRY_REMARK: &str = "passed on retry";

impl Verdict {
    pub const ALL: [Verdict; 4] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::ExpectedFailure,
        Verdict::Retry,
    ];

    pub fn of(v: &PairVerdict) -> Verdict {
        if !v.passed() {
            Verdict::Fail
        } else if v.expected_failure.is_some() {
            Verdict::ExpectedFailure
        } else if v.remarks.iter().any(|r| r.contains(RETRY_REMARK)) {
            Verdict::Retry
        } else {
            Verdict::Pass
        }
    }

    /// The value of `data-verdict` and of the JSON's verdict names.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::ExpectedFailure => "xfail",
            Verdict::Retry => "retry",
        }
    }

    /// The words a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::ExpectedFailure => "failed as the lab expects",
            Verdict::Retry => "passed on retry",
        }
    }
}

/// The address family of a pair: the files group by it, so that each family gets its own
/// matrix and test suite.
pub use crate::family::Family;

/// The host a node belongs to: a pod's host, or a host itself.
pub fn host_of<'a>(lab: &'a Lab, node: &str) -> Option<&'a str> {
    if let Some(h) = lab.hosts.iter().find(|h| h.node == node) {
        return Some(&h.node);
    }
    let pod = lab.pods.iter().find(|p| p.node == node)?;
    lab.hosts
        .iter()
        .find(|h| h.index == pod.host)
        .map(|h| h.node.as_str())
}

/// The nodes a pair's packets are captured on: the source pod, its host, the destination's
/// host and the destination pod, each once.
pub fn pair_nodes<'a>(lab: &'a Lab, row: &'a PairRow) -> Vec<&'a str> {
    let mut nodes = vec![row.from.as_str()];
    nodes.extend(host_of(lab, &row.from));
    nodes.extend(host_of(lab, &row.to));
    nodes.push(row.to.as_str());
    // Only the two hosts can repeat (a same-host pair), and they stand side by side.
    nodes.dedup();
    nodes
}

/// The pcap files written for a pair's nodes (with `--pcap`), in the order of
/// [`pair_nodes`]: the files to open in Wireshark to see that pair.
pub fn pair_pcaps<'a>(report: &'a Report, lab: &Lab, row: &PairRow) -> Vec<&'a Path> {
    pair_nodes(lab, row)
        .into_iter()
        .flat_map(|node| report.captures.iter().filter(move |c| c.point.node == node))
        .filter_map(|c: &CaptureSummary| c.pcap.as_deref())
        .collect()
}

/// Where `--html` and `--junit` write, checked before any probing so that a bad path
/// wastes no run.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub html: Option<PathBuf>,
    pub junit: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("--html and --junit both name {path}; give each its own file")]
    Same { path: PathBuf },
    #[error("{flag} {path} is the lab's topology file; give the report a file of its own")]
    Topology { flag: &'static str, path: PathBuf },
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
}

impl Targets {
    /// Each target must be a regular file or nothing yet, in a folder that exists, and
    /// neither the topology file nor the other target: a report replaces what it names.
    pub fn check(&self, topology: &Path) -> Result<(), TargetError> {
        if let (Some(a), Some(b)) = (&self.html, &self.junit) {
            if same_file(a, b) {
                return Err(TargetError::Same { path: a.clone() });
            }
        }
        for (flag, path) in self.named() {
            if same_file(path, topology) {
                return Err(TargetError::Topology {
                    flag,
                    path: path.clone(),
                });
            }
            check_folder(path)?;
            crate::output::check_replaceable(path, true)?;
        }
        Ok(())
    }

    fn named(&self) -> impl Iterator<Item = (&'static str, &PathBuf)> {
        [("--html", &self.html), ("--junit", &self.junit)]
            .into_iter()
            .filter_map(|(flag, p)| p.as_ref().map(|p| (flag, p)))
    }
}

fn check_folder(path: &Path) -> Result<(), crate::output::OutputError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(crate::output::OutputError::NoFolder {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        })
    }
}

/// Two paths name one file: the same text, or the same file once both exist.
fn same_file(a: &Path, b: &Path) -> bool {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    if abs(a) == abs(b) {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
