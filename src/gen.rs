//! `cnilab gen`: plan, render, write.

use crate::output::{write_atomically, OutputError};
use crate::plan::{Flavor, LabSpec, Mode, Plan, PlanError};
use crate::render::{render, RenderError, Templates};
use crate::routing::Routing;
use crate::underlay::Underlay;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct GenRequest<'a> {
    pub mode: Mode,
    pub flavor: Flavor,
    pub hosts: usize,
    pub pods_per_host: usize,
    pub lab: Option<&'a str>,
    /// `None`: the mode's own underlay.
    pub underlay: Option<Underlay>,
    pub routing: Routing,
    /// flannel's DirectRouting (see [`crate::plan::LabSpec`]).
    pub direct_routing: bool,
    /// Calico's VXLAN CrossSubnet (see [`crate::plan::LabSpec`]).
    pub cross_subnet: bool,
    pub templates: Option<&'a Path>,
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A template (usually an edited copy) produced something that is not a topology.
    #[error("the rendered topology is not valid containerlab YAML ({detail}); nothing was written: check the template")]
    Rendered { detail: String },
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
    #[error(
        "--routing bgp writes the daemons' configs beside the topology: give -o FILE, not -o -"
    )]
    NoFolder,
    #[error("cannot make the folder for {path}: {source}")]
    Beside {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn generate(req: &GenRequest<'_>) -> Result<String, GenError> {
    generate_all(req).map(|g| g.text)
}

/// A lab's topology and the files it needs beside it.
pub struct Generated {
    pub text: String,
    /// The routing daemons' configs, at their paths relative to the topology file.
    pub files: Vec<(PathBuf, String)>,
}

pub fn generate_all<'a>(req: &GenRequest<'a>) -> Result<Generated, GenError> {
    let plan = Plan::from_spec(&LabSpec {
        mode: req.mode,
        flavor: req.flavor,
        hosts: req.hosts,
        pods_per_host: req.pods_per_host,
        lab: req.lab,
        underlay: req.underlay,
        routing: req.routing,
        direct_routing: req.direct_routing,
        cross_subnet: req.cross_subnet,
    })?;
    let templates = |dir: Option<&'a Path>| match dir {
        Some(dir) => Templates::Dir(dir),
        None => Templates::Embedded,
    };
    let text = render(&plan, templates(req.templates))?;
    // Parsed back before anyone sees it, so a broken template fails here and not in deploy.
    crate::topology::Topology::parse(&text).map_err(|detail| GenError::Rendered { detail })?;
    let files = crate::render::render_daemons(&plan, templates(req.templates))?;
    Ok(Generated { text, files })
}

/// Writes the files a topology needs beside it (`--routing bgp`'s daemon configs), relative
/// to the topology file's folder. Standard output has no folder to put them in.
pub fn write_beside(files: &[(PathBuf, String)], dest: &Destination) -> Result<(), GenError> {
    let dir = match dest {
        _ if files.is_empty() => return Ok(()),
        Destination::Stdout => return Err(GenError::NoFolder),
        Destination::File { path, .. } => path.parent().unwrap_or(Path::new(".")),
    };
    for (rel, text) in files {
        let path = dir.join(rel);
        let made = path.parent().map_or(Ok(()), std::fs::create_dir_all);
        made.map_err(|source| GenError::Beside {
            path: path.clone(),
            source,
        })?;
        write_atomically(&path, text, true)?;
    }
    Ok(())
}

/// Where the topology goes: a file, or standard output for `-o -`.
pub enum Destination {
    Stdout,
    File { path: PathBuf, force: bool },
}

pub fn write(text: &str, dest: &Destination) -> Result<(), GenError> {
    match dest {
        Destination::Stdout => match std::io::stdout().lock().write_all(text.as_bytes()) {
            // `cnilab gen -o - | head` is a reader that had enough, not a failure.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(GenError::Stdout(e)),
            _ => Ok(()),
        },
        Destination::File { path, force } => Ok(write_atomically(path, text, *force)?),
    }
}
