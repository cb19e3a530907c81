//! The containerlab runtime: containerlab does the work; cnilab adds what it lacks. It makes
//! the host bridges containerlab expects to exist, loads the kernel modules the lab needs, and
//! turns exec lines that containerlab only logs as failed into a failed deploy.

use super::preflight;
use super::process::{self, which};
use super::state::{LabState, Phase};
use super::{
    DeployOptions, LabFile, Made, NodeState, Runtime, RuntimeError, RuntimeKind, TeardownError,
};
use crate::interrupt;
use crate::topology::Topology;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// What containerlab logs for an exec line that failed (exec.ExecCollection.Log).
const EXEC_FAILED: &str = "Failed to execute command";

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
        preflight(&lab.topo)?;
        Ok(Plan {
            bridges: bridge_nodes(&lab.topo)
                .into_iter()
                // A bridge that is already there belongs to someone else: use it, never
                // remove it.
                .filter(|b| !root_link_exists(b))
                .collect(),
        })
    }

    /// containerlab links its nodes' namespaces under /run/netns too: one that exists means
    /// the lab is up, perhaps deployed by hand, and a rollback must not destroy it.
    fn found_up(&self, lab: &LabFile, _: &Plan) -> Result<Option<String>, RuntimeError> {
        Ok(lab
            .topo
            .nodes()
            .filter(|(_, node)| node.kind.as_deref() != Some("bridge"))
            .map(|(name, _)| lab.topo.namespace(name))
            .find(|ns| crate::netns::exists(ns))
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
        let out = containerlab("deploy", &lab.path)?;
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
        let failures = exec_failures(&out.lines);
        if !failures.is_empty() {
            return Err(RuntimeError::ContainerlabExecFailed { failures });
        }
        Ok(())
    }

    fn teardown(&self, lab: &LabFile, state: &LabState) -> Vec<TeardownError> {
        teardown(lab, state)
    }

    /// Deployed by hand with containerlab: destroy it, but touch no bridge.
    fn destroy_unrecorded(&self, lab: &LabFile) -> Result<(), RuntimeError> {
        let state = LabState {
            lab: lab.topo.name.clone(),
            runtime: RuntimeKind::Containerlab,
            file: lab.abs_path(),
            phase: Phase::Up,
            namespaces: Vec::new(),
            bridges: Vec::new(),
        };
        match teardown(lab, &state) {
            errors if errors.is_empty() => Ok(()),
            errors => Err(RuntimeError::Teardown { errors }),
        }
    }

    fn status(&self, lab: &LabFile, node: &str) -> NodeState {
        let bridge = lab.topo.node(node).and_then(|n| n.kind.as_deref()) == Some("bridge");
        NodeState::of(if bridge {
            root_link_exists(node)
        } else {
            crate::netns::exists(&self.node_namespace(lab, node))
        })
    }
}

fn preflight(topo: &Topology) -> Result<(), RuntimeError> {
    if let Some(p) = preflight::root_problem() {
        return Err(RuntimeError::Preflight { problems: vec![p] });
    }
    if which("containerlab").is_none() {
        return Err(RuntimeError::ContainerlabMissing);
    }
    let mut problems = Vec::new();
    if !bridge_nodes(topo).is_empty() && which("ip").is_none() {
        problems.push("`ip` (iproute2) is not on PATH; it makes the lab's host bridges".into());
    }
    let lines: Vec<_> = topo
        .nodes()
        .flat_map(|(_, n)| n.exec.iter())
        .filter_map(|t| {
            shlex::split(t).map(|argv| super::shape::ExecLine {
                text: t.clone(),
                argv,
            })
        })
        .collect();
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

/// containerlab destroy, then the bridges this lab made; every failure is collected and the
/// rest still runs.
fn teardown(lab: &LabFile, state: &LabState) -> Vec<TeardownError> {
    let mut errors = Vec::new();
    match containerlab("destroy", &lab.path) {
        Ok(out) if out.code == Some(0) => {}
        Ok(out) => errors.push(
            RuntimeError::ContainerlabFailed {
                action: "destroy",
                code: out.code,
                tail: tail(&out.lines, 5),
            }
            .into(),
        ),
        Err(e) => errors.push(e.into()),
    }
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

struct Output {
    code: Option<i32>,
    lines: Vec<String>,
}

/// Runs `containerlab ACTION -t FILE`, showing its output as it comes and keeping a copy.
fn containerlab(action: &'static str, file: &Path) -> Result<Output, RuntimeError> {
    if which("containerlab").is_none() {
        return Err(RuntimeError::ContainerlabMissing);
    }
    let mut args = vec![
        action.to_string(),
        "-t".to_string(),
        file.display().to_string(),
    ];
    if action == "destroy" {
        args.push("--cleanup".into());
    }
    let reader = duct::cmd("containerlab", &args)
        .stderr_to_stdout()
        .stdin_null()
        .unchecked()
        .reader()
        .map_err(|e| RuntimeError::Setup {
            step: format!("starting `containerlab {action}`"),
            detail: e.to_string(),
        })?;
    let mut lines = Vec::new();
    let mut buf = BufReader::new(&reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bytes, not read_line: one line that is not UTF-8 would end the loop early, and
        // dropping the reader then kills containerlab in the middle of its work.
        match buf.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                let l = String::from_utf8_lossy(&line).trim_end().to_string();
                eprintln!("{l}");
                lines.push(l);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let code = match reader.try_wait() {
        Ok(Some(out)) => out.status.code(),
        _ => None,
    };
    Ok(Output { code, lines })
}

fn tail(lines: &[String], n: usize) -> Vec<String> {
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// The exec lines containerlab logged as failed, each as "node `n`: `command` (rc N): stderr".
/// Newer containerlab logs logfmt fields; older versions a sentence: that is kept as it is.
pub fn exec_failures(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains(EXEC_FAILED))
        .map(|l| {
            let after = &l[l.find(EXEC_FAILED).expect("filtered") + EXEC_FAILED.len()..];
            let fields = logfmt(after);
            let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
            match (get("node"), get("command")) {
                (Some(node), Some(command)) => {
                    let mut s = format!("node `{node}`: `{command}`");
                    if let Some(rc) = get("rc") {
                        s.push_str(&format!(" (rc {rc})"));
                    }
                    if let Some(err) = get("stderr").filter(|e| !e.is_empty()) {
                        s.push_str(&format!(": {}", err.trim()));
                    }
                    s
                }
                _ => l.trim().to_string(),
            }
        })
        .collect()
}

/// `key=value key="quoted value"` pairs, as charmbracelet/log writes them.
fn logfmt(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .to_string();
        let after = &rest[eq + 1..];
        let (value, remaining) = if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(match n {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &q[end.min(q.len())..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.push((key, value));
        rest = remaining.trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_failed_exec_lines_from_the_log() {
        let lines = vec![
            "12:00:01 INFO Executed command node=clab-l-a command=\"ip link set lo up\" stdout=\"\"".to_string(),
            "12:00:01 ERRO Failed to execute command command=\"ip addr add 10.0.0.1/24 dev eth9\" node=clab-l-a rc=1 stdout=\"\" stderr=\"Cannot find device \\\"eth9\\\"\\n\"".to_string(),
            "ERRO[0003] Failed to execute command 'false' on the node 'clab-l-b'. rc=1".to_string(),
        ];
        let f = exec_failures(&lines);
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0],
            "node `clab-l-a`: `ip addr add 10.0.0.1/24 dev eth9` (rc 1): Cannot find device \"eth9\""
        );
        assert!(f[1].contains("'false' on the node 'clab-l-b'"), "{}", f[1]);
    }
}
