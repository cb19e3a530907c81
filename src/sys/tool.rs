//! The one way cnilab runs `ip`, `bridge` and `sysctl` against a lab node: in the node's
//! network namespace, entered on a thread of its own ([`super::netns::in_netns`]) whose child
//! inherits it, with no shell and no standard input.
//! - Not `ip -n`: that also makes a mount namespace and remounts /sys for every process, and
//!   those mounts serialise across threads.
//! - std's `Command`, not duct: duct sets the child's whole environment, and with PATH set
//!   explicitly std forks instead of using `posix_spawn`. A fork copies the page tables of a
//!   verify whose capture rings are mapped, which at 254 hosts costs seconds.

use super::netns::in_netns;

/// A tool that could not run, or that failed: its command line and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{command}` failed: {why}")]
pub struct ToolError {
    pub command: String,
    pub why: String,
}

/// Runs `tool args` in `namespace`; its standard output, or why it failed.
pub fn run_in(namespace: &str, tool: &str, args: &[&str]) -> Result<String, ToolError> {
    let err = |why: String| ToolError {
        command: format!("{tool} {}", args.join(" ")),
        why,
    };
    let out = in_netns(namespace, || {
        std::process::Command::new(tool)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .map_err(|e| err(e.to_string()))?
    .map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `tool args` in `namespace` and parses its JSON output (iproute2's `-j`) as rows; an
/// empty output is no rows.
pub fn json_in<T: serde::de::DeserializeOwned>(
    namespace: &str,
    tool: &str,
    args: &[&str],
) -> Result<Vec<T>, ToolError> {
    let text = run_in(namespace, tool, args)?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(&text).map_err(|e| ToolError {
        command: format!("{tool} {}", args.join(" ")),
        why: e.to_string(),
    })
}
