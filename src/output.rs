//! Writing files so that a failure never leaves half a file, a file cnilab did not write is
//! never overwritten by accident, and nothing but a regular file is ever replaced.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The line `cnilab gen` puts in every file it writes; its presence means "ours to replace".
pub const GENERATED_MARKER: &str = "# cnilab-generated:";

/// How far into a file the provenance header may reach: the header is a handful of comment
/// lines, and a huge or endless file must cost no more than this to check.
const HEADER_LIMIT: u64 = 8 * 1024;

/// The mode of a new file before the umask: readable by everyone, like any file a tool writes.
const NEW_FILE_MODE: u32 = 0o644;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path} exists and was not written by cnilab; pass --force to overwrite it")]
    NotOurs { path: PathBuf },
    #[error("{path} is {what}, not a regular file; cnilab only writes regular files, even with --force (use `-o -` for standard output)")]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{path} exists but cannot be read ({source}), so cnilab cannot tell whether it wrote it; pass --force to overwrite it")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: folder {dir} does not exist")]
    NoFolder { path: PathBuf, dir: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What is at a path an output may go to.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Missing,
    Ours,
    Foreign,
}

/// Looks at `path` without following a symlink and without reading past the header, so a
/// device, a fifo or a huge file can neither hang nor exhaust anything.
pub fn examine(path: &Path) -> Result<Target, OutputError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Missing),
        Err(source) => return Err(unreadable(path, source)),
    };
    if let Some(what) = not_regular(&meta.file_type()) {
        return Err(OutputError::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    // O_NONBLOCK and O_NOFOLLOW: a file swapped for a fifo or a link since the look above
    // still cannot block or redirect the read.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| unreadable(path, e))?;
    let meta = file.metadata().map_err(|e| unreadable(path, e))?;
    if let Some(what) = not_regular(&meta.file_type()) {
        return Err(OutputError::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    let ours =
        has_marker(BufReader::new(file.take(HEADER_LIMIT))).map_err(|e| unreadable(path, e))?;
    Ok(if ours { Target::Ours } else { Target::Foreign })
}

fn unreadable(path: &Path, source: std::io::Error) -> OutputError {
    OutputError::Unreadable {
        path: path.to_path_buf(),
        source,
    }
}

fn not_regular(t: &std::fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_symlink() {
        Some("a symbolic link")
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a fifo")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("something other than a file")
    }
}

/// True when the leading comment block carries cnilab's marker.
fn has_marker(reader: impl BufRead) -> std::io::Result<bool> {
    for line in reader.split(b'\n') {
        let line = line?;
        if !line.starts_with(b"#") {
            return Ok(false);
        }
        if line.starts_with(GENERATED_MARKER.as_bytes()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Checks that `path` may be replaced: a regular file cnilab wrote (any regular file with
/// `force`), or nothing yet.
pub fn check_replaceable(path: &Path, force: bool) -> Result<(), OutputError> {
    let target = match examine(path) {
        // --force needs no look inside: a regular file it cannot read is still replaced.
        Err(OutputError::Unreadable { .. }) if force => return Ok(()),
        other => other?,
    };
    match target {
        Target::Missing | Target::Ours => Ok(()),
        Target::Foreign if force => Ok(()),
        Target::Foreign => Err(OutputError::NotOurs {
            path: path.to_path_buf(),
        }),
    }
}

/// Writes `contents` to `path` through a temporary file in the same folder, then renames it
/// into place, so readers see the old file or the whole new one. The file is 0644 less the
/// umask and, under sudo, belongs to the user who ran sudo.
pub fn write_atomically(path: &Path, contents: &str, force: bool) -> Result<(), OutputError> {
    write_atomically_with_mode(path, contents, force, NEW_FILE_MODE)
}

/// [`write_atomically`] with the file's mode given: 0600 for a private key, which is then
/// never readable by others, not even between its creation and the rename.
pub fn write_atomically_with_mode(
    path: &Path,
    contents: &str,
    force: bool,
    mode: u32,
) -> Result<(), OutputError> {
    check_replaceable(path, force)?;
    let io_err = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(OutputError::NoFolder {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".cnilab-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(io_err)?;
    tmp.write_all(contents.as_bytes()).map_err(io_err)?;
    give_to_sudo_user(tmp.as_file()).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

/// The user behind `sudo`, from SUDO_UID/SUDO_GID, when this process runs as root.
pub fn sudo_owner() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let id = |var: &str| std::env::var(var).ok()?.parse::<u32>().ok();
    Some((id("SUDO_UID")?, id("SUDO_GID")?))
}

fn give_to_sudo_user(file: &std::fs::File) -> std::io::Result<()> {
    match sudo_owner() {
        Some((uid, gid)) => std::os::unix::fs::fchown(file, Some(uid), Some(gid)),
        None => Ok(()),
    }
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
    fn a_missing_folder_is_named_and_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/clab.yaml");
        let err = write_atomically(&path, "x", false).unwrap_err();
        assert!(matches!(err, OutputError::NoFolder { .. }), "{err}");
        assert!(
            err.to_string().contains("no/such/dir does not exist"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_marker_counts_only_in_the_leading_comments() {
        let ours = |text: &str| has_marker(text.as_bytes()).unwrap();
        assert!(ours(
            "# Generated\n# cnilab-generated: mode=vxlan\nname: x\n"
        ));
        assert!(!ours("name: x\n# cnilab-generated: mode=vxlan\n"));
        assert!(!ours(""));
    }

    #[test]
    fn a_huge_file_is_judged_by_its_header_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        // A comment block longer than the limit: the marker after it is never reached.
        let mut text = "#\n".repeat(HEADER_LIMIT as usize);
        text.push_str("# cnilab-generated: x\n");
        std::fs::write(&path, text).unwrap();
        assert_eq!(examine(&path).unwrap(), Target::Foreign);
    }
}
