//! Driving `cnilab verify` in tests: a deployed lab, its JSON report, a pair's reasons, and
//! commands run inside the lab's nodes to break it.

use super::*;
use serde_json::Value;

/// Runs a command inside one of the lab's nodes, whatever its outcome.
pub fn exec_output(lab: &LabGuard, node: &str, line: &str) -> std::process::Output {
    let ns = format!("clab-{}-{node}", lab.name);
    std::process::Command::new("ip")
        .args(["netns", "exec", &ns])
        .args(line.split_whitespace())
        .output()
        .unwrap()
}

/// Runs a command inside one of the lab's nodes and insists that it worked.
pub fn exec(lab: &LabGuard, node: &str, line: &str) {
    let out = exec_output(lab, node, line);
    assert!(
        out.status.success(),
        "{node}: `{line}` failed: {}",
        stderr(&out)
    );
}

pub fn deployed(mode: &str, hosts: usize, prefix: &str) -> LabGuard {
    require_root();
    let lab = LabGuard::gen(mode, hosts, &unique(prefix));
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    lab
}

/// Runs `cnilab verify --json`, returns the exit code and the report.
pub fn verify(lab: &LabGuard, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    let out = lab.run(&args);
    let code = out.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify (exit {code}) printed no JSON report ({e}); stderr: {}",
            stderr(&out)
        )
    });
    (code, report)
}

pub fn pair<'a>(report: &'a Value, from: &str, to: &str) -> &'a Value {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from"] == from && p["to"] == to)
        .unwrap_or_else(|| panic!("no pair {from} -> {to} in {report:#}"))
}

/// Each reason's `message`, the text the table shows. Every reason must carry a `kind` and a
/// `message`: a report without them fails here.
pub fn reasons(p: &Value) -> Vec<String> {
    p["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["kind"].is_string(), "a reason without a kind: {r:#}");
            r["message"]
                .as_str()
                .expect("a reason without a message")
                .to_string()
        })
        .collect()
}

/// Each reason's `kind`.
pub fn kinds(p: &Value) -> Vec<String> {
    p["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The pair failed and one of its reasons contains every one of `needles`.
pub fn assert_fails_with(report: &Value, from: &str, to: &str, needles: &[&str]) {
    let p = pair(report, from, to);
    assert_eq!(p["passed"], false, "{from} -> {to} should fail: {p:#}");
    let all = reasons(p);
    assert!(
        all.iter().any(|r| needles.iter().all(|n| r.contains(n))),
        "{from} -> {to}: no reason contains {needles:?}; reasons: {all:#?}"
    );
}

pub fn ping_ok(lab: &LabGuard, from: &str, to: &str) -> bool {
    let ns = format!("clab-{}-{from}", lab.name);
    std::process::Command::new("ip")
        .args(["netns", "exec", &ns, "ping", "-c1", "-W2", to])
        .output()
        .unwrap()
        .status
        .success()
}
