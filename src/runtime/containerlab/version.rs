//! Which containerlab is installed, read from what `containerlab version` prints: a logo, then
//! `    version: 0.79.0` (cmd/version.go; the same line since 0.42).

use std::fmt;

/// The oldest containerlab whose log cnilab reads: from 0.65 on, containerlab logs with
/// charmbracelet/log and reports a failed exec line with its short node name, rc and stderr
/// as key/value pairs (clab/exec/exec.go at v0.65.0). Older versions log with logrus in a
/// layout cnilab does not read, or not at all (below 0.34), so they are refused.
pub const OLDEST: Version = Version(0, 65, 0);
/// The version CI installs and runs the labs with (.github/workflows/ci.yml's
/// CONTAINERLAB_VERSION; a test holds the two together).
pub const TESTED: Version = Version(0, 79, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The version in `containerlab version`'s output, e.g. `0.79.0` or `v0.66.0-rc1`.
pub fn parse(output: &str) -> Option<Version> {
    let value = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("version:"))?
        .trim();
    let value = value.strip_prefix('v').unwrap_or(value);
    let core = value.split(['-', '+', ' ']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().flatten().unwrap_or(0);
    Some(Version(major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_line_under_the_logo() {
        let out = "  ____ ___  _   _ _____\n \x1b[38;2;0;201;255m _ \x1b[0m\n\n    version: 0.79.0\n     commit: 5ae5009\n       date: 2026-11-02T10:00:00Z\n     source: https://github.com/srl-labs/containerlab\n rel. notes: https://containerlab.dev/rn/0.79/\n";
        assert_eq!(parse(out), Some(Version(0, 79, 0)));
        assert_eq!(parse("    version: v0.66.0-rc1\n"), Some(Version(0, 66, 0)));
        assert_eq!(parse("no version here\n"), None);
        assert!(Version(0, 64, 9) < OLDEST && OLDEST <= TESTED);
    }

    /// The version cnilab names as tested is the one GitHub installs and deploys the labs with.
    #[test]
    fn tested_is_the_version_the_workflow_pins() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/ci.yml");
        let text = std::fs::read_to_string(path).expect("the workflow is there");
        let ci: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
        let pinned = ci["jobs"]["containerlab"]["env"]["CONTAINERLAB_VERSION"]
            .as_str()
            .expect("the containerlab job pins CONTAINERLAB_VERSION");
        assert_eq!(
            parse(&format!("version: {pinned}")),
            Some(TESTED),
            "ci.yml installs containerlab {pinned}, version::TESTED says {TESTED}"
        );
    }
}
