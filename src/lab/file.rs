//! The topology file a command was given, read and parsed once at the command layer and then
//! passed down by reference: deploy, verify, trace, graph and bench all read this one value.

use super::infer::{self, Inference};
use super::{Lab, LabError};
use crate::topology::{Topology, TopologyError};
use std::path::{Path, PathBuf};

/// A topology file and what it says. `lab` is the plan read from its `cnilab.*` labels, or
/// inferred where it has none (the article's own labs); a file whose plan is neither still
/// deploys, so that is kept as a result, not a load error.
pub struct LabFile {
    pub path: PathBuf,
    pub topo: Topology,
    lab: Result<Lab, LabError>,
    /// Where the plan was inferred: the labels, and what was inferred in one line.
    pub inferred: Option<Inference>,
}

impl LabFile {
    /// Reads and parses `path`: the only read of the file a command makes.
    pub fn load(path: &Path) -> Result<LabFile, TopologyError> {
        Ok(LabFile::new(path, Topology::load(path)?))
    }

    pub fn new(path: &Path, topo: Topology) -> LabFile {
        let (lab, inferred) = match Lab::from_topology(&topo) {
            Err(LabError::NotCnilab) => match infer::infer(&topo) {
                Ok(inference) => (
                    Lab::from_topology(&inference.labelled(&topo)),
                    Some(inference),
                ),
                Err(e) => (Err(LabError::NotInferred(e)), None),
            },
            stated => (stated, None),
        };
        LabFile {
            path: path.to_path_buf(),
            topo,
            lab,
            inferred,
        }
    }

    /// Infers the plan again where the file has no labels, reading nodes whose exec lines set
    /// nothing from the running lab: for commands that work on a deployed lab.
    pub fn read_running(&mut self) {
        if self.inferred.is_none() && !matches!(self.lab, Err(LabError::NotInferred(_))) {
            return;
        }
        (self.lab, self.inferred) = match infer::infer_running(&self.topo) {
            Ok(inference) => (
                Lab::from_topology(&inference.labelled(&self.topo)),
                Some(inference),
            ),
            Err(e) => (Err(LabError::NotInferred(e)), None),
        };
    }

    /// The topology with its labels: the file's own, or where it has none, the inferred ones.
    pub fn labelled_topo(&self) -> std::borrow::Cow<'_, Topology> {
        match &self.inferred {
            Some(inference) => std::borrow::Cow::Owned(inference.labelled(&self.topo)),
            None => std::borrow::Cow::Borrowed(&self.topo),
        }
    }

    /// The plan its labels state or its exec lines imply, or why it has neither.
    pub fn lab(&self) -> Result<&Lab, LabError> {
        self.lab.as_ref().map_err(Clone::clone)
    }

    pub fn abs_path(&self) -> PathBuf {
        std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone())
    }
}
