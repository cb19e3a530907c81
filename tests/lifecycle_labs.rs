//! Labs a person can lose track of: files of running labs, labs listed and destroyed without
//! their files, half-made labs, and the hints that get each one unstuck.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

/// A lab whose records live in a folder of the test's own, so `destroy --all` and
/// `inspect --all` see only this test's labs and never another run's.
fn isolated(lab: &mut LabGuard, records: &Path) {
    lab.env
        .push(("CNILAB_STATE_DIR".into(), records.display().to_string()));
}

fn run_env(records: &Path, args: &[&str]) -> std::process::Output {
    cnilab()
        .args(args)
        .env("CNILAB_STATE_DIR", records)
        .output()
        .unwrap()
}

#[test]
fn the_file_of_a_running_lab_is_never_overwritten() {
    require_root();
    let lab = LabGuard::gen("vxlan", 2, &unique("lcow"));
    let out = lab.deploy();
    assert!(out.status.success(), "{}", stderr(&out));
    // The summary line says what happened and how to undo it, even without a terminal.
    let said = stderr(&out);
    let abs = lab.file.display().to_string();
    assert!(
        said.contains(&format!("deployed {}: 6 nodes in", lab.name)),
        "{said}"
    );
    assert!(said.contains(&format!("down -t {abs}")), "{said}");
    let before = std::fs::read_to_string(&lab.file).unwrap();
    // Another lab's name, so that a regression could never touch a lab of someone else's.
    let other = unique("lcow2");
    for extra in [&[][..], &["--force"][..]] {
        let out = cnilab()
            .args([
                "gen", "--mode", "host-gw", "--hosts", "2", "--name", &other, "-o",
            ])
            .arg(&lab.file)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("lab `{}`", lab.name)),
            "{}",
            stderr(&out)
        );
    }
    let out = cnilab()
        .args([
            "up", "--mode", "host-gw", "--hosts", "2", "--name", &other, "-o",
        ])
        .arg(&lab.file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&lab.file).unwrap(), before);
    assert!(lab.destroy().status.success());
    lab.assert_gone();
}

#[test]
fn labs_are_listed_and_destroyed_without_their_files() {
    require_root();
    let records = tempfile::tempdir().unwrap();
    let mut vx = LabGuard::gen("vxlan", 2, &unique("lcvx"));
    isolated(&mut vx, records.path());
    // A second lab from the same folder.
    let hg_file = vx.dir.path().join("hg.yaml");
    let mut hg = LabGuard::from_yaml(&unique("lchg"), "");
    isolated(&mut hg, records.path());
    cnilab()
        .args([
            "gen", "--mode", "host-gw", "--hosts", "2", "--name", &hg.name, "-o",
        ])
        .arg(&hg_file)
        .assert()
        .success();
    hg.file = hg_file.clone();
    assert!(vx.deploy().status.success());
    assert!(hg.deploy().status.success());

    let out = run_env(records.path(), &["inspect", "--all", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let labs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let labs = labs.as_array().unwrap();
    assert_eq!(labs.len(), 2, "{labs:?}");
    let row = |name: &str| labs.iter().find(|l| l["lab"] == name).unwrap().clone();
    assert_eq!(row(&vx.name)["runtime"], "netns");
    assert_eq!(row(&vx.name)["condition"], "up");
    assert_eq!(row(&vx.name)["nodes"], 6);
    assert_eq!(row(&hg.name)["file"], hg_file.display().to_string());
    let table = run_env(records.path(), &["inspect", "--all"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains(&vx.name) && table.contains(&hg.name),
        "{table}"
    );

    // The vxlan lab's file is gone: its record still says what to remove.
    std::fs::remove_file(&vx.file).unwrap();
    let out = run_env(records.path(), &["destroy", "--name", &vx.name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(vx.namespaces(), Vec::<String>::new());
    assert_eq!(hg.namespaces().len(), 5, "the other lab is untouched");

    let out = run_env(records.path(), &["destroy", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(hg.namespaces(), Vec::<String>::new());
    let out = run_env(records.path(), &["inspect", "--all", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

/// verify refuses a half lab with exit 2 and names a fix that works when followed.
#[test]
fn verify_refuses_a_half_made_lab_and_its_hint_works() {
    require_root();
    let lab = LabGuard::gen("vxlan", 2, &unique("lchalf"));
    assert!(lab.deploy().status.success());
    let ns = format!("clab-{}-pod2", lab.name);
    assert!(std::process::Command::new("ip")
        .args(["netns", "del", &ns])
        .status()
        .unwrap()
        .success());
    let out = lab.run(&["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "no report for a half lab");
    let hint = format!("cnilab destroy -t {}", lab.file.display());
    assert!(stderr(&out).contains(&hint), "{}", stderr(&out));
    // deploy agrees with verify rather than calling the lab up.
    let out = lab.deploy();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&hint), "{}", stderr(&out));
    assert!(lab.destroy().status.success());
    lab.assert_gone();
    assert!(lab.deploy().status.success(), "deploy works after the fix");
}

#[test]
fn verify_refuses_a_lab_recorded_mid_deploy() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("lcmid"));
    assert!(lab.deploy().status.success());
    // What a deploy killed with SIGKILL leaves: a record still saying "deploying".
    let state = std::fs::read_to_string(lab.state_file()).unwrap();
    std::fs::write(lab.state_file(), state.replace("\"up\"", "\"deploying\"")).unwrap();
    let out = lab.run(&["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("mid-deploy"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cnilab destroy -t /"),
        "{}",
        stderr(&out)
    );
    assert!(lab.destroy().status.success());
    lab.assert_gone();
}

#[test]
fn deploy_and_destroy_agree_about_namespaces_cnilab_did_not_make() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("lcfor"));
    let ns = ScratchNetns::new(&format!("clab-{}-pod1", lab.name));
    let deploy = lab.deploy();
    let destroy = lab.destroy();
    assert!(ns.exists(), "a namespace cnilab did not make is left alone");
    drop(ns);
    for out in [&deploy, &destroy] {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
        assert!(stderr(out).contains("ip netns del"), "{}", stderr(out));
    }
    lab.assert_gone();
}

#[test]
fn destroy_as_a_normal_user_is_one_line_and_exit_2() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("lcuser"));
    assert!(lab.deploy().status.success());
    std::fs::set_permissions(
        lab.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let nobody = NobodyBin::new();
    let out = nobody
        .command()
        .args(["destroy", "-t"])
        .arg(&lab.file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("needs root") && err.contains("sudo cnilab destroy"),
        "{err}"
    );
    assert_eq!(lab.namespaces().len(), 5, "nothing was removed");
}

fn tx_packets(ns: &str) -> u64 {
    let out = std::process::Command::new("ip")
        .args(["-n", ns, "-j", "-s", "link", "show", "eth1"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["stats64"]["tx"]["packets"].as_u64().unwrap()
}

#[test]
fn a_bad_pcap_folder_fails_before_any_probe() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("lcpcap"));
    assert!(lab.deploy().status.success());
    let not_a_dir = lab.dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let pod1 = format!("clab-{}-pod1", lab.name);
    let before = tx_packets(&pod1);
    let out = lab.run(&["verify", "--pcap", &not_a_dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--pcap"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(tx_packets(&pod1), before, "pod1 sent no probe");
}

#[test]
fn destroying_a_lab_that_was_never_up_needs_no_containerlab() {
    require_root();
    let lab = LabGuard::gen("host-gw", 2, &unique("lcnever"));
    let out = cnilab()
        .args(["destroy", "--runtime", "containerlab", "-t"])
        .arg(&lab.file)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("nothing to destroy"), "{err}");
    assert!(!err.contains("not on PATH"), "{err}");
}

/// containerlab's extended link format is realised by the netns runtime like the brief one.
#[test]
fn the_netns_runtime_deploys_extended_veth_links() {
    require_root();
    let name = unique("lcext");
    let yaml = format!(
        "name: {name}\ntopology:\n  nodes:\n    a:\n      kind: linux\n      network-mode: none\n      exec: [\"ip addr add 10.9.0.1/24 dev eth1\"]\n    b:\n      kind: linux\n      exec: [\"ip addr add 10.9.0.2/24 dev eth7\"]\n  links:\n    - type: veth\n      mtu: 1500\n      endpoints:\n        - {{node: a, interface: eth1}}\n        - {{node: b, interface: eth7}}\n"
    );
    let lab = LabGuard::from_yaml(&name, &yaml);
    let out = lab.deploy();
    assert!(out.status.success(), "{}", stderr(&out));
    let ping = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &format!("clab-{name}-a"),
            "ping",
            "-c1",
            "-w5",
            "10.9.0.2",
        ])
        .output()
        .unwrap();
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    assert!(lab.destroy().status.success());
    lab.assert_gone();

    // A setting it cannot honour is refused by name, before anything is made.
    let host = LabGuard::from_yaml(
        &name,
        &yaml.replace("network-mode: none", "network-mode: host"),
    );
    let out = host.deploy();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("node `a` has `network-mode: host`"),
        "{}",
        stderr(&out)
    );
    host.assert_gone();
}
