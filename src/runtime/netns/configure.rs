//! Running every node's set-up and exec lines inside its namespace, nodes in parallel, lines
//! of one node in file order. The first failure (or Ctrl-C) stops the rest.

use super::links;
use crate::interrupt;
use crate::netns::NetnsGuard;
use crate::runtime::exec::{self, BatchLine, Origin, Step};
use crate::runtime::process;
use crate::runtime::shape::{Shape, ShapeNode};
use crate::runtime::{DeployOptions, RuntimeError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

pub fn configure(shape: &Shape, opts: &DeployOptions) -> Result<(), RuntimeError> {
    let plans: Vec<(&ShapeNode, Vec<Step>)> = shape
        .nodes
        .iter()
        .map(|n| (n, exec::plan(&links::prelude(n), &n.exec, opts.exec)))
        .collect();
    let bar = progress(opts.progress, plans.len() as u64);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<RuntimeError>> = Mutex::new(None);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(plans.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= plans.len() || stop.load(Ordering::SeqCst) {
                    return;
                }
                let (node, steps) = &plans[i];
                if let Err(e) = configure_node(node, steps) {
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

fn configure_node(node: &ShapeNode, steps: &[Step]) -> Result<(), RuntimeError> {
    // The guard keeps this worker thread inside the node's namespace for exactly this node;
    // children it starts are born there, and /proc/sys/net opened here is the node's.
    let _inside = NetnsGuard::enter(&node.namespace).map_err(|e| RuntimeError::Setup {
        step: format!("entering node `{}`", node.name),
        detail: e.to_string(),
    })?;
    for step in steps {
        if interrupt::requested() {
            return Err(RuntimeError::Interrupted);
        }
        run_step(node, step)?;
    }
    Ok(())
}

fn run_step(node: &ShapeNode, step: &Step) -> Result<(), RuntimeError> {
    let failed = |index: usize, code: Option<i32>, stderr: String| RuntimeError::ExecFailed {
        node: node.name.clone(),
        line: index + 1,
        command: node.exec[index].text.clone(),
        code,
        stderr,
    };
    match step {
        Step::Process { index, argv } => {
            let ran = process::run(argv, None);
            if ran.interrupted {
                return Err(RuntimeError::Interrupted);
            }
            if !ran.ok() {
                return Err(failed(*index, ran.code, ran.stderr));
            }
        }
        Step::Sysctl { index, settings } => {
            for (key, value) in settings {
                if let Err(stderr) = write_sysctl(key, value) {
                    // procps' sysctl exits 255 for a key it cannot set.
                    return Err(failed(*index, Some(255), stderr));
                }
            }
        }
        Step::Batch { tool, lines } => {
            let input: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
            let argv = process::strings([tool.program(), "-batch", "-"]);
            let ran = process::run(&argv, Some(input));
            if ran.interrupted {
                return Err(RuntimeError::Interrupted);
            }
            if !ran.ok() {
                let (n, text) = exec::batch_failure(&ran.stderr);
                let line: Option<&BatchLine> = n.and_then(|n| lines.get(n.wrapping_sub(1)));
                return Err(match line {
                    Some(BatchLine {
                        origin: Origin::Exec(i),
                        ..
                    }) => failed(*i, ran.code, text),
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
                });
            }
        }
    }
    Ok(())
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
