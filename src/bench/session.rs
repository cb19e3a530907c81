//! A lab's life during a bench: generated, deployed on the netns runtime, measured, and
//! destroyed whatever happened in between (Ctrl-C included), or a lab the user brought.

use super::selection::Combo;
use super::{measure, BenchError, BenchOptions};
use crate::family::IpFamily;
use crate::gen::{self, GenRequest};
use crate::lab::{file::LabFile, Lab};
use crate::runtime::lock::{self, Patience, Scope};
use crate::runtime::watch::{Destroyed, Watch};
use crate::runtime::{self, state::Phase, DeployOptions, RuntimeError, RuntimeKind};
use std::path::PathBuf;

/// The 2-host lab of `combo` with two pods per host (for the same-host baseline), in the
/// families `ip_family` names, and the files it needs beside it (a sealed lab's keys).
pub fn generate(
    combo: Combo,
    name: &str,
    ip_family: IpFamily,
) -> Result<gen::Generated, BenchError> {
    Ok(gen::generate_all(&GenRequest {
        mode: combo.mode,
        flavor: combo.flavor,
        hosts: 2,
        pods_per_host: 2,
        lab: Some(name),
        underlay: None,
        routing: Default::default(),
        direct_routing: false,
        cross_subnet: false,
        encryption: combo.encryption,
        ip_family,
        templates: None,
        services: Default::default(),
    })?)
}

/// Refuses `combo` where this kernel lacks what its lab needs and nothing stands in for: IPIP
/// and ESP (wireguard-go stands in for the kernel's WireGuard, so that is no refusal).
pub fn check_kernel(combo: Combo, generated: &gen::Generated) -> Result<(), BenchError> {
    use crate::runtime::preflight::{self, Feature};
    let topo = crate::topology::Topology::parse(&generated.text).map_err(|problem| {
        BenchError::KernelLacks {
            combo: combo.label(),
            problem,
        }
    })?;
    let lines = preflight::split_exec_lines(&topo).unwrap_or_default();
    let missing = preflight::features(lines.iter())
        .into_iter()
        .filter(|f| matches!(f, Feature::Ipip | Feature::Xfrm))
        .find(|&f| !preflight::probe(f));
    match missing {
        Some(feature) => Err(BenchError::KernelLacks {
            combo: combo.label(),
            problem: feature.problem(),
        }),
        None => Ok(()),
    }
}

/// Deploys the lab of `combo` ([`generate`]), measures it, and destroys it.
pub fn bench_fresh(
    combo: Combo,
    opts: &BenchOptions,
) -> Result<super::report::ModeReport, BenchError> {
    let name = combo.lab_name(&opts.name_prefix);
    let generated = generate(combo, &name, opts.ip_family)?;
    let dir = tempfile::tempdir().map_err(|source| BenchError::LabFile {
        path: std::env::temp_dir(),
        source,
    })?;
    let file = dir.path().join(format!("{name}.clab.yaml"));
    std::fs::write(&file, &generated.text).map_err(|source| BenchError::LabFile {
        path: file.clone(),
        source,
    })?;
    let dest = gen::Destination::File {
        path: file.clone(),
        force: true,
    };
    gen::write_beside(&generated, &dest)?;
    eprintln!("cnilab bench: {combo}: deploying lab {name}");
    let deploy = DeployOptions {
        progress: false,
        ..Default::default()
    };
    // A failed deploy rolls itself back; from here on the lab is ours to remove.
    let lab_file = LabFile::load(&file)?;
    let life = hold(&name, Scope::Life)?;
    runtime::deploy(&lab_file, RuntimeKind::Netns, &deploy)?;
    drop(life);
    let deployed = Deployed {
        file: file.clone(),
        name: name.clone(),
        done: false,
    };
    let measured = plan(&lab_file).and_then(|lab| measure_held(lab, opts));
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
        // A destroy by hand of the same lab may be under way, or a verify of it: they go
        // first. Locks that cannot be had do not keep the lab from going.
        let life = hold(&self.name, Scope::Life).ok();
        let run = hold(&self.name, Scope::Run).ok();
        runtime::destroy(&self.file, Some(RuntimeKind::Netns))?;
        // The lab is gone, and its lock files with it.
        run.into_iter().chain(life).for_each(lock::LabLock::remove);
        Ok(())
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
    // A lab bench cannot measure is refused before anything about its state is asked.
    let lab = plan(file)?;
    let inspection = runtime::inspect(file)?;
    if inspection.phase != Some(Phase::Up) {
        return Err(BenchError::NotUp(file.path.clone()));
    }
    // Figures taken before the routing daemons agree would measure a lab half made.
    runtime::converge::wait_for_file(file, opts.converge_timeout)?;
    measure::lab(lab, opts)
}

/// Takes bench's own lab's lock of `scope`, waiting for a destroy of it by hand to finish.
fn hold(lab: &str, scope: Scope) -> Result<lock::LabLock, lock::LockError> {
    let waiting = |holder: &lock::Holder| {
        eprintln!("cnilab bench: waiting for {holder} on lab {lab}");
    };
    lock::take(lab, scope, "bench", Patience::Forever, &waiting)
}

/// Measures bench's own lab as verify probes one: holding its run lock, and watched, so that
/// a destroy of it by hand ends the measuring within seconds.
fn measure_held(lab: &Lab, opts: &BenchOptions) -> Result<super::report::ModeReport, BenchError> {
    let _run = hold(&lab.name, Scope::Run)?;
    let watch = Watch::start(&lab.name, lab.namespaces().map(String::from).collect());
    let measured = measure::lab(lab, opts);
    let gone = match &measured {
        Ok(_) => watch.gone(),
        Err(_) => watch.gone_now(),
    };
    match gone {
        true => Err(BenchError::Destroyed(Destroyed {
            lab: lab.name.clone(),
            doing: "benching",
            // Its file was bench's own, and is gone with it.
            deploy: None,
        })),
        false => measured,
    }
}

/// The lab in `file`, to be measured in each family it carries: IPv4, IPv6 or both.
fn plan(file: &LabFile) -> Result<&Lab, BenchError> {
    file.lab().map_err(|source| BenchError::Lab {
        file: file.path.clone(),
        source,
    })
}
