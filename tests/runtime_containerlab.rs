//! The containerlab runtime against a stand-in `containerlab` on PATH that records its
//! arguments. Host bridges are real (root namespace), with unique names, and always removed.

mod common;

use common::*;
use std::path::{Path, PathBuf};

struct Fake {
    lab: LabGuard,
    bridge: String,
    log: PathBuf,
}

impl Fake {
    /// A lab with one host bridge and two linux nodes, and a PATH holding the stand-in.
    fn new(mode: &str, with_containerlab: bool) -> Fake {
        require_root();
        let name = unique("cl");
        // Bridge names share the 15-character limit of all interface names.
        let bridge = format!("cb{}", &name[2..]);
        assert!(bridge.len() <= 15);
        let yaml = format!(
            "name: {name}\ntopology:\n  nodes:\n    {bridge}:\n      kind: bridge\n    a:\n      kind: linux\n      image: nicolaka/netshoot\n      exec:\n        - ip link set eth1 up\n    b:\n      kind: linux\n      image: nicolaka/netshoot\n  links:\n    - endpoints: [\"a:eth1\", \"{bridge}:a1\"]\n    - endpoints: [\"b:eth1\", \"{bridge}:b1\"]\n"
        );
        let mut lab = LabGuard::from_yaml(&name, &yaml);
        let bin_dir = lab.dir.path().join("bin");
        std::fs::create_dir(&bin_dir).unwrap();
        if with_containerlab {
            let fixture =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-containerlab");
            std::os::unix::fs::symlink(fixture, bin_dir.join("containerlab")).unwrap();
        }
        let log = lab.dir.path().join("clab.log");
        let path = if with_containerlab {
            format!(
                "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                bin_dir.display()
            )
        } else {
            // Only what the runtime needs besides containerlab, so that a real containerlab
            // installed on the machine is not found (and run) by accident.
            for tool in ["ip", "modprobe"] {
                if let Some(found) = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                    .iter()
                    .map(|d| Path::new(d).join(tool))
                    .find(|p| p.exists())
                {
                    std::os::unix::fs::symlink(found, bin_dir.join(tool)).unwrap();
                }
            }
            bin_dir.display().to_string()
        };
        lab.env = vec![
            ("PATH".into(), path),
            ("FAKE_CLAB_LOG".into(), log.display().to_string()),
            ("FAKE_CLAB_MODE".into(), mode.into()),
            ("FAKE_CLAB_BRIDGE".into(), bridge.clone()),
        ];
        Fake { lab, bridge, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn bridge_exists(&self) -> bool {
        Path::new("/sys/class/net").join(&self.bridge).exists()
    }

    fn file(&self) -> String {
        self.lab.file.display().to_string()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if self.bridge_exists() {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", &self.bridge])
                .status();
        }
    }
}

#[test]
fn deploy_makes_the_host_bridge_runs_containerlab_and_destroy_undoes_both() {
    let f = Fake::new("ok", true);
    let out = f.lab.run(&["deploy", "--runtime", "containerlab"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = f.log();
    assert!(
        log.contains(&format!("args: deploy -t {}\n", f.file())),
        "{log}"
    );
    assert!(
        log.contains(&format!("bridge-present: {}", f.bridge)),
        "containerlab ran before the bridge existed: {log}"
    );
    // containerlab's output reaches the user.
    assert!(
        stderr(&out).contains("Containerlab started"),
        "{}",
        stderr(&out)
    );
    assert!(f.bridge_exists());
    let v: serde_json::Value =
        serde_json::from_slice(&f.lab.run(&["inspect", "--json"]).stdout).unwrap();
    assert_eq!(v["runtime"], "containerlab");

    // No --runtime: destroy follows what the state file recorded.
    let out = f.lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        f.log()
            .contains(&format!("args: destroy -t {} --cleanup\n", f.file())),
        "{}",
        f.log()
    );
    assert!(!f.bridge_exists(), "the host bridge was left behind");
    assert!(!f.lab.state_file().exists());
}

#[test]
fn a_failed_exec_line_fails_the_deploy_and_rolls_back() {
    let f = Fake::new("exec-fail", true);
    let out = f.lab.run(&["deploy", "--runtime", "containerlab"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("1 exec line(s) failed"), "{err}");
    assert!(
        err.contains("node `clab-fake-b`: `ip addr add 10.0.0.1/24 dev eth9` (rc 1): Cannot find device \"eth9\""),
        "{err}"
    );
    assert!(
        f.log().contains("args: destroy -t"),
        "no rollback: {}",
        f.log()
    );
    assert!(!f.bridge_exists());
    assert!(!f.lab.state_file().exists());
}

#[test]
fn containerlab_failing_is_reported_with_its_output_and_rolled_back() {
    let f = Fake::new("fail", true);
    let out = f.lab.run(&["deploy", "--runtime", "containerlab"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("`containerlab deploy` failed with exit code 1"),
        "{err}"
    );
    assert!(
        err.contains("failed to create container clab-fake-a"),
        "{err}"
    );
    assert!(!f.bridge_exists());
    assert!(!f.lab.state_file().exists());
}

#[test]
fn a_missing_containerlab_says_how_to_install_it_and_makes_nothing() {
    let f = Fake::new("ok", false);
    let out = f.lab.run(&["deploy", "--runtime", "containerlab"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("containerlab is not on PATH"), "{err}");
    assert!(err.contains("https://get.containerlab.dev"), "{err}");
    assert!(!f.bridge_exists());
    assert!(!f.lab.state_file().exists());
    assert_eq!(f.log(), "");
}

/// A lab of the same name already running under containerlab (deployed by hand, so cnilab
/// has no record of it) is refused before containerlab runs, and nothing of it is destroyed.
#[test]
fn a_lab_already_up_under_containerlab_is_refused_and_left_alone() {
    let f = Fake::new("ok", true);
    let ns = ScratchNetns::new(&format!("clab-{}-a", f.lab.name));
    let out = f.lab.run(&["deploy", "--runtime", "containerlab"]);
    let exists = ns.exists();
    drop(ns);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("already up"), "{}", stderr(&out));
    assert!(exists, "the running lab's namespace is untouched");
    assert_eq!(f.log(), "", "containerlab was not run at all");
    assert!(!f.bridge_exists());
    assert!(!f.lab.state_file().exists());
}

#[test]
fn an_existing_host_bridge_is_used_and_left_alone() {
    let f = Fake::new("ok", true);
    let made = std::process::Command::new("ip")
        .args(["link", "add", &f.bridge, "type", "bridge"])
        .status()
        .unwrap();
    assert!(made.success());
    assert!(f
        .lab
        .run(&["deploy", "--runtime", "containerlab"])
        .status
        .success());
    assert!(f.lab.destroy().status.success());
    assert!(
        f.bridge_exists(),
        "destroy removed a bridge cnilab did not make"
    );
}
