//! `cnilab bench`: what each data plane costs, measured side by side on labs it deploys and
//! destroys itself, against baselines measured in the same labs in the same run.

pub mod cost;
mod iperf;
mod measure;
pub mod offload;
pub mod overhead;
pub mod plot;
pub mod report;
pub mod rtt;
pub mod selection;
mod session;
pub mod stats;

pub use iperf::INSTALL_IPERF3;
pub use report::Report;

use selection::Combo;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The labs to deploy, each a mode and a flavor ([`selection::select`] checks them).
    pub combos: Vec<Combo>,
    /// The families bench's own labs carry: IPv4, or both (each path measured in each).
    pub ip_family: crate::family::IpFamily,
    /// Bench this lab, already deployed, instead of deploying one per combo.
    pub topo: Option<PathBuf>,
    /// Labs are named `<prefix>-<mode>`, with `-<flavor>` for any flavor but the article's.
    pub name_prefix: String,
    pub duration_s: u32,
    pub repeat: u32,
    pub streams: u32,
    /// Leave checksum and segmentation offloads as the kernel set them.
    pub offload: bool,
    /// How long a BGP lab brought with `topo` gets to converge before it is measured.
    pub converge_timeout: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A tool is not installed; the text says how to install it.
    #[error("{0}")]
    Missing(&'static str),
    #[error(transparent)]
    Combos(#[from] selection::InvalidCombos),
    #[error(transparent)]
    Gen(#[from] crate::gen::GenError),
    #[error(transparent)]
    Runtime(Box<crate::runtime::RuntimeError>),
    #[error(transparent)]
    Topology(#[from] crate::topology::TopologyError),
    #[error("{file}: {source}")]
    Lab {
        file: PathBuf,
        source: crate::lab::LabError,
    },
    #[error("cannot bench {combo} here: {problem}")]
    KernelLacks { combo: String, problem: String },
    #[error("cannot bench lab `{lab}`: {why}")]
    Unbenchable { lab: String, why: String },
    #[error("lab in {} is not up; deploy it first with `cnilab deploy -t {}`", .0.display(), .0.display())]
    NotUp(PathBuf),
    #[error(transparent)]
    Netns(#[from] crate::sys::netns::NetnsError),
    #[error("{what} failed: {detail}")]
    Tool { what: String, detail: String },
    #[error("overhead capture failed: {0}")]
    Capture(String),
    #[error("cannot write the plot {}: {detail}", .path.display())]
    Plot { path: PathBuf, detail: String },
    #[error("cannot write the lab file {}: {source}", .path.display())]
    LabFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    NotConverged(#[from] crate::runtime::converge::NotConverged),
    #[error(transparent)]
    Lock(#[from] crate::runtime::lock::LockError),
    #[error(transparent)]
    Destroyed(#[from] crate::runtime::watch::Destroyed),
    #[error("{cause}\nand destroying lab {lab} failed too: {destroy}")]
    Cleanup {
        cause: Box<BenchError>,
        lab: String,
        destroy: Box<crate::runtime::RuntimeError>,
    },
}

/// Boxed: a runtime error is large, and every bench function returns this type.
impl From<crate::runtime::RuntimeError> for BenchError {
    fn from(e: crate::runtime::RuntimeError) -> Self {
        BenchError::Runtime(Box::new(e))
    }
}

impl BenchError {
    /// 2: environment or input; 130: Ctrl-C; 1: a measurement failed on a lab that is up.
    pub fn exit_code(&self) -> i32 {
        match self {
            BenchError::Missing(_)
            | BenchError::Combos(_)
            | BenchError::Gen(_)
            | BenchError::Topology(_)
            | BenchError::Lab { .. }
            | BenchError::NotUp(_)
            | BenchError::Unbenchable { .. }
            | BenchError::KernelLacks { .. }
            | BenchError::Plot { .. }
            | BenchError::LabFile { .. } => 2,
            BenchError::Runtime(e) => e.exit_code(),
            BenchError::Interrupted => 130,
            BenchError::Lock(e) => e.exit_code(),
            BenchError::Destroyed(_) => 2,
            BenchError::Cleanup { cause, .. } => cause.exit_code(),
            BenchError::Netns(_)
            | BenchError::Tool { .. }
            | BenchError::Capture(_)
            | BenchError::NotConverged(_) => 1,
        }
    }
}

/// A Ctrl-C kills the tools bench runs; whatever error that caused, it is an interrupt.
fn check_interrupt() -> Result<(), BenchError> {
    if crate::interrupt::requested() {
        Err(BenchError::Interrupted)
    } else {
        Ok(())
    }
}

/// Runs the whole bench. Every lab it deploys is destroyed before it returns, error or not.
pub fn run(opts: &BenchOptions) -> Result<Report, BenchError> {
    run_all(opts).map_err(interrupted_if_requested)
}

/// A Ctrl-C reaches the tools before cnilab's own handler has raised the flag, so a tool can
/// fail of it first; once the labs are destroyed the flag is up, and the run was interrupted.
fn interrupted_if_requested(e: BenchError) -> BenchError {
    match e {
        BenchError::Tool { .. } | BenchError::Capture(_) if crate::interrupt::requested() => {
            BenchError::Interrupted
        }
        e => e,
    }
}

fn run_all(opts: &BenchOptions) -> Result<Report, BenchError> {
    iperf::check_installed()?;
    offload::check_installed()?;
    let modes = match &opts.topo {
        Some(file) => {
            let file = crate::lab::file::LabFile::load(file)?;
            vec![session::bench_deployed(&file, opts)?]
        }
        None => {
            // A lab that cannot be built, or not on this kernel, is refused before the first
            // one is measured.
            for &combo in &opts.combos {
                let name = combo.lab_name(&opts.name_prefix);
                let generated = session::generate(combo, &name, opts.ip_family)?;
                session::check_kernel(combo, &generated)?;
            }
            let mut modes = Vec::new();
            for &combo in &opts.combos {
                check_interrupt()?;
                modes.push(session::bench_fresh(combo, opts)?);
            }
            modes
        }
    };
    Ok(Report {
        machine: report::Machine::this(),
        settings: report::Settings {
            duration_s: opts.duration_s,
            repeat: opts.repeat,
            streams: opts.streams,
            offload: opts.offload,
        },
        encryption_cost: cost::of(&modes),
        modes,
    })
}
