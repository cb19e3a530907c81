//! `binds:` on the netns runtime, as containerlab reads them: a host file or folder seen at the
//! node's own path (the source relative to the topology file), read-only with `:ro`, in the
//! node's mount namespace only. Root only.

mod common;

use common::*;

fn lab_with_binds(exec: &[&str]) -> LabGuard {
    require_root();
    let name = unique("rtb");
    let lines: String = exec.iter().map(|l| format!("        - {l}\n")).collect();
    let lab = LabGuard::from_yaml(
        &name,
        &format!(
            "name: {name}\ntopology:\n  nodes:\n    n1:\n      kind: linux\n      binds:\n        \
             - conf/daemon.conf:/run/cfg/daemon.conf:ro\n        - out:/run/daemon\n      exec:\n{lines}"
        ),
    );
    std::fs::create_dir_all(lab.dir.path().join("conf")).unwrap();
    std::fs::create_dir_all(lab.dir.path().join("out")).unwrap();
    std::fs::write(lab.dir.path().join("conf/daemon.conf"), "from the host\n").unwrap();
    lab
}

#[test]
fn a_node_reads_a_bound_file_and_writes_into_a_bound_folder() {
    let lab = lab_with_binds(&["cp /run/cfg/daemon.conf /run/daemon/copied"]);
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let copied = std::fs::read_to_string(lab.dir.path().join("out/copied")).unwrap();
    assert_eq!(copied, "from the host\n");
    // The node's /run is its own: nothing of the binds shows on the host's /run.
    assert!(!std::path::Path::new("/run/cfg/daemon.conf").exists());
    let out = lab.destroy();
    assert!(out.status.success(), "destroy failed: {}", stderr(&out));
    lab.assert_gone();
}

#[test]
fn a_read_only_bind_cannot_be_written_and_the_deploy_leaves_nothing() {
    let lab = lab_with_binds(&["touch /run/cfg/daemon.conf"]);
    let out = lab.deploy();
    assert!(!out.status.success(), "writing to a :ro bind worked");
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    lab.assert_gone();
    let text = std::fs::read_to_string(lab.dir.path().join("conf/daemon.conf")).unwrap();
    assert_eq!(text, "from the host\n");
}

#[test]
fn a_bind_whose_source_is_missing_fails_the_deploy_naming_it() {
    let lab = lab_with_binds(&["true"]);
    std::fs::remove_file(lab.dir.path().join("conf/daemon.conf")).unwrap();
    let out = lab.deploy();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("daemon.conf"), "{}", stderr(&out));
    lab.assert_gone();
}
