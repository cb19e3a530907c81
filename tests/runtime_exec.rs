//! Exec lines end when their process ends: a child that keeps the line's output open does not
//! hold the deploy, a stuck line is killed after --exec-timeout, a signal always ends cnilab,
//! and nothing a line started outlives its lab. Root only.

mod common;

use common::procs::{deploy_stuck_on_a_line, sleeps, unique_sleep};
use common::*;
use std::time::{Duration, Instant};

/// `cnilab deploy` of `lab`, its output piped.
fn deploy_command(lab: &LabGuard) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("deploy").arg("-t").arg(&lab.file);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

#[test]
fn a_child_holding_the_lines_output_does_not_hold_the_deploy() {
    require_root();
    let name = unique("exsetsid");
    let secs = unique_sleep();
    let lab = LabGuard::one_node(&name, &[&format!("setsid -f sleep {secs}")]);
    // The child sleeps for over an hour: a deploy that waited for it would not return within
    // the bound, and one that returns finds it still running.
    let out = wait_for_exit(
        deploy_command(&lab).spawn().unwrap(),
        GENEROUS,
        "deploy to return while the line's child runs",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sleeps(&secs).len(),
        1,
        "the line's child should run while the lab is up"
    );
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sleeps(&secs),
        Vec::<i32>::new(),
        "destroy left the line's child running"
    );
    lab.assert_gone();
}

#[test]
fn a_line_past_exec_timeout_is_killed_named_and_rolled_back() {
    require_root();
    let name = unique("extime");
    let secs = unique_sleep();
    let lab = LabGuard::one_node(&name, &["ip link set lo up", &format!("sleep {secs}")]);
    let start = Instant::now();
    let out = wait_for_exit(
        deploy_command(&lab)
            .args(["--exec-timeout", "2"])
            .spawn()
            .unwrap(),
        GENEROUS,
        "deploy to give up on the line after 2 s",
    );
    // A lower bound only: a loaded machine makes the deploy slower, never faster.
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "deploy gave up after {:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("node `n1`, exec line 2")
            && err.contains(&format!("sleep {secs}"))
            && err.contains("did not finish within 2 s"),
        "{err}"
    );
    assert_eq!(sleeps(&secs), Vec::<i32>::new());
    lab.assert_gone();
}

#[test]
fn exec_timeout_must_be_a_positive_number_of_seconds() {
    let out = cnilab()
        .args(["deploy", "--exec-timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--exec-timeout"), "{}", stderr(&out));
}

#[test]
fn sigterm_ends_a_deploy_stuck_on_a_line_within_seconds_leaving_nothing() {
    require_root();
    let name = unique("exterm");
    let secs = unique_sleep();
    let lab = LabGuard::one_node(&name, &[&format!("sleep {secs}")]);
    let child = deploy_stuck_on_a_line(&lab, &secs);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    // The line sleeps for over an hour: stopping within the bound is stopping at once.
    let out = wait_for_exit(child, GENEROUS, "cnilab to stop after SIGTERM");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(
        sleeps(&secs),
        Vec::<i32>::new(),
        "the line outlived the deploy"
    );
    lab.assert_gone();
}

#[test]
fn a_second_signal_stops_at_once_and_says_what_may_be_left() {
    require_root();
    let name = unique("exterm2");
    let secs = unique_sleep();
    let lab = LabGuard::one_node(&name, &[&format!("sleep {secs}")]);
    let child = deploy_stuck_on_a_line(&lab, &secs);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // Both land before the first can be handled to the end, and two different signals never
    // merge into one as two of the same kind may.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("interrupted again") && err.contains("cnilab destroy -t"),
        "{err}"
    );
    // What the second signal left behind, destroy removes.
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sleeps(&secs), Vec::<i32>::new());
    lab.assert_gone();
}
