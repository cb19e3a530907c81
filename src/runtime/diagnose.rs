//! One reading of a lab's condition, shared by deploy, destroy, inspect and verify, so that no
//! two commands disagree about a lab, and each condition comes with the one command that gets
//! the user unstuck.

use super::state::{LabState, Phase};
use super::{RuntimeError, RuntimeKind};
use crate::topology::Topology;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "condition", rename_all = "kebab-case")]
pub enum Condition {
    /// No record and none of its namespaces: nothing of the lab exists.
    Absent,
    /// Recorded as up and every node is there.
    Up,
    /// Recorded as deploying, and the deploy that wrote the record still runs.
    DeployRunning { pid: i32 },
    /// Recorded as deploying, but the deploy that wrote the record has ended before it
    /// finished: killed, or crashed. A record that names no deploy (written before cnilab
    /// kept it) counts as this, since every deploy now names itself.
    DeployKilled { pid: Option<i32> },
    /// Recorded as up, but nodes have gone (deleted by hand, or a crash in teardown).
    Damaged { missing: Vec<String> },
    /// Namespaces with the lab's names that cnilab has no record of making: deployed by hand
    /// with containerlab, or left by something else.
    Unrecorded {
        present: Vec<String>,
        missing: Vec<String>,
    },
}

/// A lab's condition, and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub lab: String,
    /// The topology file, absolute, as hints name it.
    pub file: PathBuf,
    pub runtime: Option<RuntimeKind>,
    #[serde(flatten)]
    pub condition: Condition,
    /// How many node namespaces the lab has, and how many exist.
    pub nodes: usize,
    pub nodes_up: usize,
    /// The node namespaces the lab has when it is up.
    #[serde(skip)]
    pub expected: Vec<String>,
}

impl Diagnosis {
    /// The lab `topo` describes, as the machine has it now.
    pub fn of(topo: &Topology, file: &Path) -> Result<Diagnosis, RuntimeError> {
        let state = LabState::load(&topo.name)?;
        let runtime = state.as_ref().map(|s| s.runtime);
        let expected = match &state {
            Some(s) if !s.namespaces.is_empty() => s.namespaces.clone(),
            _ => container_namespaces(topo, runtime),
        };
        Ok(judge(&topo.name, absolute(file), state.as_ref(), expected))
    }

    /// A recorded lab, judged from its record and, where the record lists no namespaces
    /// (containerlab), from its file if that still describes it.
    pub fn of_record(state: &LabState) -> Diagnosis {
        let expected = if state.namespaces.is_empty() {
            Topology::load(&state.file)
                .ok()
                .filter(|t| t.name == state.lab)
                .map(|t| container_namespaces(&t, Some(state.runtime)))
                .unwrap_or_default()
        } else {
            state.namespaces.clone()
        };
        judge(&state.lab, state.file.clone(), Some(state), expected)
    }

    /// Every node is there, whoever made it: what verify needs.
    pub fn complete(&self) -> bool {
        match &self.condition {
            Condition::Up => true,
            Condition::Unrecorded { missing, .. } => missing.is_empty(),
            _ => false,
        }
    }

    /// A few words for the condition, as `inspect` shows it.
    pub fn summary(&self) -> String {
        let runtime = self
            .runtime
            .map_or(String::new(), |r| format!(", {r} runtime"));
        match &self.condition {
            Condition::Absent => "not deployed".into(),
            Condition::Up => format!("up{runtime}"),
            Condition::DeployRunning { pid } => format!("deploy running (pid {pid}){runtime}"),
            Condition::DeployKilled { pid } => {
                format!(
                    "deploy killed{} before it finished{runtime}",
                    pid_text(*pid)
                )
            }
            Condition::Damaged { missing } => format!(
                "damaged{runtime}: {} of {} node namespace(s) missing",
                missing.len(),
                self.nodes
            ),
            Condition::Unrecorded { present, .. } => format!(
                "not deployed by cnilab, yet {} of its namespace(s) exist",
                present.len()
            ),
        }
    }

    /// The condition in a sentence, with the command that gets out of it.
    pub fn explain(&self) -> String {
        let lab = &self.lab;
        let destroy = as_root(&format!("cnilab destroy -t {}", self.file.display()));
        let deploy = as_root(&format!("cnilab deploy -t {}", self.file.display()));
        match &self.condition {
            Condition::Absent => format!(
                "lab `{lab}` is not deployed: none of its {} namespace(s) exist ({}); run `{deploy}`",
                self.nodes,
                first_few(&self.expected)
            ),
            Condition::Up => format!(
                "lab `{lab}` is already up ({} runtime); tear it down with `{destroy}`",
                self.runtime.map_or("?".into(), |r| r.to_string())
            ),
            Condition::DeployRunning { pid } => format!(
                "lab `{lab}` is being deployed: the deploy that recorded it (pid {pid}) is \
                 still running; wait for it to finish"
            ),
            Condition::DeployKilled { pid } => format!(
                "lab `{lab}` was recorded mid-deploy, and that deploy{} was killed before it \
                 finished; remove what it left with `{destroy}`, then deploy again",
                pid_text(*pid)
            ),
            Condition::Damaged { missing } => format!(
                "lab `{lab}` is damaged: {} of its {} node namespace(s) are gone ({}); remove \
                 the rest with `{destroy}`, then deploy again",
                missing.len(),
                self.nodes,
                first_few(missing)
            ),
            Condition::Unrecorded { present, .. } => format!(
                "lab `{lab}` is already up, but cnilab has no record of deploying it (no {}): \
                 network namespace `{}` already exists{}; if containerlab made it, run `{}`; \
                 otherwise remove it with `{}`, or give the lab another name with --name",
                super::state::path(lab).display(),
                present[0],
                match present.len() {
                    1 => String::new(),
                    n => format!(", and {} more", n - 1),
                },
                as_root(&format!("containerlab destroy -t {}", self.file.display())),
                as_root("ip netns del NAME"),
            ),
        }
    }
}

fn judge(lab: &str, file: PathBuf, state: Option<&LabState>, expected: Vec<String>) -> Diagnosis {
    let (present, missing): (Vec<String>, Vec<String>) = expected
        .iter()
        .cloned()
        .partition(|ns| crate::sys::netns::exists(ns));
    let condition = match state {
        Some(s) if s.phase == Phase::Deploying => mid_deploy(s),
        Some(_) if missing.is_empty() => Condition::Up,
        Some(_) => Condition::Damaged {
            missing: missing.clone(),
        },
        None if present.is_empty() => Condition::Absent,
        None => Condition::Unrecorded {
            present: present.clone(),
            missing: missing.clone(),
        },
    };
    Diagnosis {
        lab: lab.to_string(),
        file,
        runtime: state.map(|s| s.runtime),
        condition,
        nodes: expected.len(),
        nodes_up: present.len(),
        expected,
    }
}

/// A record still saying `deploying`: whether the deploy that wrote it runs, by its PID and
/// start time, so that a process that reused the PID is not taken for it.
fn mid_deploy(state: &LabState) -> Condition {
    match state.deployer {
        Some(deployer) if deployer.alive() => Condition::DeployRunning { pid: deployer.pid },
        other => Condition::DeployKilled {
            pid: other.map(|d| d.pid),
        },
    }
}

fn pid_text(pid: Option<i32>) -> String {
    pid.map_or(String::new(), |pid| format!(" (pid {pid})"))
}

/// The namespaces a lab's nodes live in. The netns runtime makes one for every node;
/// containerlab (and a lab of unknown origin) only for containers, not bridges.
fn container_namespaces(topo: &Topology, runtime: Option<RuntimeKind>) -> Vec<String> {
    topo.nodes()
        .filter(|(_, n)| runtime == Some(RuntimeKind::Netns) || n.kind.as_deref() != Some("bridge"))
        .map(|(name, _)| topo.namespace(name))
        .collect()
}

fn first_few(names: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

/// Whether `containerlab` is on PATH: without it, no lab can be under containerlab.
pub fn containerlab_installed() -> bool {
    super::process::which("containerlab").is_some()
}

pub fn absolute(file: &Path) -> PathBuf {
    std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf())
}

/// A command as the user should type it: with `sudo` unless they are root without it.
pub fn as_root(command: &str) -> String {
    let plain_root = nix::unistd::geteuid().is_root() && std::env::var_os("SUDO_UID").is_none();
    if plain_root {
        command.to_string()
    } else {
        format!("sudo {command}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::pid::ProcessId;

    fn state(phase: Phase) -> LabState {
        LabState {
            lab: "l".into(),
            runtime: RuntimeKind::Netns,
            file: "/x/clab.yaml".into(),
            phase,
            namespaces: Vec::new(),
            bridges: Vec::new(),
            deployer: crate::sys::pid::ProcessId::this(),
        }
    }

    // Namespaces with these names never exist, so every expected one counts as missing.
    fn gone(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("cnilab-test-never-{i}")).collect()
    }

    #[test]
    fn each_condition_names_a_fix_that_matches_it() {
        let file = PathBuf::from("/x/clab.yaml");
        let absent = judge("l", file.clone(), None, gone(3));
        assert_eq!(absent.condition, Condition::Absent);
        assert!(absent.explain().contains("cnilab deploy -t /x/clab.yaml"));

        let running = judge("l", file.clone(), Some(&state(Phase::Deploying)), gone(3));
        let me = std::process::id() as i32;
        assert_eq!(running.condition, Condition::DeployRunning { pid: me });
        assert!(
            running.explain().contains("wait for it"),
            "{}",
            running.explain()
        );
        assert!(
            !running.explain().contains("destroy"),
            "{}",
            running.explain()
        );

        let mut killed = state(Phase::Deploying);
        // This process's PID with another start time: what a PID reused after a kill looks like.
        killed.deployer = killed.deployer.map(|d| ProcessId {
            start: d.start + 1,
            ..d
        });
        let killed = judge("l", file.clone(), Some(&killed), gone(3));
        assert_eq!(killed.condition, Condition::DeployKilled { pid: Some(me) });
        assert!(killed.summary().contains("killed"), "{}", killed.summary());
        assert!(killed.explain().contains("cnilab destroy -t /x/clab.yaml"));

        let damaged = judge("l", file, Some(&state(Phase::Up)), gone(4));
        assert!(
            matches!(damaged.condition, Condition::Damaged { ref missing } if missing.len() == 4)
        );
        assert!(
            damaged.explain().contains("4 of its 4"),
            "{}",
            damaged.explain()
        );
        assert!(
            damaged.explain().contains("and 1 more"),
            "{}",
            damaged.explain()
        );
        assert!(!damaged.complete());
    }
}
