//! Running every node's set-up and exec lines inside its namespace, nodes in parallel, lines
//! of one node in file order. The first failure (or Ctrl-C) stops the rest.

use super::links;
use super::runner::Runner;
use super::sandbox::{MountPlan, Sandbox};
use crate::interrupt;
use crate::runtime::exec::{self, BatchLine, Origin, Step, Tool};
use crate::runtime::process::{self, Ran};
use crate::runtime::shape::{Shape, ShapeNode};
use crate::runtime::{DeployOptions, RuntimeError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// `sandbox`: each node's file system view (in the order of `shape.nodes`), or None to run
/// exec lines on the host.
pub fn configure(
    shape: &Shape,
    opts: &DeployOptions,
    sandbox: Option<&[MountPlan]>,
) -> Result<(), RuntimeError> {
    let nodes = &shape.nodes;
    let bar = progress(opts.progress, nodes.len() as u64);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<RuntimeError>> = Mutex::new(None);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(nodes.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= nodes.len() || stop.load(Ordering::SeqCst) {
                    return;
                }
                // Planned here, one node at a time: all nodes' steps at once would copy every
                // exec line of the lab, and each sandbox holder forked meanwhile would copy
                // the page tables of that memory too.
                let node = &nodes[i];
                let steps = exec::plan(&links::prelude(node), &node.exec, opts.exec);
                if let Err(e) = configure_node(node, &steps, opts, sandbox.map(|p| &p[i])) {
                    stop.store(true, Ordering::SeqCst);
                    let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert(e);
                    return;
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(_) if interrupt::requested() => Err(RuntimeError::Interrupted),
        Some(e) => Err(e),
        None if interrupt::requested() => Err(RuntimeError::Interrupted),
        None => Ok(()),
    }
}

fn progress(show: bool, len: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} {pos}/{len} {wide_bar}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("configuring nodes");
    bar
}

fn configure_node(
    node: &ShapeNode,
    steps: &[Step],
    opts: &DeployOptions,
    sandbox: Option<&MountPlan>,
) -> Result<(), RuntimeError> {
    // A thread of its own, which enters the node and never comes back: children it starts
    // are born inside, and /proc/sys/net opened here is the node's.
    std::thread::scope(|s| {
        s.spawn(|| {
            enter(node, sandbox)?;
            let runner = Runner::new(opts);
            for (i, step) in steps.iter().enumerate() {
                if interrupt::requested() {
                    return Err(RuntimeError::Interrupted);
                }
                run_step(node, step, &runner)
                    .map_err(|e| first_in_file_order(node, e, steps.get(i + 1), &runner))?;
            }
            Ok(())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn enter(node: &ShapeNode, sandbox: Option<&MountPlan>) -> Result<(), RuntimeError> {
    let setup = |what: &str, detail: String| RuntimeError::Setup {
        step: format!("{what} node `{}`", node.name),
        detail,
    };
    crate::sys::netns::enter_for_good(&node.namespace)
        .map_err(|e| setup("entering", e.to_string()))?;
    if let Some(plan) = sandbox {
        let sandbox =
            Sandbox::start(plan).map_err(|e| setup("starting the sandbox of", e.to_string()))?;
        sandbox
            .enter_for_good()
            .map_err(|e| setup("entering the sandbox of", e.to_string()))?;
    }
    Ok(())
}

/// `failed` as reported, unless a line before it in the file, which the plan moved after it,
/// fails too: that line is the one a run in file order would have stopped at.
fn first_in_file_order(
    node: &ShapeNode,
    failed: RuntimeError,
    next: Option<&Step>,
    runner: &Runner,
) -> RuntimeError {
    let RuntimeError::ExecFailed { line, .. } = &failed else {
        return failed;
    };
    match exec::moved_before(next, line - 1).map(|step| run_step(node, &step, runner)) {
        Some(Err(earlier @ RuntimeError::ExecFailed { .. })) => earlier,
        _ => failed,
    }
}

fn run_step(node: &ShapeNode, step: &Step, runner: &Runner) -> Result<(), RuntimeError> {
    let failed = |index: usize| {
        move |ran: Ran| match ran.timed_out {
            true => timed_out(node, (index, index), runner, ran.stderr),
            false => RuntimeError::ExecFailed {
                node: node.name.clone(),
                line: index + 1,
                command: node.exec[index].text.clone(),
                code: ran.code,
                stderr: ran.stderr,
            },
        }
    };
    match step {
        Step::Process { index, argv } => {
            check_ran(runner.run(argv, None), failed(*index))?;
        }
        Step::Sysctl { index, settings } => {
            for (key, value) in settings {
                if let Err(stderr) = write_sysctl(key, value) {
                    // procps' sysctl exits 255 for a key it cannot set.
                    let ran = Ran {
                        code: Some(255),
                        stderr,
                        ..Ran::default()
                    };
                    return Err(failed(*index)(ran));
                }
            }
        }
        Step::Batch { tool, lines } => {
            let input: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
            let argv = process::strings([tool.program(), "-batch", "-"]);
            let ran = runner.run(&argv, Some(input));
            check_ran(ran, |ran| batch_failed(node, *tool, lines, ran, runner))?;
        }
    }
    Ok(())
}

/// Ok if `ran` succeeded; an interrupt wins over whatever else `failed` would say.
fn check_ran(ran: Ran, failed: impl FnOnce(Ran) -> RuntimeError) -> Result<(), RuntimeError> {
    if ran.interrupted {
        Err(RuntimeError::Interrupted)
    } else if ran.ok() {
        Ok(())
    } else {
        Err(failed(ran))
    }
}

/// Exec lines `first..=last` (from 0) ran past the limit: one line, or one batch of them.
fn timed_out(
    node: &ShapeNode,
    (first, last): (usize, usize),
    runner: &Runner,
    stderr: String,
) -> RuntimeError {
    let lines = if first == last {
        (first + 1).to_string()
    } else {
        format!("{}-{} (one `-batch`)", first + 1, last + 1)
    };
    let command = node.exec[first].text.clone();
    RuntimeError::ExecTimedOut {
        node: node.name.clone(),
        lines,
        command,
        limit: runner.bounds.timeout.unwrap_or_default(),
        stderr,
    }
}

fn batch_failed(
    node: &ShapeNode,
    tool: Tool,
    lines: &[BatchLine],
    ran: Ran,
    runner: &Runner,
) -> RuntimeError {
    let execs: Vec<usize> = lines
        .iter()
        .filter_map(|l| match l.origin {
            Origin::Exec(i) => Some(i),
            Origin::Prelude => None,
        })
        .collect();
    if ran.timed_out {
        return match (execs.first(), execs.last()) {
            (Some(&a), Some(&b)) => timed_out(node, (a, b), runner, ran.stderr),
            _ => RuntimeError::Setup {
                step: format!("setting up the links of node `{}`", node.name),
                detail: "`ip -batch` did not finish in time and was killed".into(),
            },
        };
    }
    let (n, text) = exec::batch_failure(&ran.stderr);
    let failed_line: Option<&BatchLine> = n.and_then(|n| lines.get(n.wrapping_sub(1)));
    match failed_line {
        Some(BatchLine {
            origin: Origin::Exec(i),
            ..
        }) => RuntimeError::ExecFailed {
            node: node.name.clone(),
            line: i + 1,
            command: node.exec[*i].text.clone(),
            code: ran.code,
            stderr: text,
        },
        Some(BatchLine {
            origin: Origin::Prelude,
            text: l,
        }) => RuntimeError::Setup {
            step: format!("setting up the links of node `{}` (`ip {l}`)", node.name),
            detail: text,
        },
        None => RuntimeError::Setup {
            step: format!("`{} -batch` for node `{}`", tool.program(), node.name),
            detail: ran.stderr,
        },
    }
}

fn write_sysctl(key: &str, value: &str) -> Result<(), String> {
    let path = exec::sysctl_path(key);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| format!("sysctl: cannot stat {path}: {e}"))?;
    f.write_all(value.as_bytes())
        .map_err(|e| format!("sysctl: setting key \"{key}\": {e}"))
}
