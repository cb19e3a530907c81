//! Running containerlab itself, in an environment cnilab controls: every flag can also be set
//! by a `CLAB_*` variable (cmd/viper.go), and `CLAB_LOG_LEVEL=fatal` would hide the very lines
//! that report failed exec lines. So those are scrubbed and the log level is passed
//! explicitly; the version check that calls GitHub is turned off (cmd/version_manager.go).

use crate::runtime::process::which;
use crate::runtime::RuntimeError;
use std::io::{BufRead, BufReader};
use std::path::Path;

pub struct Output {
    pub code: Option<i32>,
    pub lines: Vec<String>,
}

fn command(args: Vec<String>) -> duct::Expression {
    let mut cmd = duct::cmd("containerlab", args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CLAB_") {
            cmd = cmd.env_remove(key);
        }
    }
    cmd.env("CLAB_VERSION_CHECK", "disable")
}

/// What `containerlab version` prints.
pub fn version() -> Result<String, RuntimeError> {
    if which("containerlab").is_none() {
        return Err(RuntimeError::ContainerlabMissing);
    }
    let out = command(vec!["version".into()])
        .stderr_to_stdout()
        .stdin_null()
        .stdout_capture()
        .unchecked()
        .run()
        .map_err(|e| RuntimeError::Setup {
            step: "running `containerlab version`".into(),
            detail: e.to_string(),
        })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `containerlab ACTION -t FILE --log-level info [--cleanup]`, showing its output as it
/// comes and keeping a copy.
pub fn containerlab(
    action: &'static str,
    file: &Path,
    cleanup: bool,
) -> Result<Output, RuntimeError> {
    if which("containerlab").is_none() {
        return Err(RuntimeError::ContainerlabMissing);
    }
    let mut args = vec![
        action.to_string(),
        "-t".to_string(),
        file.display().to_string(),
        "--log-level".into(),
        "info".into(),
    ];
    if cleanup {
        args.push("--cleanup".into());
    }
    let reader = command(args)
        .stderr_to_stdout()
        .stdin_null()
        .unchecked()
        .reader()
        .map_err(|e| RuntimeError::Setup {
            step: format!("starting `containerlab {action}`"),
            detail: e.to_string(),
        })?;
    let mut lines = Vec::new();
    let mut buf = BufReader::new(&reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bytes, not read_line: one line that is not UTF-8 would end the loop early, and
        // dropping the reader then kills containerlab in the middle of its work.
        match buf.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                let l = String::from_utf8_lossy(&line).trim_end().to_string();
                eprintln!("{l}");
                lines.push(l);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let code = match reader.try_wait() {
        Ok(Some(out)) => out.status.code(),
        _ => None,
    };
    Ok(Output { code, lines })
}

pub fn tail(lines: &[String], n: usize) -> Vec<String> {
    lines[lines.len().saturating_sub(n)..].to_vec()
}
