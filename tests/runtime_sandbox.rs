//! A topology file cannot reach the host: on the netns runtime each node's exec lines run in
//! the node's sandbox (read-only view of the host, private /tmp, own PID namespace, network
//! capabilities only). Root only.

mod common;

use common::procs::{deploy_stuck_on_a_line, sleeps, unique_sleep};
use common::*;
use std::path::PathBuf;

/// A path on the host outside /tmp and /run (which the node sees as its own tmpfs), in the
/// test's own folder.
fn host_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// The host's mount points, without the namespaces other labs on this machine come and go by.
fn host_mounts() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| !m.starts_with("/run/netns/"))
        .collect();
    v.sort();
    v
}

/// Deploys a one-node lab with `line`; the line must fail, named, and the lab roll back.
fn assert_line_refused(tag: &str, line: &str) {
    require_root();
    let name = unique(tag);
    let lab = LabGuard::one_node(&name, &["ip link set lo up", line]);
    let out = lab.deploy();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("node `n1`, exec line 2"), "{err}");
    assert!(err.contains(line.split(' ').next().unwrap()), "{err}");
    lab.assert_gone();
}

#[test]
fn a_line_cannot_create_a_host_file() {
    let path = host_path(&unique("touched-"));
    assert_line_refused("sbtouch", &format!("touch {}", path.display()));
    assert!(!path.exists(), "{} was created on the host", path.display());
}

#[test]
fn a_shell_line_cannot_write_a_host_file() {
    let path = host_path(&unique("written-"));
    assert_line_refused(
        "sbsh",
        &format!("sh -c \"echo owned > {}\"", path.display()),
    );
    assert!(!path.exists(), "{} was written on the host", path.display());
}

#[test]
fn a_line_cannot_kill_a_host_process() {
    let secs = unique_sleep();
    let mut victim = std::process::Command::new("sleep")
        .arg(&secs)
        .spawn()
        .unwrap();
    assert_line_refused("sbkill", &format!("kill -9 {}", victim.id()));
    let alive = victim.try_wait().unwrap().is_none();
    let _ = victim.kill();
    let _ = victim.wait();
    assert!(alive, "the exec line killed a host process");
}

#[test]
fn a_line_cannot_mount_on_the_host() {
    let before = host_mounts();
    assert_line_refused("sbmount", "mount -t tmpfs none /mnt");
    assert_eq!(host_mounts(), before, "the host's mount table changed");
}

#[test]
fn a_line_cannot_set_a_host_wide_sysctl() {
    let before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    assert_line_refused("sbsysctl", "sysctl -w kernel.domainname=cnilab-owned");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        before
    );
}

#[test]
fn tmp_is_the_nodes_own_and_the_labs_folder_is_writable() {
    require_root();
    let name = unique("sbtmp");
    let in_tmp = format!("/tmp/{}", unique("cnilab-node-tmp-"));
    let lab = LabGuard::one_node(&name, &[]);
    // containerlab's lab folder, beside the topology file.
    let folder = lab.dir.path().join(format!("clab-{name}"));
    std::fs::create_dir(&folder).unwrap();
    let note = folder.join("note");
    let lines = [
        format!("touch {in_tmp}"),
        format!("touch {}", note.display()),
        // The node's own network settings stay writable, in-process and from a program.
        "sysctl -w net.ipv4.ip_forward=1".to_string(),
        "sh -c \"echo 1 > /proc/sys/net/ipv4/conf/all/forwarding\"".to_string(),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let yaml = std::fs::read_to_string(&lab.file).unwrap();
    std::fs::write(
        &lab.file,
        yaml + &lines
            .iter()
            .map(|l| format!("        - {l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let out = lab.deploy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !std::path::Path::new(&in_tmp).exists(),
        "{in_tmp} reached the host"
    );
    assert!(note.exists(), "the lab's folder was not writable");
}

#[test]
fn exec_on_host_runs_lines_on_the_host_with_a_warning() {
    require_root();
    let name = unique("sbhost");
    let path = host_path(&unique("on-host-"));
    let lab = LabGuard::one_node(&name, &[&format!("touch {}", path.display())]);
    let out = lab.run(&["deploy", "--exec-on-host"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: --exec-on-host"),
        "{}",
        stderr(&out)
    );
    assert!(
        path.exists(),
        "--exec-on-host did not run the line on the host"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_background_process_of_a_line_ends_with_destroy() {
    require_root();
    let name = unique("sbdaemon");
    let secs = unique_sleep();
    let lab = LabGuard::one_node(&name, &[&format!("sh -c \"sleep {secs} &\"")]);
    let out = lab.deploy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sleeps(&secs).len(),
        1,
        "the background process is not running"
    );
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sleeps(&secs), Vec::<i32>::new(), "it outlived its lab");
    lab.assert_gone();
}

#[test]
fn a_background_process_of_a_line_ends_with_ctrl_c_during_deploy() {
    require_root();
    let name = unique("sbdaemonint");
    let (daemon, stuck) = (unique_sleep(), unique_sleep());
    let lab = LabGuard::one_node(
        &name,
        &[
            &format!("sh -c \"sleep {daemon} &\""),
            &format!("sleep {stuck}"),
        ],
    );
    let child = deploy_stuck_on_a_line(&lab, &stuck);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(
        sleeps(&daemon),
        Vec::<i32>::new(),
        "the background process outlived the deploy"
    );
    assert_eq!(sleeps(&stuck), Vec::<i32>::new());
    lab.assert_gone();
}

/// A one-node lab, deployed, and its node's holder: the first process in its namespace.
fn deployed_one_node(prefix: &str) -> (LabGuard, i32) {
    require_root();
    let lab = LabGuard::one_node(&unique(prefix), &["ip link set lo up"]);
    let out = lab.deploy();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", &format!("clab-{}-n1", lab.name)])
        .output()
        .unwrap();
    let holder = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("the node has a holder process")
        .parse()
        .unwrap();
    (lab, holder)
}

#[test]
fn a_node_holds_no_other_labs_namespace_alive() {
    let (_lab, holder) = deployed_one_node("sbpin");
    let mounts = std::fs::read_to_string(format!("/proc/{holder}/mountinfo")).unwrap();
    let pinned: Vec<&str> = mounts.lines().filter(|l| l.contains(" nsfs ")).collect();
    assert!(
        pinned.is_empty(),
        "the node's mount namespace keeps namespaces alive: {pinned:?}"
    );
}

#[test]
fn a_node_whose_namespace_was_deleted_by_hand_still_ends_with_destroy() {
    let (lab, holder) = deployed_one_node("sbdel");
    let ns = format!("clab-{}-n1", lab.name);
    assert!(std::process::Command::new("ip")
        .args(["netns", "del", &ns])
        .status()
        .unwrap()
        .success());
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    let alive = std::fs::read_to_string(format!("/proc/{holder}/stat"))
        .is_ok_and(|s| !s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'));
    assert!(!alive, "the node's holder {holder} outlived its lab");
}

#[test]
fn a_holder_is_pid_1_of_its_node_and_holds_only_dev_null() {
    let (_lab, holder) = deployed_one_node("sbhold");
    let comm = std::fs::read_to_string(format!("/proc/{holder}/comm")).unwrap();
    assert_eq!(comm.trim(), "cnilab-node");
    let status = std::fs::read_to_string(format!("/proc/{holder}/status")).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert!(nspid.ends_with("\t1"), "not PID 1 of its node: {nspid}");
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{holder}/fd"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let to = std::fs::read_link(e.path()).unwrap();
            format!("{} -> {}", e.file_name().to_string_lossy(), to.display())
        })
        .collect();
    assert_eq!(fds.len(), 3, "{fds:?}");
    assert!(fds.iter().all(|f| f.ends_with("-> /dev/null")), "{fds:?}");
}

#[test]
fn the_holder_entry_is_internal_and_not_in_help() {
    let out = cnilab().arg("__node-holder").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("internal"), "{}", stderr(&out));
    let help = cnilab().arg("--help").output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("holder"));
}
