//! Bringing a lab up and down. Two runtimes realise the same clab.yaml: the built-in one in
//! network namespaces, and containerlab itself.

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Netns,
    Containerlab,
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuntimeKind::Netns => "netns",
            RuntimeKind::Containerlab => "containerlab",
        })
    }
}

/// How the netns runtime runs a node's exec lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecStrategy {
    /// Runs of consecutive `ip`/`bridge` lines go through one `ip -batch`/`bridge -batch`
    /// process each: the same parser, so the same meaning, without a process per line.
    #[default]
    Batched,
    /// One process per exec line, as containerlab does; the baseline for benchmarks.
    PerLine,
}

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Show a progress bar on standard error.
    pub progress: bool,
    pub exec: ExecStrategy,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the runtime is not implemented yet")]
    NotImplemented,
}

impl RuntimeError {
    pub fn exit_code(&self) -> i32 {
        1
    }
}

#[derive(Debug, Serialize)]
pub struct Inspection {}

impl std::fmt::Display for Inspection {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

pub fn deploy(_file: &Path, _kind: RuntimeKind, _opts: &DeployOptions) -> Result<(), RuntimeError> {
    Err(RuntimeError::NotImplemented)
}

/// `kind: None` means "whichever runtime deployed it".
pub fn destroy(_file: &Path, _kind: Option<RuntimeKind>) -> Result<(), RuntimeError> {
    Err(RuntimeError::NotImplemented)
}

pub fn inspect(_file: &Path) -> Result<Inspection, RuntimeError> {
    Err(RuntimeError::NotImplemented)
}
