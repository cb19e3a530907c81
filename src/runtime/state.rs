//! What a deploy made, on disk, written before the things themselves exist, so that destroy
//! can remove exactly that even after a crash.

use super::error::TeardownError;
use super::{RuntimeError, RuntimeKind};
use crate::sys::pid::ProcessId;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

pub const STATE_DIR: &str = "/run/cnilab";
/// Moves the records elsewhere, so that a test of `destroy --all` sees only its own labs.
pub const STATE_DIR_ENV: &str = "CNILAB_STATE_DIR";

/// Where the records live: `$CNILAB_STATE_DIR`, or /run/cnilab.
pub fn dir() -> PathBuf {
    std::env::var_os(STATE_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(STATE_DIR), PathBuf::from)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Deploying,
    Up,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub lab: String,
    pub runtime: RuntimeKind,
    pub file: PathBuf,
    pub phase: Phase,
    /// Namespaces under /run/netns this deploy made (netns runtime).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Bridges in the root namespace this deploy made (containerlab runtime).
    #[serde(default)]
    pub bridges: Vec<String>,
    /// The deploy that wrote the record: while the phase is `deploying`, whether that process
    /// still runs tells a deploy in progress from one that was killed. Records written before
    /// cnilab kept it have none.
    #[serde(default)]
    pub deployer: Option<ProcessId>,
}

pub fn path(lab: &str) -> PathBuf {
    dir().join(format!("{lab}.json"))
}

impl LabState {
    pub fn load(lab: &str) -> Result<Option<LabState>, RuntimeError> {
        let path = path(lab);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(RuntimeError::State {
                    what: "read",
                    path,
                    source,
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RuntimeError::State {
                what: "parse",
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })
    }

    /// Every lab cnilab has a record of, in name order: what `inspect --all` and
    /// `destroy --all` work from, whether or not the labs' files still exist. A record that
    /// cannot be read is returned as its error, so one bad file hides no other lab.
    pub fn all() -> Result<Vec<Result<LabState, RuntimeError>>, RuntimeError> {
        let entries = match std::fs::read_dir(dir()) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(RuntimeError::State {
                    what: "list",
                    path: dir(),
                    source,
                })
            }
        };
        let mut labs = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // `<lab>.json.tmp` is a save in progress; its lab has a `<lab>.json` too.
            let Some(lab) = name.strip_suffix(".json") else {
                continue;
            };
            match LabState::load(lab) {
                Ok(Some(state)) => labs.push(Ok(state)),
                Ok(None) => {}
                Err(e) => labs.push(Err(e)),
            }
        }
        labs.sort_by_key(|r| r.as_ref().map(|s| s.lab.clone()).ok());
        Ok(labs)
    }

    /// Creates the state file, failing if it exists: two deploys of one lab cannot both win.
    pub fn create(&self) -> Result<(), RuntimeError> {
        let path = path(&self.lab);
        let err = |source| RuntimeError::State {
            what: "create",
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir()).map_err(err)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(err)?;
        f.write_all(self.json().as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)
    }

    /// Replaces the state file whole (temporary file, then rename).
    pub fn save(&self) -> Result<(), RuntimeError> {
        let path = path(&self.lab);
        let tmp = path.with_extension("json.tmp");
        let err = |source| RuntimeError::State {
            what: "write",
            path: path.clone(),
            source,
        };
        std::fs::write(&tmp, self.json()).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)
    }

    pub fn remove(lab: &str) -> Result<(), TeardownError> {
        match std::fs::remove_file(path(lab)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(TeardownError::RemoveFile {
                path: path(lab),
                source,
            }),
        }
    }

    fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("state serialises") + "\n"
    }
}
