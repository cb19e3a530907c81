//! A lab's life during a bench: generated, deployed on the netns runtime, measured, and
//! destroyed whatever happened in between (Ctrl-C included), or a lab the user brought.

use super::selection::Combo;
use super::{measure, BenchError, BenchOptions};
use crate::gen::{self, GenRequest};
use crate::lab::{file::LabFile, Lab};
use crate::runtime::{self, state::Phase, DeployOptions, RuntimeError, RuntimeKind};
use std::path::PathBuf;

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
        underlay: None,
        routing: Default::default(),
        direct_routing: false,
        cross_subnet: false,
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
    let lab_file = LabFile::load(&file)?;
    runtime::deploy(&lab_file, RuntimeKind::Netns, &deploy)?;
    let deployed = Deployed {
        file: file.clone(),
        name: name.clone(),
        done: false,
    };
    let measured = plan(&lab_file).and_then(|lab| measure::lab(lab, opts));
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
    file: &LabFile,
    opts: &BenchOptions,
) -> Result<super::report::ModeReport, BenchError> {
    let inspection = runtime::inspect(file)?;
    if inspection.phase != Some(Phase::Up) {
        return Err(BenchError::NotUp(file.path.clone()));
    }
    // Figures taken before the routing daemons agree would measure a lab half made.
    runtime::converge::wait_for_file(file, opts.converge_timeout)?;
    measure::lab(plan(file)?, opts)
}

fn plan(file: &LabFile) -> Result<&Lab, BenchError> {
    file.lab().map_err(|source| BenchError::Lab {
        file: file.path.clone(),
        source,
    })
}
