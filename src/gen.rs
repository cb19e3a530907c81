//! `cnilab gen`: plan, render, write.

use crate::output::{write_atomically, OutputError};
use crate::plan::{Flavor, LabSpec, Mode, Plan, PlanError};
use crate::render::{render, RenderError, Templates};
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
}

pub fn generate(req: &GenRequest<'_>) -> Result<String, GenError> {
    let plan = Plan::from_spec(&LabSpec {
        mode: req.mode,
        flavor: req.flavor,
        hosts: req.hosts,
        pods_per_host: req.pods_per_host,
        lab: req.lab,
        underlay: req.underlay,
    })?;
    let templates = match req.templates {
        Some(dir) => Templates::Dir(dir),
        None => Templates::Embedded,
    };
    let text = render(&plan, templates)?;
    // Parsed back before anyone sees it, so a broken template fails here and not in deploy.
    crate::topology::Topology::parse(&text).map_err(|detail| GenError::Rendered { detail })?;
    Ok(text)
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
