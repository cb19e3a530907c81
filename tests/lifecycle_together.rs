//! Commands that meet on one lab: two verify runs, a verify and a destroy, a deploy and a
//! destroy, and a deploy killed half-way. Root only.

mod common;

use common::procs::{deploy_stuck_on_a_line, sleeps, unique_sleep};
use common::*;
use serde_json::Value;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Generous: each wait is for something that takes well under a second on an idle machine.
const LIMIT: Duration = Duration::from_secs(30);

fn spawn(lab: &LabGuard, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .arg("-t")
        .arg(&lab.file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `done` holds, failing with `what` after [`LIMIT`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < LIMIT, "{what} within {LIMIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The command and PID the lab's run lock names (the lock is per lab, under /run/cnilab).
fn run_lock_holder(lab: &LabGuard) -> String {
    std::fs::read_to_string(format!("/run/cnilab/{}.run.lock", lab.name)).unwrap_or_default()
}

/// Waits until `child`, a verify, holds the lab's run lock: it is verifying.
fn wait_for_verify(lab: &LabGuard, child: &Child) {
    let want = format!("verify {} ", child.id());
    wait_until("verify took the lab", || {
        run_lock_holder(lab).starts_with(&want)
    });
}

/// A 3-host host-gw lab whose host3 lost its underlay link: verify fails its pairs only after
/// every retry, so it runs for seconds, long enough for another command to meet it.
fn slow_to_verify(prefix: &str) -> LabGuard {
    require_root();
    let lab = LabGuard::gen("host-gw", 3, &unique(prefix));
    let out = lab.deploy();
    assert!(out.status.success(), "{}", stderr(&out));
    let ns = format!("clab-{}-host3", lab.name);
    let down = Command::new("ip")
        .args(["-n", &ns, "link", "set", "eth1", "down"])
        .status()
        .unwrap();
    assert!(down.success(), "cannot take host3's eth1 down");
    lab
}

/// The exit code and standard error of `child`, which must end within [`LIMIT`].
fn code_of(mut child: Child, what: &str) -> (Option<i32>, String) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (status.code(), stderr(&out));
        }
        if start.elapsed() > LIMIT {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("{what} still ran after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_verify_runs_started_together_both_pass_and_one_says_it_waits() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("tgtwo"));
    assert!(lab.deploy().status.success());
    let (a, b) = (spawn(&lab, &["verify"]), spawn(&lab, &["verify"]));
    let (a_pid, b_pid) = (a.id(), b.id());
    let (a_code, a_err) = code_of(a, "the first verify");
    let (b_code, b_err) = code_of(b, "the second verify");
    assert_eq!(a_code, Some(0), "{a_err}");
    assert_eq!(b_code, Some(0), "{b_err}");
    let waited_for = |err: &str, pid: u32| {
        err.contains(&format!(
            "waiting for verify (pid {pid}) on lab {}",
            lab.name
        ))
    };
    assert!(
        waited_for(&a_err, b_pid) ^ waited_for(&b_err, a_pid),
        "exactly one run waits for the other, and says so:\n{a_err}\n---\n{b_err}"
    );
    for err in [&a_err, &b_err] {
        assert!(err.matches("waiting for").count() <= 1, "said once: {err}");
    }
    assert!(lab.destroy().status.success());
    lab.assert_gone();
}

#[test]
fn no_wait_refuses_at_once_and_names_the_run_that_holds_the_lab() {
    let lab = slow_to_verify("tgnowait");
    let first = spawn(&lab, &["verify"]);
    wait_for_verify(&lab, &first);
    let start = Instant::now();
    for args in [
        &["verify", "--no-wait"][..],
        &["trace", "pod1", "pod2", "--no-wait"],
    ] {
        let out = lab.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let holder = format!(
            "verify (pid {}) is running on lab `{}`",
            first.id(),
            lab.name
        );
        assert!(stderr(&out).contains(&holder), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "nothing was probed");
    }
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "--no-wait waited: {:?}",
        start.elapsed()
    );
    code_of(first, "the first verify");
    assert!(lab.destroy().status.success());
    lab.assert_gone();
}

#[test]
fn destroy_during_a_verify_ends_it_with_exit_2_and_leaves_nothing() {
    let lab = slow_to_verify("tgdestroy");
    let verify = spawn(&lab, &["verify"]);
    wait_for_verify(&lab, &verify);
    let out = lab.destroy();
    assert!(out.status.success(), "destroy: {}", stderr(&out));
    let stopped = Instant::now();
    let (code, err) = code_of(verify, "verify after the destroy");
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "verify ran on for {:?} after the destroy",
        stopped.elapsed()
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("the lab was destroyed while verifying"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    lab.assert_gone();
    for scope in ["run", "life"] {
        let lock = format!("/run/cnilab/{}.{scope}.lock", lab.name);
        assert!(!std::path::Path::new(&lock).exists(), "{lock} left behind");
    }
}

/// Processes in any namespace of the lab, found as `ip netns pids` finds them.
fn lab_pids(lab: &LabGuard) -> Vec<String> {
    lab.namespaces()
        .iter()
        .flat_map(|ns| {
            let out = Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn two_linked_nodes(name: &str, b_exec: &[String]) -> String {
    let exec: String = b_exec.iter().map(|l| format!("        - {l}\n")).collect();
    format!(
        "name: {name}\ntopology:\n  nodes:\n    a:\n      kind: linux\n    b:\n      kind: linux\n      exec:\n{exec}  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n"
    )
}

/// cnilab with these arguments alone, no -t.
fn bare(args: &[&str]) -> Output {
    cnilab().args(args).output().unwrap()
}

fn inspect_all_row(lab: &LabGuard) -> Value {
    let out = bare(&["inspect", "--all", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let labs: Value = serde_json::from_slice(&out.stdout).unwrap();
    labs.as_array()
        .unwrap()
        .iter()
        .find(|l| l["lab"] == lab.name.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("inspect --all lists no {}: {labs}", lab.name))
}

#[test]
fn a_killed_deploy_is_told_from_a_running_one_and_destroy_removes_it() {
    require_root();
    let name = unique("tgkill");
    let (daemon, stuck) = (unique_sleep(), unique_sleep());
    let lines = [
        format!("setsid -f sleep {daemon}"),
        format!("sleep {stuck}"),
    ];
    let lab = LabGuard::from_yaml(&name, &two_linked_nodes(&name, &lines));
    let mut deploy = deploy_stuck_on_a_line(&lab, &stuck);
    let pid = deploy.id();

    let out = lab.run(&["inspect"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains(&format!("deploy running (pid {pid})")),
        "{said}"
    );
    assert!(said.contains("wait for it"), "{said}");
    assert_eq!(inspect_all_row(&lab)["condition"], "deploy-running");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    deploy.wait().unwrap();
    assert!(!lab_pids(&lab).is_empty(), "the nodes' holders outlive it");

    let out = lab.run(&["inspect", "--json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let condition = json["condition"].as_str().unwrap();
    assert!(condition.contains("killed"), "{json}");
    let destroy = format!("cnilab destroy -t {}", lab.file.display());
    assert!(json["next"].as_str().unwrap().contains(&destroy), "{json}");
    let row = inspect_all_row(&lab);
    assert_eq!(row["condition"], "deploy-killed", "{row}");
    assert_eq!(row["pid"], pid, "{row}");
    let table = String::from_utf8_lossy(&bare(&["inspect", "--all"]).stdout).into_owned();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&name) && l.contains("deploy-killed")),
        "{table}"
    );
    let again = lab.deploy();
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("killed"), "{}", stderr(&again));
    assert!(stderr(&again).contains(&destroy), "{}", stderr(&again));

    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sleeps(&daemon),
        Vec::<i32>::new(),
        "a node's daemon outlived destroy"
    );
    assert_eq!(
        sleeps(&stuck),
        Vec::<i32>::new(),
        "the stuck line outlived its deploy"
    );
    lab.assert_gone();
}

#[test]
fn destroy_during_a_deploy_waits_for_it_and_says_so() {
    require_root();
    let name = unique("tglife");
    // A line that ends by itself a few seconds in, so the deploy finishes while destroy waits.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let stuck = format!("4.{}{}", std::process::id() % 1000, nanos % 1_000_000);
    let lab = LabGuard::from_yaml(&name, &two_linked_nodes(&name, &[format!("sleep {stuck}")]));
    let deploy = deploy_stuck_on_a_line(&lab, &stuck);
    let pid = deploy.id();
    let out = lab.destroy();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("waiting for deploy (pid {pid}) on lab {name}")),
        "{err}"
    );
    let deployed = deploy.wait_with_output().unwrap();
    assert!(deployed.status.success(), "{}", stderr(&deployed));
    assert!(err.contains(&format!("destroyed `{name}`")), "{err}");
    lab.assert_gone();
}

#[test]
fn a_large_deploy_killed_while_it_makes_namespaces_is_removed_whole() {
    require_root();
    let lab = LabGuard::gen("host-gw", 40, &unique("tgbig"));
    let mut deploy = Command::new(bin())
        .args(["deploy", "-t"])
        .arg(&lab.file)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as the record says deploying and the first namespaces exist.
    wait_until("the deploy recorded the lab and made namespaces", || {
        std::fs::read_to_string(lab.state_file()).is_ok_and(|s| s.contains("\"deploying\""))
            && !lab.namespaces().is_empty()
    });
    deploy.kill().unwrap();
    deploy.wait().unwrap();

    let out = lab.run(&["inspect"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("deploy killed"), "{said}");
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
    assert_eq!(lab_pids(&lab), Vec::<String>::new());
}
