//! Reading containerlab's log for exec lines that went wrong. containerlab (0.65 and newer)
//! logs with charmbracelet/log's text layout and time format `15:04:05` (cmd/root.go), and
//! still exits 0 when an exec line fails. The layout, from charmbracelet/log v0.4.x text.go:
//! - `HH:MM:SS LEVL message key=value key="quoted value" key=""`;
//! - a value holding a newline is not inline: a line `  key=`, then each of its lines after
//!   `  │ `; keys after it continue on a line that starts with one space;
//! - in quoted values `"` and non-printable characters are escaped Go-style, `\` is not.

use regex::Regex;
use std::sync::LazyLock;

/// One exec line containerlab reported as not done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecProblem {
    /// It ran and exited non-zero (exec/exec.go, `ExecCollection.Log`). `line` counts from 1
    /// in the node's `exec:` list, when the command identifies one line.
    #[error("node `{node}`, {}`{command}` exited with {rc}{}", line_no(.line), detail(.stderr, .stdout))]
    Failed {
        node: String,
        line: Option<usize>,
        command: String,
        rc: String,
        stdout: String,
        stderr: String,
    },
    /// It could not be run at all, e.g. the container is not running (nodes/default_node.go,
    /// `RunExec`). `container` is the container's full name.
    #[error("container `{container}`, {}`{command}` was not run: {error}", line_no(.line))]
    NotRun {
        container: String,
        line: Option<usize>,
        command: String,
        error: String,
    },
    /// shlex could not split it; containerlab only warns, then crashes on it
    /// (nodes/default_node.go, `RunExecFromConfig`).
    #[error("{text}")]
    Unsplittable { text: String },
}

fn line_no(line: &Option<usize>) -> String {
    line.map_or(String::new(), |n| format!("exec line {n} "))
}

fn detail(stderr: &str, stdout: &str) -> String {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    match text.trim_end() {
        "" => String::new(),
        t => format!(": {}", t.lines().collect::<Vec<_>>().join("\n    ")),
    }
}

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:\d\d:\d\d:\d\d )?(DEBU|INFO|WARN|ERRO|FATA) (.*)$").expect("valid regex")
});
static MULTILINE_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^  ([A-Za-z0-9_.-]+)=$").expect("valid regex"));
static NOT_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(\S+): failed to execute cmd: "((?:[^"\\]|\\.)*)" with error (.*)$"#)
        .expect("valid regex")
});
static ANSI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\x1b\[[0-9;]*[A-Za-z]").expect("valid regex"));

const EXEC_FAILED: &str = "Failed to execute command";
const UNSPLITTABLE: &str = "Failed to parse the command string: ";

/// One log entry: its level, message and key/value pairs, continuation lines included.
#[derive(Debug, Default, PartialEq)]
struct Record {
    level: String,
    text: String,
    fields: Vec<(String, String)>,
}

impl Record {
    fn get(&self, key: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Every exec problem in containerlab's output, in the order it logged them.
pub fn exec_problems(lines: &[String]) -> Vec<ExecProblem> {
    records(lines).iter().filter_map(problem).collect()
}

fn problem(r: &Record) -> Option<ExecProblem> {
    if r.level == "ERRO" {
        if let Some(rest) = r.text.strip_prefix(EXEC_FAILED) {
            let mut r2 = Record {
                fields: logfmt(rest),
                ..Record::default()
            };
            r2.fields.extend(r.fields.iter().cloned());
            return Some(ExecProblem::Failed {
                node: r2.get("node").into(),
                line: None,
                command: r2.get("command").into(),
                rc: r2.get("rc").into(),
                stdout: r2.get("stdout").into(),
                stderr: r2.get("stderr").into(),
            });
        }
        if let Some(c) = NOT_RUN.captures(&r.text) {
            return Some(ExecProblem::NotRun {
                container: c[1].into(),
                line: None,
                command: unescape(&c[2]),
                error: c[3].into(),
            });
        }
    }
    if r.level == "WARN" && r.text.starts_with(UNSPLITTABLE) {
        return Some(ExecProblem::Unsplittable {
            text: r.text.clone(),
        });
    }
    None
}

/// Groups lines into records. A record's continuation lines have fixed shapes; any other
/// line (containerlab's summary table, say) ends it.
fn records(lines: &[String]) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut open = false;
    // The key whose value is being read from `  │ ` lines, and those lines so far.
    let mut multiline: Option<(String, Vec<String>)> = None;
    for raw in lines {
        let line = ANSI.replace_all(raw, "");
        let line = line.trim_end_matches(['\r', '\n']);
        let header = HEADER.captures(line);
        let value_line = line
            .strip_prefix("  │")
            .filter(|_| multiline.is_some() && open);
        if value_line.is_none() {
            if let (Some((key, values)), Some(r)) = (multiline.take(), out.last_mut()) {
                r.fields.push((key, values.join("\n")));
            }
        }
        if let Some(c) = header {
            out.push(Record {
                level: c[1].into(),
                text: c[2].into(),
                fields: Vec::new(),
            });
            open = true;
            continue;
        }
        let Some(r) = out.last_mut().filter(|_| open) else {
            continue;
        };
        if let Some(rest) = value_line {
            let values = &mut multiline.as_mut().expect("checked").1;
            values.push(rest.strip_prefix(' ').unwrap_or(rest).to_string());
        } else if let Some(c) = MULTILINE_KEY.captures(line) {
            multiline = Some((c[1].to_string(), Vec::new()));
        } else if line.trim().is_empty() {
            // charmbracelet/log ends a value that ends in a newline with an empty line.
        } else if line.starts_with(' ') && !line.starts_with("  ") {
            r.fields.extend(logfmt(line));
        } else {
            open = false;
        }
    }
    if let (Some((key, values)), Some(r)) = (multiline, out.last_mut()) {
        r.fields.push((key, values.join("\n")));
    }
    out
}

/// `key=value key="quoted value"` pairs, as charmbracelet/log writes them.
fn logfmt(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().to_string();
        let after = &rest[eq + 1..];
        let (value, remaining) = match after.strip_prefix('"') {
            Some(q) => {
                let end = closing_quote(q);
                (unescape(&q[..end]), &q[(end + 1).min(q.len())..])
            }
            None => {
                let end = after.find(' ').unwrap_or(after.len());
                (after[..end].to_string(), &after[end..])
            }
        };
        out.push((key, value));
        rest = remaining.trim_start();
    }
    out
}

/// Index of the `"` that ends a quoted value: the first one not escaped.
fn closing_quote(q: &str) -> usize {
    let bytes = q.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    q.len()
}

/// Undoes Go-style escapes (`\"`, `\n`, `\t`, `\xNN`, `\uNNNN`, and `\\` from `%q`). A
/// backslash before anything else is kept: charmbracelet/log does not escape backslashes.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let simple = match chars.peek() {
            Some('"') => Some('"'),
            Some('\\') => Some('\\'),
            Some('n') => Some('\n'),
            Some('t') => Some('\t'),
            Some('r') => Some('\r'),
            Some('a') => Some('\u{7}'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some('v') => Some('\u{b}'),
            _ => None,
        };
        if let Some(ch) = simple {
            chars.next();
            out.push(ch);
            continue;
        }
        let width = match chars.peek() {
            Some('x') => 2,
            Some('u') => 4,
            Some('U') => 8,
            _ => 0,
        };
        let digits: String = chars.clone().skip(1).take(width).collect();
        match u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
        {
            Some(ch) if width > 0 && digits.len() == width => {
                chars.nth(width);
                out.push(ch);
            }
            _ => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    /// What containerlab 0.79 prints for a failed line whose stderr ends in a newline, as
    /// charmbracelet/log v0.4.2 lays it out (the trailing empty line included).
    const FAILED: &str = "20:36:01 INFO Executed command node=gw command=\"ip link set eth1 up\" stdout=\"\"
20:36:01 ERRO Failed to execute command command=\"ip addr add 10.0.0.1/24 dev eth9\" node=host1 rc=1 stdout=\"\"
  stderr=
  │ Cannot find device \"eth9\"

20:36:02 INFO Adding host entries path=/etc/hosts
";

    #[test]
    fn a_failed_line_with_stderr_on_continuation_lines() {
        assert_eq!(
            exec_problems(&lines(FAILED)),
            [ExecProblem::Failed {
                node: "host1".into(),
                line: None,
                command: "ip addr add 10.0.0.1/24 dev eth9".into(),
                rc: "1".into(),
                stdout: "".into(),
                stderr: "Cannot find device \"eth9\"".into(),
            }]
        );
    }

    #[test]
    fn multi_line_stdout_then_more_keys_on_a_line_of_their_own() {
        let text = "20:36:01 ERRO Failed to execute command command=\"sh -c 'echo a; echo b; false'\" node=pod1 rc=1
  stdout=
  │ a
  │ b
 stderr=\"\"
";
        let p = exec_problems(&lines(text));
        let ExecProblem::Failed { stdout, stderr, .. } = &p[0] else {
            panic!("{p:?}")
        };
        assert_eq!(stdout, "a\nb");
        assert_eq!(stderr, "");
        assert!(p[0].to_string().ends_with(": a\n    b"), "{}", p[0]);
    }

    #[test]
    fn two_line_stderr_and_an_inline_one() {
        let text = "20:36:01 ERRO Failed to execute command command=false node=a rc=1 stdout=\"\"
  stderr=
  │ first
  │ second
20:36:01 ERRO Failed to execute command command=\"ip link set x up\" node=b rc=2 stdout=\"\" stderr=\"no \\\"x\\\"\\tthere\"
";
        let p = exec_problems(&lines(text));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(matches!(&p[0], ExecProblem::Failed { stderr, command, .. }
            if stderr == "first\nsecond" && command == "false"));
        assert!(matches!(&p[1], ExecProblem::Failed { stderr, rc, .. }
            if stderr == "no \"x\"\tthere" && rc == "2"));
    }

    #[test]
    fn a_line_that_could_not_run_and_one_that_could_not_be_split() {
        let text = "20:36:01 ERRO clab-l-host1: failed to execute cmd: \"ip link set \\\"eth1\\\" up\" with error Error response from daemon: container 1f2e is not running
20:36:01 WARN Failed to parse the command string: echo 'oops, EOF found when expecting closing quote
╭──────────┬───────╮
";
        assert_eq!(
            exec_problems(&lines(text)),
            [
                ExecProblem::NotRun {
                    container: "clab-l-host1".into(),
                    line: None,
                    command: "ip link set \"eth1\" up".into(),
                    error: "Error response from daemon: container 1f2e is not running".into(),
                },
                ExecProblem::Unsplittable {
                    text: "Failed to parse the command string: echo 'oops, EOF found when \
                           expecting closing quote"
                        .into()
                }
            ]
        );
    }

    #[test]
    fn colour_codes_and_successful_lines_are_not_problems() {
        let text = "\x1b[1mINFO\x1b[0m Executed command node=a command=true stdout=\"\"\n";
        assert!(exec_problems(&lines(text)).is_empty());
        let coloured = "20:00:00 \x1b[1;38;5;204mERRO\x1b[0m Failed to execute command command=false node=a rc=1 stdout=\"\" stderr=\"\"";
        assert_eq!(exec_problems(&lines(coloured)).len(), 1);
    }

    #[test]
    fn escapes_are_undone_and_lone_backslashes_kept() {
        assert_eq!(unescape(r#"a\"b\n\x41\u00e9 c\d"#), "a\"b\nAé c\\d");
    }
}
