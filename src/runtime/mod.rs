//! Bringing a lab up and down. Two runtimes realise the same clab.yaml: the built-in one in
//! network namespaces, and containerlab itself. Both sit behind one small trait, chosen by a
//! match on [`RuntimeKind`].

mod containerlab;
pub mod converge;
pub mod diagnose;
mod error;
mod exec;
pub mod lock;
mod netns;
pub mod preflight;
mod process;
mod shape;
pub mod state;
mod transaction;
pub mod watch;
pub mod wireguard;

pub use error::{RuntimeError, TeardownError};
/// For the CLI's hidden entry: cnilab as a netns node's holder process.
pub use netns::{run_holder as run_node_holder, HOLDER_ARG as NODE_HOLDER_ARG};
pub use shape::DEFAULT_LINK_MTU;

pub use crate::lab::file::LabFile;
use crate::topology::Topology;
use diagnose::Condition;
use serde::{Deserialize, Serialize};
use state::LabState;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// Built in: network namespaces and veths, needs only root and iproute2.
    Netns,
    /// Runs the real `containerlab` (Docker and the nicolaka/netshoot image).
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
    /// `ip route`/`ip neigh` and `bridge fdb` lines, which touch separate tables, batch
    /// across each other.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Up,
    /// Its container exists but is not running (containerlab runtime).
    Stopped,
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

/// What a deploy will make, recorded before any of it exists.
#[derive(Debug, Default)]
struct Made {
    /// Namespaces under /run/netns (netns runtime).
    namespaces: Vec<String>,
    /// Bridges in the root namespace (containerlab runtime).
    bridges: Vec<String>,
}

/// One runtime's own steps. The sequence that joins them (preflight, already-up check, record,
/// build, then commit or roll back) is [`transaction`]'s, the same for every runtime. Node
/// namespaces follow containerlab's naming on both.
trait Runtime {
    /// What preflight learned that the build needs.
    type Plan;
    const KIND: RuntimeKind;
    /// Checks made before anything is created.
    fn preflight(&self, lab: &LabFile) -> Result<Self::Plan, RuntimeError>;
    /// Signs, besides cnilab's own record, that the lab is up already: why, if so.
    fn found_up(&self, lab: &LabFile, plan: &Self::Plan) -> Result<Option<String>, RuntimeError>;
    fn will_make(&self, lab: &LabFile, plan: &Self::Plan) -> Made;
    fn build(
        &self,
        lab: &LabFile,
        plan: &Self::Plan,
        opts: &DeployOptions,
    ) -> Result<(), RuntimeError>;
    /// Removes what `state` records, going on past each failure. The record itself is the
    /// transaction's to remove.
    fn teardown(&self, lab: &LabFile, state: &LabState) -> Vec<TeardownError>;
    /// Destroys a lab cnilab has no record of.
    fn destroy_unrecorded(&self, lab: &LabFile) -> Result<(), RuntimeError>;
    fn node_namespace(&self, lab: &LabFile, node: &str) -> String {
        lab.topo.namespace(node)
    }
    fn status(&self, lab: &LabFile, node: &str) -> NodeState;
}

pub fn deploy(lab: &LabFile, kind: RuntimeKind, opts: &DeployOptions) -> Result<(), RuntimeError> {
    restore_generated(lab)?;
    match kind {
        RuntimeKind::Netns => transaction::deploy(&netns::NetnsRuntime, lab, opts),
        RuntimeKind::Containerlab => {
            transaction::deploy(&containerlab::ContainerlabRuntime, lab, opts)
        }
    }
}

/// The files cnilab generated beside the topology (BIRD configs) must exist before either
/// runtime binds them: one that went missing is written again, and said so.
fn restore_generated(lab: &LabFile) -> Result<(), RuntimeError> {
    let restored = crate::gen::restore_missing(lab).map_err(|e| RuntimeError::Setup {
        step: "writing the lab's generated files again".into(),
        detail: e.to_string(),
    })?;
    for path in restored {
        eprintln!(
            "cnilab: {} was missing; wrote it again from the file's labels",
            path.display()
        );
    }
    Ok(())
}

/// `kind: None` means "whichever runtime deployed it" (netns if nothing was recorded). A lab
/// cnilab recorded is only ever destroyed by the runtime that made it: another one would not
/// know what to remove, yet would delete the record of it.
pub fn destroy(file: &Path, kind: Option<RuntimeKind>) -> Result<(), RuntimeError> {
    destroy_loaded(&LabFile::load(file)?, kind)
}

/// [`destroy`] for a caller that has read the file already.
pub fn destroy_loaded(lab: &LabFile, kind: Option<RuntimeKind>) -> Result<(), RuntimeError> {
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
    match kind {
        RuntimeKind::Netns => destroy_with(&netns::NetnsRuntime, lab, state.as_ref()),
        RuntimeKind::Containerlab => {
            destroy_with(&containerlab::ContainerlabRuntime, lab, state.as_ref())
        }
    }
}

fn destroy_with<R: Runtime>(
    rt: &R,
    lab: &LabFile,
    state: Option<&LabState>,
) -> Result<(), RuntimeError> {
    match state {
        Some(state) => transaction::destroy(rt, lab, state),
        None => rt.destroy_unrecorded(lab),
    }
}

/// Destroys a lab from cnilab's record alone, for a lab whose file is gone or now describes
/// another lab. The netns runtime needs nothing else; containerlab needs the file.
pub fn destroy_recorded(state: &LabState) -> Result<(), RuntimeError> {
    let described = Topology::load(&state.file)
        .ok()
        .filter(|t| t.name == state.lab);
    let topo = match (described, state.runtime) {
        (Some(topo), _) => topo,
        (None, RuntimeKind::Netns) => Topology::named(&state.lab),
        (None, RuntimeKind::Containerlab) => {
            return Err(RuntimeError::Unsupported {
                file: state.file.clone(),
                what: format!(
                    "no longer describes lab `{}`, and containerlab needs it to destroy the \
                     lab; run `containerlab destroy --name {}`",
                    state.lab, state.lab
                ),
            })
        }
    };
    let lab = LabFile::new(&state.file, topo);
    match state.runtime {
        RuntimeKind::Netns => destroy_with(&netns::NetnsRuntime, &lab, Some(state)),
        RuntimeKind::Containerlab => {
            destroy_with(&containerlab::ContainerlabRuntime, &lab, Some(state))
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub lab: String,
    pub file: PathBuf,
    /// The runtime that deployed the lab, if cnilab deployed it.
    pub runtime: Option<RuntimeKind>,
    pub phase: Option<state::Phase>,
    /// The condition every command agrees on, in words.
    pub condition: String,
    /// For a lab stuck mid-deploy or damaged: the condition in a sentence, with the one
    /// command that fits (wait, or destroy).
    pub next: Option<String>,
    pub nodes: Vec<NodeRow>,
}

#[derive(Debug, Serialize)]
pub struct NodeRow {
    pub node: String,
    pub kind: String,
    /// `cnilab.role`: host, pod, router or switch, for a file cnilab wrote.
    pub role: Option<String>,
    /// The node's addresses and pod subnet, as its labels state them.
    pub addresses: Vec<String>,
    pub namespace: String,
    pub state: NodeState,
}

impl NodeRow {
    fn role_or_kind(&self) -> &str {
        self.role.as_deref().unwrap_or(&self.kind)
    }
}

impl std::fmt::Display for Inspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "lab {} ({})", self.lab, self.condition)?;
        if let Some(next) = &self.next {
            writeln!(f, "{next}")?;
        }
        let w = |get: &dyn Fn(&NodeRow) -> &str, title: &str| {
            self.nodes
                .iter()
                .map(|n| get(n).len())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        };
        let (wn, wr, ws) = (
            w(&|n| &n.node, "NODE"),
            w(&|n| n.role_or_kind(), "ROLE"),
            w(&|n| &n.namespace, "NAMESPACE"),
        );
        writeln!(
            f,
            "{:wn$}  {:wr$}  {:ws$}  STATE    ADDRESSES",
            "NODE", "ROLE", "NAMESPACE"
        )?;
        for n in &self.nodes {
            let st = match n.state {
                NodeState::Up => "up",
                NodeState::Stopped => "stopped",
                NodeState::Missing => "missing",
            };
            let line = format!(
                "{:wn$}  {:wr$}  {:ws$}  {st:7}  {}",
                n.node,
                n.role_or_kind(),
                n.namespace,
                n.addresses.join(" ")
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// The labels that state a node's addresses, in the order a reader wants them: IPv4 first,
/// then IPv6 (an ipv6 lab has only the second, a dual one both).
const ADDRESS_LABELS: [(&str, &str); 6] = [
    (crate::lab::LABEL_UNDERLAY_IP, ""),
    (crate::lab::LABEL_POD_IP, ""),
    (crate::lab::LABEL_POD_SUBNET, "pods "),
    (crate::lab::LABEL_UNDERLAY_IP6, ""),
    (crate::lab::LABEL_POD_IP6, ""),
    (crate::lab::LABEL_POD_SUBNET6, "pods "),
];

pub fn inspect(lab: &LabFile) -> Result<Inspection, RuntimeError> {
    let state = LabState::load(&lab.topo.name)?;
    let diagnosis = diagnose::Diagnosis::of(&lab.topo, &lab.path)?;
    let nodes = match state.as_ref().map_or(RuntimeKind::Netns, |s| s.runtime) {
        RuntimeKind::Netns => node_rows(&netns::NetnsRuntime, lab),
        RuntimeKind::Containerlab => node_rows(&containerlab::ContainerlabRuntime, lab),
    };
    Ok(Inspection {
        lab: lab.topo.name.clone(),
        file: diagnosis.file.clone(),
        runtime: state.as_ref().map(|s| s.runtime),
        phase: state.map(|s| s.phase),
        condition: diagnosis.summary(),
        next: match diagnosis.condition {
            Condition::DeployRunning { .. }
            | Condition::DeployKilled { .. }
            | Condition::Damaged { .. } => Some(diagnosis.explain()),
            _ => None,
        },
        nodes,
    })
}

fn node_rows<R: Runtime>(rt: &R, lab: &LabFile) -> Vec<NodeRow> {
    lab.labelled_topo()
        .nodes()
        .map(|(name, node)| NodeRow {
            node: name.to_string(),
            kind: node.kind.clone().unwrap_or_else(|| "?".into()),
            role: node
                .labels
                .get(crate::lab::LABEL_ROLE)
                .map(|v| v.to_string()),
            addresses: ADDRESS_LABELS
                .iter()
                .filter_map(|(label, tag)| node.labels.get(*label).map(|v| format!("{tag}{v}")))
                .collect(),
            namespace: rt.node_namespace(lab, name),
            state: rt.status(lab, name),
        })
        .collect()
}
