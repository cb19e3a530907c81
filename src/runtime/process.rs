//! Running a program without a shell and keeping what a failure needs: exit code and stderr.

use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Ran {
    /// None when killed by a signal or when the program could not be started.
    pub code: Option<i32>,
    pub stderr: String,
    /// Killed by SIGINT: Ctrl-C reached the whole process group, children first.
    pub interrupted: bool,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `argv` from the calling thread, so the child lives in this thread's network namespace.
pub fn run(argv: &[String], stdin: Option<String>) -> Ran {
    let (program, args) = argv.split_first().expect("a command has a program");
    let mut cmd = duct::cmd(program, args)
        .stdout_null()
        .stderr_capture()
        .unchecked();
    cmd = match stdin {
        Some(text) => cmd.stdin_bytes(text),
        None => cmd.stdin_null(),
    };
    match cmd.run() {
        Ok(out) => Ran {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            interrupted: std::os::unix::process::ExitStatusExt::signal(&out.status)
                == Some(nix::sys::signal::Signal::SIGINT as i32),
        },
        Err(e) => Ran {
            code: None,
            stderr: format!("cannot run `{program}`: {e}"),
            interrupted: false,
        },
    }
}

pub fn strings<const N: usize>(words: [&str; N]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Where `program` would be found on PATH, as execvp would find it.
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
