//! Bringing a lab up and down. Two runtimes realise the same clab.yaml: the built-in one in
//! network namespaces, and containerlab itself. Both sit behind one small trait, chosen by a
//! match on [`RuntimeKind`].

mod containerlab;
mod error;
mod exec;
mod netns;
mod preflight;
mod process;
mod shape;
pub mod state;

pub use error::RuntimeError;
pub use shape::DEFAULT_LINK_MTU;

use crate::topology::Topology;
use serde::{Deserialize, Serialize};
use state::LabState;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Netns,
    Containerlab,
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuntimeKind::Netns => "netns",
            RuntimeKind::Containerlab => "containerlab",
        })
    }
}

/// How the netns runtime runs a node's exec lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecStrategy {
    /// Runs of consecutive `ip`/`bridge` lines go through one `ip -batch`/`bridge -batch`
    /// process each: the same parser, so the same meaning, without a process per line.
    #[default]
    Batched,
    /// One process per exec line, as containerlab does; the baseline for benchmarks.
    PerLine,
}

#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Show a progress bar on standard error.
    pub progress: bool,
    pub exec: ExecStrategy,
    /// How long one exec line (or one `ip -batch` of lines) may run before it is killed and
    /// the deploy fails.
    pub exec_timeout: std::time::Duration,
    /// Run exec lines as root on the host, in the node's network namespace only, instead of
    /// in the node's sandbox (netns runtime).
    pub exec_on_host: bool,
}

/// Generous: a line that takes this long is stuck, not slow.
pub const DEFAULT_EXEC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Default for DeployOptions {
    fn default() -> DeployOptions {
        DeployOptions {
            progress: false,
            exec: ExecStrategy::default(),
            exec_timeout: DEFAULT_EXEC_TIMEOUT,
            exec_on_host: false,
        }
    }
}

/// The file a command was given, read.
pub struct LabFile {
    pub path: PathBuf,
    pub topo: Topology,
}

impl LabFile {
    fn load(path: &Path) -> Result<LabFile, RuntimeError> {
        Ok(LabFile {
            path: path.to_path_buf(),
            topo: Topology::load(path)?,
        })
    }

    fn abs_path(&self) -> PathBuf {
        std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone())
    }

    /// A lab is up if cnilab recorded it, or if any of its namespaces exists already.
    fn ensure_not_up<'a>(
        &self,
        namespaces: impl Iterator<Item = &'a String>,
    ) -> Result<(), RuntimeError> {
        let up = |why: String| RuntimeError::AlreadyUp {
            lab: self.topo.name.clone(),
            file: self.path.clone(),
            why,
        };
        if let Some(s) = LabState::load(&self.topo.name)? {
            return Err(up(format!(
                "{} records it (deployed with the {} runtime from {})",
                state::path(&self.topo.name).display(),
                s.runtime,
                s.file.display()
            )));
        }
        for ns in namespaces {
            if crate::netns::exists(ns) {
                return Err(up(format!("network namespace `{ns}` already exists")));
            }
        }
        Ok(())
    }

    /// A state file that appeared between the check and its creation means a deploy raced us.
    fn already_up_or(&self, e: RuntimeError) -> RuntimeError {
        match e {
            RuntimeError::State { source, .. }
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                RuntimeError::AlreadyUp {
                    lab: self.topo.name.clone(),
                    file: self.path.clone(),
                    why: "another deploy of it is running or finished".into(),
                }
            }
            e => e,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Up,
    Missing,
}

impl NodeState {
    fn of(exists: bool) -> NodeState {
        if exists {
            NodeState::Up
        } else {
            NodeState::Missing
        }
    }
}

/// What every runtime does. Node namespaces follow containerlab's naming on both.
trait Runtime {
    fn deploy(&self, lab: &LabFile, opts: &DeployOptions) -> Result<(), RuntimeError>;
    /// `state` is what the deploy recorded, if anything.
    fn destroy(&self, lab: &LabFile, state: Option<&LabState>) -> Result<(), RuntimeError>;
    fn node_namespace(&self, lab: &LabFile, node: &str) -> String {
        lab.topo.namespace(node)
    }
    fn status(&self, lab: &LabFile, node: &str) -> NodeState;
}

fn runtime(kind: RuntimeKind) -> Box<dyn Runtime> {
    match kind {
        RuntimeKind::Netns => Box::new(netns::NetnsRuntime),
        RuntimeKind::Containerlab => Box::new(containerlab::ContainerlabRuntime),
    }
}

pub fn deploy(file: &Path, kind: RuntimeKind, opts: &DeployOptions) -> Result<(), RuntimeError> {
    let lab = LabFile::load(file)?;
    runtime(kind).deploy(&lab, opts)
}

/// `kind: None` means "whichever runtime deployed it" (netns if nothing was recorded). A lab
/// cnilab recorded is only ever destroyed by the runtime that made it: another one would not
/// know what to remove, yet would delete the record of it.
pub fn destroy(file: &Path, kind: Option<RuntimeKind>) -> Result<(), RuntimeError> {
    let lab = LabFile::load(file)?;
    let state = LabState::load(&lab.topo.name)?;
    let kind = match (&state, kind) {
        (Some(s), Some(asked)) if asked != s.runtime => {
            return Err(RuntimeError::RuntimeMismatch {
                lab: lab.topo.name.clone(),
                recorded: s.runtime,
                asked,
            })
        }
        (Some(s), _) => s.runtime,
        (None, asked) => asked.unwrap_or(RuntimeKind::Netns),
    };
    runtime(kind).destroy(&lab, state.as_ref())
}

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub lab: String,
    pub file: PathBuf,
    /// The runtime that deployed the lab, if cnilab deployed it.
    pub runtime: Option<RuntimeKind>,
    pub phase: Option<state::Phase>,
    pub nodes: Vec<NodeRow>,
}

#[derive(Debug, Serialize)]
pub struct NodeRow {
    pub node: String,
    pub kind: String,
    pub namespace: String,
    pub state: NodeState,
}

impl std::fmt::Display for Inspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let deployed = match (&self.runtime, &self.phase) {
            (Some(r), Some(state::Phase::Up)) => format!("up, {r} runtime"),
            (Some(r), _) => format!("deploying or crashed mid-deploy, {r} runtime"),
            _ => "not deployed by cnilab".into(),
        };
        writeln!(f, "lab {} ({deployed})", self.lab)?;
        let w = |get: fn(&NodeRow) -> &str, title: &str| {
            self.nodes
                .iter()
                .map(|n| get(n).len())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        };
        let (wn, wk, ws) = (
            w(|n| &n.node, "NODE"),
            w(|n| &n.kind, "KIND"),
            w(|n| &n.namespace, "NAMESPACE"),
        );
        writeln!(
            f,
            "{:wn$}  {:wk$}  {:ws$}  STATE",
            "NODE", "KIND", "NAMESPACE"
        )?;
        for n in &self.nodes {
            let st = match n.state {
                NodeState::Up => "up",
                NodeState::Missing => "missing",
            };
            writeln!(
                f,
                "{:wn$}  {:wk$}  {:ws$}  {st}",
                n.node, n.kind, n.namespace
            )?;
        }
        Ok(())
    }
}

pub fn inspect(file: &Path) -> Result<Inspection, RuntimeError> {
    let lab = LabFile::load(file)?;
    let state = LabState::load(&lab.topo.name)?;
    let rt = runtime(state.as_ref().map_or(RuntimeKind::Netns, |s| s.runtime));
    let nodes = lab
        .topo
        .nodes()
        .map(|(name, node)| NodeRow {
            node: name.to_string(),
            kind: node.kind.clone().unwrap_or_else(|| "?".into()),
            namespace: rt.node_namespace(&lab, name),
            state: rt.status(&lab, name),
        })
        .collect();
    Ok(Inspection {
        lab: lab.topo.name.clone(),
        file: file.to_path_buf(),
        runtime: state.as_ref().map(|s| s.runtime),
        phase: state.map(|s| s.phase),
        nodes,
    })
}
