//! Writing files so that a failure never leaves half a file, and a file cnilab did not write
//! is never overwritten by accident.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The line `cnilab gen` puts in every file it writes; its presence means "ours to replace".
pub const GENERATED_MARKER: &str = "# cnilab-generated:";

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path} exists and was not written by cnilab; pass --force to overwrite it")]
    NotOurs { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// True when `path` is absent or carries cnilab's marker in its header.
pub fn may_overwrite(path: &Path) -> bool {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .any(|l| l.starts_with(GENERATED_MARKER)),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Writes `contents` to `path` through a temporary file in the same folder, then renames it
/// into place, so readers see the old file or the whole new one.
pub fn write_atomically(path: &Path, contents: &str, force: bool) -> Result<(), OutputError> {
    if !force && !may_overwrite(path) {
        return Err(OutputError::NotOurs {
            path: path.to_path_buf(),
        });
    }
    let io_err = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".cnilab-")
        .tempfile_in(dir)
        .map_err(io_err)?;
    tmp.write_all(contents.as_bytes()).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_foreign_files_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clab.yaml");
        std::fs::write(&path, "name: mine\n").unwrap();
        assert!(matches!(
            write_atomically(&path, "x", false),
            Err(OutputError::NotOurs { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "name: mine\n");
        write_atomically(&path, "# cnilab-generated: a\n", true).unwrap();
        write_atomically(&path, "# cnilab-generated: b\n", false).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# cnilab-generated: b\n"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }

    #[test]
    fn a_missing_folder_fails_without_leaving_anything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/clab.yaml");
        assert!(matches!(
            write_atomically(&path, "x", false),
            Err(OutputError::Io { .. })
        ));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
