//! `cnilab verify`: probe every ordered pod pair, capture the underlay, dissect, judge.

use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub pcap_dir: Option<PathBuf>,
    pub progress: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {}

impl Report {
    pub fn passed(&self) -> bool {
        false
    }
    pub fn table(&self) -> String {
        String::new()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("verify is not implemented yet")]
    NotImplemented,
}

impl VerifyError {
    pub fn exit_code(&self) -> i32 {
        2
    }
}

pub fn verify(_file: &Path, _opts: &VerifyOptions) -> Result<Report, VerifyError> {
    Err(VerifyError::NotImplemented)
}
