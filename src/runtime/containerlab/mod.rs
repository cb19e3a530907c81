//! The containerlab runtime: containerlab does the work; cnilab adds what it lacks. It checks
//! the installed version, makes the host bridges containerlab expects to exist, loads the
//! kernel modules the lab needs, turns exec lines that containerlab only logs as failed into a
//! failed deploy, and destroys only what belongs to this lab. Paths in comments are in
//! srl-labs/containerlab unless said otherwise.

mod docker;
mod firewall;
mod log;
mod run;
mod version;

pub use log::ExecProblem;

use super::preflight;
use super::process::{self, which};
use super::state::{LabState, Phase};
use super::{
    DeployOptions, LabFile, Made, NodeState, Runtime, RuntimeError, RuntimeKind, TeardownError,
};
use crate::interrupt;
use crate::topology::{Endpoint, Topology};
use run::{containerlab, tail};
use std::path::{Path, PathBuf};

pub struct ContainerlabRuntime;

/// What preflight found that the build needs.
pub struct Plan {
    /// Host bridges the topology needs that do not exist yet: cnilab makes them.
    bridges: Vec<String>,
}

impl Runtime for ContainerlabRuntime {
    type Plan = Plan;
    const KIND: RuntimeKind = RuntimeKind::Containerlab;

    fn preflight(&self, lab: &LabFile) -> Result<Plan, RuntimeError> {
        preflight(lab)?;
        Ok(Plan {
            bridges: bridge_nodes(&lab.topo)
                .into_iter()
                // A bridge that is already there belongs to someone else: use it, never
                // remove it.
                .filter(|b| !root_link_exists(b))
                .collect(),
        })
    }

    /// Any container labelled with this lab, running or stopped, means it is up (perhaps
    /// deployed by hand): from 0.78 containerlab would reconcile it rather than fail, running
    /// exec lines only on the nodes it touches, and a rollback must not destroy it.
    fn found_up(&self, lab: &LabFile, _: &Plan) -> Result<Option<String>, RuntimeError> {
        let containers = docker::containers(&lab.topo.name)
            .map_err(|p| RuntimeError::Preflight { problems: vec![p] })?;
        if !containers.is_empty() {
            let list: Vec<String> = containers
                .iter()
                .map(|c| format!("{} ({})", c.name, c.state))
                .collect();
            return Ok(Some(format!(
                "docker has containers labelled containerlab={}: {}",
                lab.topo.name,
                list.join(", ")
            )));
        }
        Ok(lab
            .topo
            .nodes()
            .filter(|(_, node)| node.kind.as_deref() != Some("bridge"))
            .map(|(name, _)| lab.topo.namespace(name))
            .find(|ns| crate::sys::netns::exists(ns))
            .map(|ns| format!("network namespace `{ns}` already exists")))
    }

    fn will_make(&self, _: &LabFile, plan: &Plan) -> Made {
        Made {
            bridges: plan.bridges.clone(),
            ..Made::default()
        }
    }

    fn build(&self, lab: &LabFile, plan: &Plan, _: &DeployOptions) -> Result<(), RuntimeError> {
        create_bridges(&plan.bridges)?;
        let out = containerlab("deploy", &lab.path, false)?;
        if interrupt::requested() {
            return Err(RuntimeError::Interrupted);
        }
        if out.code != Some(0) {
            return Err(RuntimeError::ContainerlabFailed {
                action: "deploy",
                code: out.code,
                tail: tail(&out.lines, 10),
            });
        }
        let mut failures = log::exec_problems(&out.lines);
        failures.iter_mut().for_each(|f| number_line(f, &lab.topo));
        if !failures.is_empty() {
            return Err(RuntimeError::ContainerlabExecFailed { failures });
        }
        // containerlab returns once the last veth exists; the links may still be coming up, and
        // a node whose container is not running has no namespace to enter: that fails here.
        let namespaces: Vec<String> = lab
            .topo
            .nodes()
            .filter(|(_, n)| n.kind.as_deref() != Some("bridge"))
            .map(|(name, _)| lab.topo.namespace(name))
            .collect();
        super::netns::settle::wait_for_links(&namespaces, LINK_SETTLE_LIMIT)?;
        Ok(())
    }

    fn teardown(&self, lab: &LabFile, state: &LabState) -> Vec<TeardownError> {
        teardown(lab, state)
    }

    /// Deployed by hand with containerlab, or never deployed: destroy what is there, but
    /// touch no bridge.
    fn destroy_unrecorded(&self, lab: &LabFile) -> Result<(), RuntimeError> {
        let nothing = match docker::containers(&lab.topo.name) {
            Ok(c) => c.is_empty(),
            // Without docker no containerlab lab can be running here.
            Err(_) => true,
        };
        if nothing && !lab_dir(lab).exists() {
            eprintln!(
                "cnilab: lab `{}` is not deployed (no {}, no container labelled \
                 containerlab={}); nothing to destroy",
                lab.topo.name,
                super::state::path(&lab.topo.name).display(),
                lab.topo.name
            );
            return Ok(());
        }
        let state = LabState {
            lab: lab.topo.name.clone(),
            runtime: RuntimeKind::Containerlab,
            file: lab.abs_path(),
            phase: Phase::Up,
            namespaces: Vec::new(),
            bridges: Vec::new(),
            deployer: None,
        };
        match teardown(lab, &state) {
            errors if errors.is_empty() => Ok(()),
            errors => Err(RuntimeError::Teardown { errors }),
        }
    }

    fn status(&self, lab: &LabFile, node: &str) -> NodeState {
        if lab.topo.node(node).and_then(|n| n.kind.as_deref()) == Some("bridge") {
            return NodeState::of(root_link_exists(node));
        }
        let containers = docker::containers(&lab.topo.name).unwrap_or_default();
        match containers.iter().find(|c| c.node == node) {
            Some(c) if c.running() => NodeState::Up,
            Some(_) => NodeState::Stopped,
            None => NodeState::Missing,
        }
    }
}

/// Finds which of the node's exec lines a reported command is. containerlab logs the command
/// as its words joined by spaces (exec/exec.go, `GetCmdString`), quotes gone, so lines are
/// compared that way; a command two lines share names neither.
fn number_line(problem: &mut ExecProblem, topo: &Topology) {
    let (node, line, command) = match problem {
        ExecProblem::Failed {
            node,
            line,
            command,
            ..
        } => (node.clone(), line, command),
        ExecProblem::NotRun {
            container,
            line,
            command,
            ..
        } => match topo.nodes().find(|(n, _)| topo.namespace(n) == *container) {
            Some((node, _)) => (node.to_string(), line, command),
            None => return,
        },
        ExecProblem::Unsplittable { .. } => return,
    };
    let Some(exec) = topo.node(&node).map(|n| &n.exec) else {
        return;
    };
    let mut matches = exec
        .iter()
        .enumerate()
        .filter(|(_, text)| shlex::split(text).is_some_and(|words| words.join(" ") == *command));
    if let (Some((i, _)), None) = (matches.next(), matches.next()) {
        *line = Some(i + 1);
    }
}

/// As the netns runtime waits: the kernel's link watcher runs at most once a second.
const LINK_SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_millis(2500);

fn preflight(lab: &LabFile) -> Result<(), RuntimeError> {
    if let Some(p) = preflight::root_problem() {
        return Err(RuntimeError::Preflight { problems: vec![p] });
    }
    if which("containerlab").is_none() {
        return Err(RuntimeError::ContainerlabMissing);
    }
    version_check()?;
    let topo = &lab.topo;
    let mut problems = Vec::new();
    if which("docker").is_none() {
        problems.push(
            "`docker` is not on PATH; containerlab runs the nodes with it, and cnilab finds \
             a lab's containers with it"
                .into(),
        );
    }
    if !bridge_nodes(topo).is_empty() && which("ip").is_none() {
        problems.push("`ip` (iproute2) is not on PATH; it makes the lab's host bridges".into());
    }
    problems.extend(taken_bridge_ports(topo));
    problems.extend(super::wireguard::image_problems(topo));
    problems.extend(bridges_of_other_labs(topo));
    let lines = match preflight::split_exec_lines(topo) {
        Ok(lines) => lines,
        Err(unsplittable) => {
            problems.extend(unsplittable);
            Vec::new()
        }
    };
    for feature in preflight::features(lines.iter()) {
        // Containers share the host's kernel: the module must be loaded out here.
        let ran = process::run(&process::strings(["modprobe", feature.module()]), None);
        if !ran.ok() && !preflight::probe(feature) {
            problems.push(format!("{} ({})", feature.problem(), ran.stderr));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RuntimeError::Preflight { problems })
    }
}

/// Refuses containerlab older than [`version::OLDEST`], with one line naming both.
fn version_check() -> Result<(), RuntimeError> {
    let out = run::version()?;
    match version::parse(&out) {
        Some(found) if found < version::OLDEST => Err(RuntimeError::ContainerlabTooOld {
            found: found.to_string(),
            oldest: version::OLDEST.to_string(),
            tested: version::TESTED.to_string(),
        }),
        Some(_) => Ok(()),
        None => Err(RuntimeError::Preflight {
            problems: vec![format!(
                "cannot read a version from `containerlab version` (cnilab needs {} or newer); \
                 it printed: {}",
                version::OLDEST,
                out.trim()
            )],
        }),
    }
}

/// A bridge that another lab cnilab deployed made (and records) would join the two labs'
/// networks into one: refused.
fn bridges_of_other_labs(topo: &Topology) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(super::state::STATE_DIR) else {
        return Vec::new();
    };
    let ours = bridge_nodes(topo);
    let labs = entries.flatten().filter_map(|e| {
        let path = e.path();
        let lab = path.file_stem()?.to_str()?.to_string();
        (path.extension()? == "json" && lab != topo.name).then_some(lab)
    });
    labs.filter_map(|lab| LabState::load(&lab).ok().flatten())
        .flat_map(|other| {
            other
                .bridges
                .iter()
                .filter(|b| ours.contains(b))
                .map(|b| {
                    format!(
                        "bridge `{b}` belongs to lab `{}` (deployed by cnilab from {}); the two \
                         labs would share it: destroy that lab first or rename this lab's bridge",
                        other.lab,
                        other.file.display()
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The host-side ports of `kind: bridge` nodes live in the root namespace, named as the file
/// says (`switch:host1-eth1`): a second lab with the same port names would collide with the
/// first, so it is refused before anything is made.
fn taken_bridge_ports(topo: &Topology) -> Vec<String> {
    let bridges = bridge_nodes(topo);
    topo.topology
        .links
        .iter()
        .flat_map(|l| l.endpoints.iter())
        .filter_map(|e| Endpoint::parse(e))
        .filter(|e| bridges.contains(&e.node) && root_link_exists(&e.iface))
        .map(|e| {
            format!(
                "interface `{}` (a port of bridge `{}`) already exists in the root namespace, \
                 perhaps from another lab with the same bridge ports; destroy that lab first \
                 or give this one other port names",
                e.iface, e.node
            )
        })
        .collect()
}

fn bridge_nodes(topo: &Topology) -> Vec<String> {
    topo.nodes()
        .filter(|(_, n)| n.kind.as_deref() == Some("bridge"))
        .map(|(name, _)| name.to_string())
        .collect()
}

fn root_link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The one place cnilab touches the root namespace: containerlab requires `kind: bridge`
/// nodes to exist there before deploy.
fn create_bridges(bridges: &[String]) -> Result<(), RuntimeError> {
    if bridges.is_empty() {
        return Ok(());
    }
    let input: String = bridges
        .iter()
        .map(|b| format!("link add {b} type bridge\nlink set {b} up\n"))
        .collect();
    let ran = process::run(&process::strings(["ip", "-batch", "-"]), Some(input));
    if ran.ok() {
        Ok(())
    } else {
        Err(RuntimeError::Setup {
            step: format!("creating host bridge(s) {}", bridges.join(", ")),
            detail: super::exec::batch_failure(&ran.stderr).1,
        })
    }
}

/// The lab directory containerlab makes next to the topology file (types/topo_paths.go,
/// `SetLabDirByPrefix`; CLAB_LABDIR_BASE is scrubbed from its environment).
fn lab_dir(lab: &LabFile) -> PathBuf {
    let abs = lab.abs_path();
    abs.parent()
        .unwrap_or(Path::new("."))
        .join(format!("clab-{}", lab.topo.name))
}

/// containerlab destroy (only if it will find this lab's containers), then the lab's folder,
/// the firewall rules and the bridges this lab made; every failure is collected and the rest
/// still runs.
fn teardown(lab: &LabFile, state: &LabState) -> Vec<TeardownError> {
    let mut errors = Vec::new();
    match docker::containers(&lab.topo.name) {
        Ok(found) => {
            if found.iter().any(|c| named_in_file(lab, c)) {
                errors.extend(destroy_containers(lab));
            }
            match docker::containers(&lab.topo.name) {
                Ok(left) if left.is_empty() => errors.extend(remove_lab_dir(lab)),
                Ok(left) => errors.push(TeardownError::ContainersLeft {
                    lab: lab.topo.name.clone(),
                    names: left.into_iter().map(|c| c.name).collect(),
                }),
                Err(detail) => errors.push(TeardownError::Containers {
                    lab: lab.topo.name.clone(),
                    detail,
                }),
            }
        }
        Err(detail) => errors.push(TeardownError::Containers {
            lab: lab.topo.name.clone(),
            detail,
        }),
    }
    errors.extend(firewall::remove_bridge_rules(&state.bridges));
    for bridge in &state.bridges {
        if root_link_exists(bridge) {
            let ran = process::run(&process::strings(["ip", "link", "del", bridge]), None);
            if !ran.ok() {
                errors.push(TeardownError::HostBridge {
                    bridge: bridge.clone(),
                    stderr: ran.stderr,
                });
            }
        }
    }
    errors
}

/// Whether `containerlab destroy -t FILE` finds this container: it looks up the containers of
/// the nodes FILE names now, by their exact names (core/destroy.go, `Destroy` through
/// `ListNodesContainersIgnoreNotFound`). When it finds none, `--cleanup` removes the first
/// `clab-*` folder beside the file, whichever lab's it is (core/destroy.go, `destroyLabDirs`):
/// so containerlab runs only when it will find some, and cnilab removes the lab's own folder.
fn named_in_file(lab: &LabFile, container: &docker::Container) -> bool {
    lab.topo
        .nodes()
        .filter(|(_, node)| node.kind.as_deref() != Some("bridge"))
        .any(|(name, _)| lab.topo.namespace(name) == container.name)
}

/// `clab-<lab>` beside the file, if containerlab left it: only this lab's, by its name.
fn remove_lab_dir(lab: &LabFile) -> Option<TeardownError> {
    let dir = lab_dir(lab);
    if !dir.exists() {
        return None;
    }
    std::fs::remove_dir_all(&dir)
        .err()
        .map(|source| TeardownError::RemoveFile { path: dir, source })
}

/// `containerlab destroy --cleanup`: the containers of the nodes the file names now, and the
/// lab folder their labels name.
fn destroy_containers(lab: &LabFile) -> Option<TeardownError> {
    match containerlab("destroy", &lab.path, true) {
        Ok(out) if out.code == Some(0) => None,
        Ok(out) => Some(
            RuntimeError::ContainerlabFailed {
                action: "destroy",
                code: out.code,
                tail: tail(&out.lines, 5),
            }
            .into(),
        ),
        Err(e) => Some(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(node: &str, command: &str) -> ExecProblem {
        ExecProblem::Failed {
            node: node.into(),
            line: None,
            command: command.into(),
            rc: "1".into(),
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    #[test]
    fn a_logged_command_names_its_exec_line_quotes_and_all() {
        let topo = Topology::parse(
            "name: l\ntopology:\n  nodes:\n    a:\n      kind: linux\n      exec:\n        - true\n        - sh -c 'echo a  b'\n        - true\n",
        )
        .unwrap();
        let mut p = failed("a", "sh -c echo a  b");
        number_line(&mut p, &topo);
        assert!(
            p.to_string().contains("exec line 2 `sh -c echo a  b`"),
            "{p}"
        );
        // `true` is two lines: naming one would be a guess.
        let mut p = failed("a", "true");
        number_line(&mut p, &topo);
        assert!(!p.to_string().contains("exec line"), "{p}");
        let mut p = ExecProblem::NotRun {
            container: "clab-l-a".into(),
            line: None,
            command: "sh -c echo a  b".into(),
            error: "not running".into(),
        };
        number_line(&mut p, &topo);
        assert!(p.to_string().contains("exec line 2"), "{p}");
    }
}
