//! The built-in runtime: one network namespace per node, veth pairs for links, exec lines run
//! inside the namespaces. All or nothing: a failure removes whatever was made.

mod configure;
mod links;
mod runner;
mod sandbox;
mod settle;
mod teardown;

pub use teardown::remove_namespaces;

use super::process::{self, Ran};
use super::shape::Shape;
use super::state::{LabState, Phase};
use super::{preflight, DeployOptions, LabFile, NodeState, Runtime, RuntimeError, RuntimeKind};
use crate::interrupt;

pub struct NetnsRuntime;

impl Runtime for NetnsRuntime {
    fn deploy(&self, lab: &LabFile, opts: &DeployOptions) -> Result<(), RuntimeError> {
        let shape = Shape::from_topology(&lab.topo, &lab.path)?;
        let problems = preflight::netns(&shape);
        if !problems.is_empty() {
            return Err(RuntimeError::Preflight { problems });
        }
        lab.ensure_not_up(shape.namespaces().iter())?;
        let mut state = LabState {
            lab: shape.lab.clone(),
            runtime: RuntimeKind::Netns,
            file: lab.abs_path(),
            phase: Phase::Deploying,
            namespaces: shape.namespaces(),
            bridges: Vec::new(),
        };
        // Recorded before anything exists: a crash from here on leaves a state file that
        // destroy can follow.
        state.create().map_err(|e| lab.already_up_or(e))?;
        let _at_risk = interrupt::AtRisk::new(format!(
            "lab `{}` may be left half-made, with processes its exec lines started; \
             remove it with `cnilab destroy -t {}`",
            shape.lab,
            lab.path.display()
        ));
        // A Ctrl-C kills the `ip` children too; whatever error that causes, it is an interrupt.
        let built = build(&shape, opts, lab).and_then(|()| check_interrupt());
        let built = match built {
            Err(_) if interrupt::requested() => Err(RuntimeError::Interrupted),
            other => other,
        };
        match built {
            Ok(()) => {
                state.phase = Phase::Up;
                match state.save() {
                    Ok(()) => Ok(()),
                    Err(e) => Err(rollback(&state, e)),
                }
            }
            Err(e) => Err(rollback(&state, e)),
        }
    }

    fn destroy(&self, lab: &LabFile, state: Option<&LabState>) -> Result<(), RuntimeError> {
        let Some(state) = state else {
            eprintln!(
                "cnilab: lab `{}` is not deployed by cnilab (no {}); nothing to destroy",
                lab.topo.name,
                super::state::path(&lab.topo.name).display()
            );
            return Ok(());
        };
        let errors = teardown(state);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RuntimeError::Teardown { errors })
        }
    }

    fn status(&self, lab: &LabFile, node: &str) -> NodeState {
        NodeState::of(crate::netns::exists(&self.node_namespace(lab, node)))
    }
}

fn build(shape: &Shape, opts: &DeployOptions, lab: &LabFile) -> Result<(), RuntimeError> {
    check_interrupt()?;
    batch(
        "creating the lab's network namespaces",
        links::namespaces(shape),
    )?;
    check_interrupt()?;
    batch("creating the lab's veth links", links::veths(shape))?;
    check_interrupt()?;
    let sandbox = match opts.exec_on_host {
        true => None,
        false => Some(sandbox_plan(lab)),
    };
    configure::configure(shape, opts, sandbox.as_ref())?;
    settle::wait_for_links(&shape.namespaces(), LINK_SETTLE_LIMIT);
    Ok(())
}

/// The sandbox's file system view: the lab's own folder, `clab-<lab>` beside the topology file
/// as containerlab names it, is the one host folder a node may write to, if it exists.
fn sandbox_plan(lab: &LabFile) -> sandbox::MountPlan {
    let file = lab.abs_path();
    let folder = file
        .parent()
        .map(|d| d.join(format!("clab-{}", lab.topo.name)))
        .filter(|d| d.is_dir());
    sandbox::MountPlan::new(folder.as_slice())
}

/// The kernel's link watcher runs at most once a second; a little more covers a busy machine.
const LINK_SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_millis(2500);

fn check_interrupt() -> Result<(), RuntimeError> {
    if interrupt::requested() {
        Err(RuntimeError::Interrupted)
    } else {
        Ok(())
    }
}

fn batch(step: &str, lines: Vec<String>) -> Result<(), RuntimeError> {
    if lines.is_empty() {
        return Ok(());
    }
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let ran: Ran = process::run(&process::strings(["ip", "-batch", "-"]), Some(input));
    if ran.ok() {
        return Ok(());
    }
    let (n, text) = super::exec::batch_failure(&ran.stderr);
    let detail = match n.and_then(|n| lines.get(n.wrapping_sub(1))) {
        Some(line) => format!("`ip {line}`: {text}"),
        None => ran.stderr,
    };
    Err(RuntimeError::Setup {
        step: step.to_string(),
        detail,
    })
}

/// Undoes a failed deploy; the deploy's own error stays the headline.
fn rollback(state: &LabState, cause: RuntimeError) -> RuntimeError {
    let errors = teardown(state);
    if errors.is_empty() {
        cause
    } else {
        RuntimeError::RollbackFailed {
            cause: Box::new(cause),
            errors,
        }
    }
}

/// Removes what `state` records; the record itself goes only once everything else is gone, so
/// a teardown that failed half-way can be run again.
fn teardown(state: &LabState) -> Vec<String> {
    let mut errors = remove_namespaces(&state.namespaces);
    if errors.is_empty() {
        errors.extend(LabState::remove(&state.lab).err());
    }
    errors
}
