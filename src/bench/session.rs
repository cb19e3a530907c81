//! A lab's life during a bench: generated, deployed on the netns runtime, measured, and
//! destroyed whatever happened in between (Ctrl-C included), or a lab the user brought.

use super::selection::Combo;
use super::{measure, BenchError, BenchOptions};
use crate::gen::{self, GenRequest};
use crate::lab::Lab;
use crate::plan::Flavor;
use crate::runtime::{self, state::Phase, DeployOptions, RuntimeError, RuntimeKind};
use crate::topology::Topology;
use std::path::{Path, PathBuf};

/// Deploys a 2-host lab of `combo` with two pods per host (for the same-host baseline),
/// measures it, and destroys it.
pub fn bench_fresh(
    combo: Combo,
    opts: &BenchOptions,
) -> Result<super::report::ModeReport, BenchError> {
    let name = combo.lab_name(&opts.name_prefix);
    let text = gen::generate(&GenRequest {
        mode: combo.mode,
        flavor: combo.flavor,
        hosts: 2,
        pods_per_host: 2,
        lab: Some(&name),
        templates: None,
    })?;
    let dir = tempfile::tempdir().map_err(|source| BenchError::LabFile {
        path: std::env::temp_dir(),
        source,
    })?;
    let file = dir.path().join(format!("{name}.clab.yaml"));
    std::fs::write(&file, text).map_err(|source| BenchError::LabFile {
        path: file.clone(),
        source,
    })?;
    eprintln!("cnilab bench: {combo}: deploying lab {name}");
    let deploy = DeployOptions {
        progress: false,
        ..Default::default()
    };
    // A failed deploy rolls itself back; from here on the lab is ours to remove.
    runtime::deploy(&file, RuntimeKind::Netns, &deploy)?;
    let deployed = Deployed {
        file: file.clone(),
        name: name.clone(),
        done: false,
    };
    let measured = load(&file).and_then(|(lab, _)| measure::lab(&lab, combo, opts));
    match (measured, deployed.destroy()) {
        (Ok(report), Ok(())) => Ok(report),
        (Ok(_), Err(e)) => Err(e.into()),
        (Err(cause), Ok(())) => Err(cause),
        (Err(cause), Err(destroy)) => Err(BenchError::Cleanup {
            cause: Box::new(cause),
            lab: name,
            destroy: Box::new(destroy),
        }),
    }
}

/// A lab bench deployed; dropped without [`Deployed::destroy`] (a panic), it still goes.
struct Deployed {
    file: PathBuf,
    name: String,
    done: bool,
}

impl Deployed {
    fn destroy(mut self) -> Result<(), RuntimeError> {
        self.done = true;
        eprintln!("cnilab bench: destroying lab {}", self.name);
        runtime::destroy(&self.file, Some(RuntimeKind::Netns))
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = runtime::destroy(&self.file, Some(RuntimeKind::Netns)) {
                eprintln!("cnilab: destroying lab {} failed: {e}", self.name);
            }
        }
    }
}

/// Measures a lab the user deployed from `file`, and leaves it up.
pub fn bench_deployed(
    file: &Path,
    opts: &BenchOptions,
) -> Result<super::report::ModeReport, BenchError> {
    let inspection = runtime::inspect(file)?;
    if inspection.phase != Some(Phase::Up) {
        return Err(BenchError::NotUp(file.to_path_buf()));
    }
    let (lab, flavor) = load(file)?;
    let combo = Combo {
        mode: lab.mode(),
        flavor,
    };
    measure::lab(&lab, combo, opts)
}

/// The lab, and the flavor its nodes' `cnilab.flavor` label names (none: the article's).
fn load(file: &Path) -> Result<(Lab, Flavor), BenchError> {
    let topo = Topology::load(file)?;
    let bad = |source| BenchError::Lab {
        file: file.to_path_buf(),
        source,
    };
    let lab = Lab::from_topology(&topo).map_err(bad)?;
    let label = topo
        .nodes()
        .find_map(|(node, n)| Some((node, n.labels.get(LABEL_FLAVOR)?.to_string())));
    let flavor = match label {
        None => Flavor::default(),
        Some((node, value)) => value.parse().map_err(|e: crate::plan::PlanError| {
            bad(crate::lab::LabError::Bad {
                node: node.to_string(),
                label: LABEL_FLAVOR,
                value,
                why: e.to_string(),
            })
        })?,
    };
    Ok((lab, flavor))
}

const LABEL_FLAVOR: &str = "cnilab.flavor";
