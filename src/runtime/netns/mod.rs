//! The built-in runtime: one network namespace per node, veth pairs for links, exec lines run
//! inside the namespaces. All or nothing: a failure removes whatever was made.

mod configure;
mod links;
mod runner;
mod sandbox;
pub(super) mod settle;
mod teardown;

pub use sandbox::{run_holder, HOLDER_ARG};
pub use teardown::remove_namespaces;

use super::process::{self, Ran};
use super::shape::Shape;
use super::state::LabState;
use super::wireguard::Implementation;
use super::{
    preflight, DeployOptions, LabFile, Made, NodeState, Runtime, RuntimeError, RuntimeKind,
    TeardownError,
};
use crate::interrupt;

pub struct NetnsRuntime;

impl Runtime for NetnsRuntime {
    type Plan = Shape;
    const KIND: RuntimeKind = RuntimeKind::Netns;

    fn preflight(&self, lab: &LabFile) -> Result<Shape, RuntimeError> {
        let mut shape = Shape::from_topology(&lab.topo, &lab.path)?;
        if let Some(used) = wireguard_in(&mut shape) {
            eprintln!(
                "cnilab: WireGuard devices of lab `{}` run in {}",
                lab.topo.name,
                used.describe()
            );
        }
        let problems = preflight::netns(&shape);
        if !problems.is_empty() {
            return Err(RuntimeError::Preflight { problems });
        }
        Ok(shape)
    }

    fn found_up(&self, _lab: &LabFile, shape: &Shape) -> Result<Option<String>, RuntimeError> {
        Ok(shape
            .namespaces()
            .into_iter()
            .find(|ns| crate::sys::netns::exists(ns))
            .map(|ns| format!("network namespace `{ns}` already exists")))
    }

    fn will_make(&self, _lab: &LabFile, shape: &Shape) -> Made {
        Made {
            namespaces: shape.namespaces(),
            ..Made::default()
        }
    }

    fn build(
        &self,
        lab: &LabFile,
        shape: &Shape,
        opts: &DeployOptions,
    ) -> Result<(), RuntimeError> {
        // Rollback follows the build at once; a second signal meanwhile leaves what it says.
        let _at_risk = interrupt::AtRisk::new(format!(
            "lab `{}` may be left half-made, with processes its exec lines started; \
             remove it with `cnilab destroy -t {}`",
            lab.topo.name,
            lab.path.display()
        ));
        build(shape, opts, lab)
    }

    fn teardown(&self, lab: &LabFile, state: &LabState) -> Vec<TeardownError> {
        let mut problems = remove_namespaces(&state.namespaces);
        // The processes are gone now; what wireguard-go leaves is its sockets.
        if let Ok(shape) = Shape::from_topology(&lab.topo, &lab.path) {
            problems.extend(super::wireguard::remove_sockets(&shape));
        }
        problems
    }

    fn destroy_unrecorded(&self, lab: &LabFile) -> Result<(), RuntimeError> {
        eprintln!(
            "cnilab: lab `{}` is not deployed by cnilab (no {}); nothing to destroy",
            lab.topo.name,
            super::state::path(&lab.topo.name).display()
        );
        Ok(())
    }

    fn status(&self, lab: &LabFile, node: &str) -> NodeState {
        NodeState::of(crate::sys::netns::exists(&self.node_namespace(lab, node)))
    }
}

/// Which WireGuard the lab's devices will be, if it has any: the kernel's where this kernel
/// can make such a device, wireguard-go otherwise (the lines are rewritten for it).
fn wireguard_in(shape: &mut Shape) -> Option<Implementation> {
    let wants = preflight::features(shape.exec_lines()).contains(&preflight::Feature::Wireguard);
    if !wants || preflight::root_problem().is_some() {
        return None;
    }
    if preflight::probe(preflight::Feature::Wireguard) {
        return Some(Implementation::Kernel);
    }
    super::wireguard::to_userspace(shape);
    Some(Implementation::Userspace)
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
        false => Some(sandbox_plans(lab, shape)),
    };
    configure::configure(shape, opts, sandbox.as_deref())?;
    settle::wait_for_links(&shape.namespaces(), LINK_SETTLE_LIMIT)?;
    Ok(())
}

/// Each node's file system view: the lab's own folder, `clab-<lab>` beside the topology file
/// as containerlab names it, is the one host folder a node may write to, if it exists; and
/// the node's own `binds:`.
fn sandbox_plans(lab: &LabFile, shape: &Shape) -> Vec<sandbox::MountPlan> {
    let file = lab.abs_path();
    let folder = file
        .parent()
        .map(|d| d.join(format!("clab-{}", lab.topo.name)))
        .filter(|d| d.is_dir());
    shape
        .nodes
        .iter()
        .map(|n| sandbox::MountPlan::new(folder.as_slice(), &n.binds))
        .collect()
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
    let ran: Ran = process::run_tied(&process::strings(["ip", "-batch", "-"]), Some(input));
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
