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

/// How a plan is inferred: from the file alone, or with the running lab.
type Infer = fn(&Topology) -> Result<Inference, infer::InferError>;

/// The plan of a file without labels, and what was inferred.
fn inferred_plan(topo: &Topology, infer: Infer) -> (Result<Lab, LabError>, Option<Inference>) {
    match infer(topo) {
        Ok(inference) => (
            Lab::from_topology(&inference.labelled(topo)),
            Some(inference),
        ),
        Err(e) => (Err(LabError::NotInferred(e)), None),
    }
}

impl LabFile {
    /// Reads and parses `path`: the only read of the file a command makes.
    pub fn load(path: &Path) -> Result<LabFile, TopologyError> {
        Ok(LabFile::new(path, Topology::load(path)?))
    }

    pub fn new(path: &Path, topo: Topology) -> LabFile {
        LabFile::planned(path, topo, infer::infer)
    }

    /// [`LabFile::new`] for a command that works on the deployed lab: where the file has no
    /// labels, nodes whose exec lines set nothing are read from the running lab.
    pub fn new_running(path: &Path, topo: Topology) -> LabFile {
        LabFile::planned(path, topo, infer::infer_running)
    }

    /// [`LabFile::load`], with the plan as [`LabFile::new_running`] makes it.
    pub fn load_running(path: &Path) -> Result<LabFile, TopologyError> {
        Ok(LabFile::new_running(path, Topology::load(path)?))
    }

    /// Infers the plan again as [`LabFile::new_running`] would, once the lab is up.
    pub fn read_running(&mut self) {
        if self.inferred.is_some() || matches!(self.lab, Err(LabError::NotInferred(_))) {
            (self.lab, self.inferred) = inferred_plan(&self.topo, infer::infer_running);
        }
    }

    fn planned(path: &Path, topo: Topology, infer: Infer) -> LabFile {
        let (lab, inferred) = match Lab::from_topology(&topo) {
            Err(LabError::NotCnilab) => inferred_plan(&topo, infer),
            stated => (stated, None),
        };
        LabFile {
            path: path.to_path_buf(),
            topo,
            lab,
            inferred,
        }
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
