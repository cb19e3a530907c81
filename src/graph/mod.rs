//! `cnilab graph`: the lab as a picture, from the topology file alone (no lab needs to run).

pub mod dot;
pub mod layout;
pub mod mermaid;
pub mod model;
pub mod svg;

pub use model::LabGraph;

use crate::lab::LabError;
use crate::topology::TopologyError;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A picture, laid out and drawn by cnilab (no Graphviz needed).
    Svg,
    /// A Mermaid flowchart, for GitHub markdown.
    Mermaid,
    /// Graphviz DOT text.
    Dot,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error("{path}: {source}")]
    Lab { path: String, source: LabError },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Reads the file and draws it in `format`.
pub fn draw_file(file: &Path, format: Format) -> Result<String, GraphError> {
    let file = crate::lab::file::LabFile::load(file)?;
    let lab = file.lab().map_err(|source| GraphError::Lab {
        path: file.path.display().to_string(),
        source,
    })?;
    Ok(draw(
        &LabGraph::from_topology(&file.labelled_topo(), lab),
        format,
    ))
}

pub fn draw(graph: &LabGraph, format: Format) -> String {
    match format {
        Format::Svg => svg::render(graph),
        Format::Mermaid => mermaid::render(graph),
        Format::Dot => dot::render(graph),
    }
}

/// Writes the drawing to `path`, or to standard output for `-`.
pub fn write(text: &str, path: &Path) -> Result<(), GraphError> {
    if path == Path::new("-") {
        use std::io::Write;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return Ok(());
    }
    std::fs::write(path, text).map_err(|source| GraphError::Write {
        path: path.display().to_string(),
        source,
    })
}
