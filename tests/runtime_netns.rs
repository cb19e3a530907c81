//! The netns runtime driven through the real binary. Every lab has a unique name and a guard
//! that destroys it, so tests run in parallel and leak nothing even when they fail.

mod common;

use common::procs::{deploy_stuck_on_a_line, sleeps, unique_sleep};
use common::*;

fn e2e(mode: &str, hosts: usize) {
    require_root();
    let before = RootSnapshot::take();
    let lab = LabGuard::gen(mode, hosts, &unique(&format!("rt{}", &mode[..2])));
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let nodes = cnilab::topology::Topology::load(&lab.file)
        .unwrap()
        .nodes()
        .count();
    assert_eq!(lab.namespaces().len(), nodes, "one namespace per node");

    let failed = ping_all_pairs(&lab.lab());
    assert!(
        failed.is_empty(),
        "pods that could not reach each other: {failed:?}"
    );

    // Forwarding is set inside the hosts by the exec lines, whatever the root namespace says.
    let host = &lab.lab().hosts[0].namespace;
    let fwd = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            host,
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&fwd.stdout).trim(), "1");

    let out = lab.destroy();
    assert!(out.status.success(), "destroy failed: {}", stderr(&out));
    lab.assert_gone();
    before.assert_untouched_by(&Footprint::of_files(&[&lab.file]));
}

#[test]
fn host_gw_pods_reach_each_other_and_destroy_leaves_nothing() {
    e2e("host-gw", 3);
}

#[test]
fn vxlan_pods_reach_each_other_and_destroy_leaves_nothing() {
    e2e("vxlan", 3);
}

#[test]
fn the_per_line_baseline_builds_the_same_working_lab() {
    require_root();
    let lab = LabGuard::gen("vxlan", 2, &unique("rtpl"));
    let out = lab.run(&["deploy", "--exec-per-line"]);
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    assert_all_pairs_ping(&lab.lab());
    assert!(lab.destroy().status.success());
    lab.assert_gone();
}

#[test]
fn two_labs_run_side_by_side() {
    require_root();
    let a = LabGuard::gen("host-gw", 2, &unique("rtsa"));
    let b = LabGuard::gen("host-gw", 2, &unique("rtsb"));
    assert!(a.deploy().status.success());
    let out = b.deploy();
    assert!(out.status.success(), "second lab: {}", stderr(&out));
    assert_all_pairs_ping(&a.lab());
    assert_all_pairs_ping(&b.lab());
    assert!(a.destroy().status.success());
    assert!(
        !b.namespaces().is_empty(),
        "destroying one lab touched the other"
    );
    assert!(b.destroy().status.success());
    a.assert_gone();
    b.assert_gone();
}

fn two_nodes(name: &str, b_exec: &[&str]) -> String {
    let exec: String = b_exec.iter().map(|l| format!("        - {l}\n")).collect();
    format!(
        "name: {name}\ntopology:\n  nodes:\n    sw:\n      kind: bridge\n    a:\n      kind: linux\n      exec:\n        - ip addr add 10.9.0.1/24 dev eth1\n    b:\n      kind: linux\n      exec:\n{exec}  links:\n    - endpoints: [\"a:eth1\", \"sw:a1\"]\n    - endpoints: [\"b:eth1\", \"sw:b1\"]\n"
    )
}

#[test]
fn a_bridge_node_switches_between_its_ports() {
    require_root();
    let name = unique("rtbr");
    let lab = LabGuard::from_yaml(
        &name,
        &two_nodes(&name, &["ip addr add 10.9.0.2/24 dev eth1"]),
    );
    let out = lab.deploy();
    assert!(out.status.success(), "{}", stderr(&out));
    let ping = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("clab-{name}-a"),
            "ping",
            "-c1",
            "-W2",
            "10.9.0.2",
        ])
        .status()
        .unwrap();
    assert!(ping.success(), "a cannot reach b through the bridge node");
    assert!(lab.destroy().status.success());
    lab.assert_gone();
}

/// iproute2 reads a bare word that abbreviates one of its keywords as the keyword; interface
/// names like these must still become interfaces of those names, in the lab's namespaces only.
#[test]
fn interface_names_that_look_like_ip_keywords_stay_names() {
    require_root();
    let name = unique("rtkw");
    let yaml = format!(
        "name: {name}\ntopology:\n  nodes:\n    r1:\n      kind: linux\n      exec:\n        - ip addr add 10.9.1.1/24 dev name\n    r2:\n      kind: linux\n      exec:\n        - ip addr add 10.9.1.2/24 dev a\n  links:\n    - endpoints: [\"r1:name\", \"r2:a\"]\n"
    );
    let lab = LabGuard::from_yaml(&name, &yaml);
    let root_links = || {
        let out = std::process::Command::new("ip")
            .args(["-o", "link"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = lab.deploy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !root_links().contains(&format!("link-netns clab-{name}-")),
        "a lab link has an end in the root namespace:\n{}",
        root_links()
    );
    let ping = std::process::Command::new("ip")
        .args(["netns", "exec", &format!("clab-{name}-r1")])
        .args(["ping", "-c1", "-w5", "10.9.1.2"])
        .status()
        .unwrap();
    assert!(
        ping.success(),
        "r1 cannot reach r2 over the link `name`--`a`"
    );
    assert!(lab.destroy().status.success());
    lab.assert_gone();
}

fn assert_exec_failure(per_line: bool, line: &str, expect: &[&str]) {
    require_root();
    let name = unique("rtbad");
    let lab = LabGuard::from_yaml(
        &name,
        &two_nodes(
            &name,
            &[
                "ip addr add 10.9.0.2/24 dev eth1",
                line,
                "ip link set eth1 up",
            ],
        ),
    );
    let out = if per_line {
        lab.run(&["deploy", "--exec-per-line"])
    } else {
        lab.deploy()
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "node `b`, exec line 2 `{line}` failed with exit code"
        )),
        "{err}"
    );
    for e in expect {
        assert!(err.contains(e), "expected `{e}` in: {err}");
    }
    lab.assert_gone();
}

#[test]
fn a_bad_ip_line_in_a_batch_names_node_and_line_and_leaves_nothing() {
    assert_exec_failure(
        false,
        "ip link set eth9 up",
        &["Cannot find device \"eth9\""],
    );
}

#[test]
fn a_bad_line_run_alone_names_node_and_line_and_leaves_nothing() {
    assert_exec_failure(
        true,
        "ip link set eth9 up",
        &["Cannot find device \"eth9\""],
    );
}

/// The plan runs a node's `bridge fdb` lines after its `ip route` lines, which they commute
/// with; a bad FDB line must still be named before a bad route line later in the file.
#[test]
fn a_bad_line_the_plan_moved_is_named_before_a_later_bad_line() {
    require_root();
    let name = unique("rtmv");
    let lab = LabGuard::from_yaml(
        &name,
        &two_nodes(
            &name,
            &[
                "ip addr add 10.9.0.2/24 dev eth1",
                "ip link add vx0 type vxlan id 1 dev eth1 dstport 4789 nolearning",
                "ip route add 10.20.1.0/24 via 10.9.0.1 dev eth1",
                "bridge fdb add 02:00:00:00:00:01 dst 10.9.0.1 dev vx9 self permanent",
                "ip route add 10.20.2.0/24 via 10.9.0.1 dev eth9",
                "bridge fdb add 02:00:00:00:00:02 dst 10.9.0.1 dev vx0 self permanent",
            ],
        ),
    );
    let out = lab.deploy();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("node `b`, exec line 4 `bridge fdb add 02:00:00:00:00:01"),
        "{err}"
    );
    lab.assert_gone();
}

#[test]
fn a_bad_sysctl_line_names_node_and_line() {
    assert_exec_failure(false, "sysctl -w net.ipv4.no_such_key=1", &["no_such_key"]);
}

#[test]
fn a_failing_program_reports_its_exit_code() {
    assert_exec_failure(false, "false", &["exit code 1"]);
}

#[test]
fn an_unsupported_kind_is_named_and_exits_2() {
    let name = unique("rtkind");
    let lab = LabGuard::from_yaml(
        &name,
        &two_nodes(&name, &[]).replace("kind: bridge", "kind: nokia_srlinux"),
    );
    let out = lab.deploy();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("node `sw` has kind `nokia_srlinux`"),
        "{}",
        stderr(&out)
    );
    lab.assert_gone();
}

#[test]
fn a_link_type_it_cannot_make_is_named_and_exits_2() {
    // `type: veth` is realised (see tests/lifecycle_labs.rs); other link types are not.
    let name = unique("rtlink");
    let yaml = two_nodes(&name, &[]).replace(
        "    - endpoints: [\"b:eth1\", \"sw:b1\"]\n",
        "    - type: macvlan\n      endpoints: [\"b:eth1\", \"sw:b1\"]\n",
    );
    let lab = LabGuard::from_yaml(&name, &yaml);
    let out = lab.deploy();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("link 2 has `type: macvlan`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_program_fails_preflight() {
    require_root();
    let name = unique("rtpre");
    let lab = LabGuard::from_yaml(&name, &two_nodes(&name, &["cnilab-no-such-tool --x"]));
    let out = lab.deploy();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`cnilab-no-such-tool` is not on PATH (node `b`, exec line 1"),
        "{}",
        stderr(&out)
    );
    lab.assert_gone();
}

#[test]
fn a_lab_that_is_up_cannot_be_deployed_again() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("rtup"));
    assert!(lab.deploy().status.success());
    let before = lab.namespaces();
    let out = lab.deploy();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is already up"), "{}", stderr(&out));
    assert_eq!(
        lab.namespaces(),
        before,
        "the failed second deploy touched the running lab"
    );
    assert_all_pairs_ping(&lab.lab());

    // A namespace of the lab that exists without cnilab's record also counts as up.
    assert!(lab.destroy().status.success());
    let ns = ScratchNetns::new(&format!("clab-{}-pod1", lab.name));
    let out = lab.deploy();
    drop(ns);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!(
            "network namespace `clab-{}-pod1` already exists",
            lab.name
        )),
        "{}",
        stderr(&out)
    );
    lab.assert_gone();
}

#[test]
fn destroy_twice_succeeds() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("rtdd"));
    assert!(lab.deploy().status.success());
    assert!(lab.destroy().status.success());
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing to destroy"),
        "{}",
        stderr(&out)
    );
    lab.assert_gone();
}

#[test]
fn destroy_with_another_runtime_than_the_deploy_changes_nothing() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("rtmis"));
    assert!(lab.deploy().status.success());
    let out = lab.run(&["destroy", "--runtime", "containerlab"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deployed with the netns runtime"),
        "{}",
        stderr(&out)
    );
    assert_eq!(lab.namespaces().len(), 5, "the lab is untouched");
    assert!(lab.state_file().exists(), "and so is its record");
    assert!(lab.destroy().status.success());
    lab.assert_gone();
}

#[test]
fn inspect_shows_each_node_up_then_missing() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("rtin"));
    assert!(lab.deploy().status.success());
    let out = lab.run(&["inspect", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runtime"], "netns");
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    assert!(nodes.iter().all(|n| n["state"] == "up"), "{v}");
    let sw = nodes.iter().find(|n| n["node"] == "switch").unwrap();
    assert_eq!(sw["kind"], "bridge");
    assert_eq!(sw["namespace"], format!("clab-{}-switch", lab.name));
    let table = String::from_utf8(lab.run(&["inspect"]).stdout).unwrap();
    assert!(
        table.contains("NAMESPACE") && table.contains("up, netns runtime"),
        "{table}"
    );

    assert!(lab.destroy().status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&lab.run(&["inspect", "--json"]).stdout).unwrap();
    assert!(v["runtime"].is_null());
    assert!(v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["state"] == "missing"));
}

#[test]
fn an_interrupted_deploy_rolls_back_everything() {
    require_root();
    let name = unique("rtint");
    // A slow exec line holds the deploy mid-way, after namespaces and links exist: the line
    // runs once they do.
    let secs = unique_sleep();
    let lab = LabGuard::from_yaml(
        &name,
        &two_nodes(&name, &[&format!("sleep {secs}"), "ip link set eth1 up"]),
    );
    let child = deploy_stuck_on_a_line(&lab, &secs);
    assert_eq!(lab.namespaces().len(), 3, "the namespaces exist by now");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = wait_for_exit(child, GENEROUS, "the interrupted deploy to exit");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert_eq!(
        sleeps(&secs),
        Vec::<i32>::new(),
        "the line outlived the deploy"
    );
    lab.assert_gone();
}

#[test]
fn destroy_cleans_up_after_a_deploy_that_was_killed() {
    require_root();
    let name = unique("rtkill");
    let lab = LabGuard::from_yaml(&name, &two_nodes(&name, &["sleep 3"]));
    let mut child = std::process::Command::new(bin())
        .arg("deploy")
        .arg("-t")
        .arg(&lab.file)
        .spawn()
        .unwrap();
    wait_until(GENEROUS, "deploy to make its namespaces", || {
        lab.namespaces().len() >= 3
    });
    // SIGKILL: no chance to roll back, as in a crash.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        lab.state_file().exists(),
        "the deploy had not recorded what it made"
    );
    let out = lab.run(&["inspect"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("deploy killed"), "{said}");
    let out = lab.deploy();
    assert_eq!(out.status.code(), Some(2), "a half-made lab counts as up");
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
}

#[test]
fn without_root_deploy_says_so_and_exits_2() {
    require_root();
    let name = unique("rtnr");
    let lab = LabGuard::from_yaml(&name, &two_nodes(&name, &[]));
    let nobody = NobodyBin::new();
    let out = nobody
        .command()
        .arg("deploy")
        .arg("-t")
        .arg(&lab.file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cnilab must run as root"),
        "{}",
        stderr(&out)
    );
    lab.assert_gone();
}
