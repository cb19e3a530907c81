//! The containerlab runtime against a stand-in `containerlab` on PATH that records its
//! arguments. Host bridges are real (root namespace), with unique names, and always removed.

mod common;

use common::*;
use std::path::{Path, PathBuf};

struct Fake {
    lab: LabGuard,
    bridge: String,
    log: PathBuf,
    containers: PathBuf,
}

impl Fake {
    /// A lab with one host bridge and two linux nodes, and a PATH holding the stand-in.
    fn new(mode: &str, with_containerlab: bool) -> Fake {
        Fake::with_exec(mode, with_containerlab, "ip link set eth1 up")
    }

    fn with_exec(mode: &str, with_containerlab: bool, exec: &str) -> Fake {
        require_root();
        let name = unique("cl");
        // Bridge names share the 15-character limit of all interface names.
        let bridge = format!("cb{}", &name[2..]);
        assert!(bridge.len() <= 15);
        let yaml = format!(
            "name: {name}\ntopology:\n  nodes:\n    {bridge}:\n      kind: bridge\n    a:\n      kind: linux\n      image: nicolaka/netshoot\n      exec:\n        - {exec}\n    b:\n      kind: linux\n      image: nicolaka/netshoot\n      exec:\n        - ip link set eth1 up\n        - ip addr add 10.0.0.1/24 dev eth9\n  links:\n    - endpoints: [\"a:eth1\", \"{bridge}:{bridge}a\"]\n    - endpoints: [\"b:eth1\", \"{bridge}:{bridge}b\"]\n"
        );
        let mut lab = LabGuard::from_yaml(&name, &yaml);
        let bin_dir = lab.dir.path().join("bin");
        std::fs::create_dir(&bin_dir).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        if with_containerlab {
            for (tool, fixture) in [
                ("containerlab", "fake-containerlab"),
                ("docker", "fake-docker"),
            ] {
                std::os::unix::fs::symlink(fixtures.join(fixture), bin_dir.join(tool)).unwrap();
            }
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
        let containers = lab.dir.path().join("containers");
        lab.env = vec![
            ("PATH".into(), path),
            ("FAKE_CLAB_LOG".into(), log.display().to_string()),
            ("FAKE_CLAB_MODE".into(), mode.into()),
            ("FAKE_CLAB_BRIDGE".into(), bridge.clone()),
            ("FAKE_CLAB_LAB".into(), name.clone()),
            ("FAKE_CLAB_NODES".into(), "a b".into()),
            (
                "FAKE_CLAB_CONTAINERS".into(),
                containers.display().to_string(),
            ),
        ];
        Fake {
            lab,
            bridge,
            log,
            containers,
        }
    }

    fn set_env(&mut self, key: &str, value: &str) {
        self.lab.env.retain(|(k, _)| k != key);
        self.lab.env.push((key.into(), value.into()));
    }

    fn deploy(&self) -> std::process::Output {
        self.lab.run(&["deploy", "--runtime", "containerlab"])
    }

    /// The lines the stand-ins recorded, without the docker queries.
    fn clab_calls(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.starts_with("args: "))
            .map(String::from)
            .collect()
    }

    fn lab_dir(&self) -> PathBuf {
        self.lab.dir.path().join(format!("clab-{}", self.lab.name))
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
        for link in [self.bridge.clone(), format!("{}a", self.bridge)] {
            if Path::new("/sys/class/net").join(&link).exists() {
                let _ = std::process::Command::new("ip")
                    .args(["link", "del", &link])
                    .status();
            }
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
        log.contains(&format!("args: deploy -t {} --log-level info\n", f.file())),
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
        f.log().contains(&format!(
            "args: destroy -t {} --log-level info --cleanup\n",
            f.file()
        )),
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
    // The whole stderr, from containerlab's continuation lines, with the short node name.
    assert!(
        err.contains(
            "node `b`, exec line 2 `ip addr add 10.0.0.1/24 dev eth9` exited with 1: Cannot find device \"eth9\"\n    (the second line of stderr)"
        ),
        "{err}"
    );
    // Containers were made, so the rollback removes them and their lab directory.
    assert!(
        f.log().contains("args: destroy -t") && f.log().contains("--cleanup"),
        "no rollback: {}",
        f.log()
    );
    assert!(!f.lab_dir().exists());
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
    // cnilab's shared diagnosis may refuse before containerlab's version is even asked.
    assert!(
        f.clab_calls().iter().all(|c| c == "args: version"),
        "containerlab deploy or destroy ran: {}",
        f.log()
    );
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

#[test]
fn an_exec_that_could_not_run_fails_the_deploy() {
    let f = Fake::new("not-run", true);
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("1 exec line(s) failed"), "{err}");
    assert!(
        err.contains(&format!(
            "container `clab-{}-b`, exec line 1 `ip link set eth1 up` was not run: Error response from daemon: container 3f1c0d2e is not running",
            f.lab.name
        )),
        "{err}"
    );
    assert!(!f.lab.state_file().exists());
}

#[test]
fn a_too_old_containerlab_is_refused_naming_both_versions() {
    let mut f = Fake::new("ok", true);
    f.set_env("FAKE_CLAB_VERSION", "0.64.1");
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("0.64.1"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("too old") && line.contains("0.65.0"),
        "{line}"
    );
    assert_eq!(f.clab_calls(), ["args: version"], "{}", f.log());
    assert!(!f.bridge_exists());
    assert!(!f.lab.state_file().exists());
}

/// A stopped container of the lab leaves only a dangling /run/netns link: the docker label
/// finds it, and the deploy is refused before anything is made.
#[test]
fn a_stopped_container_of_the_same_lab_means_it_is_up() {
    let f = Fake::new("ok", true);
    std::fs::write(&f.containers, format!("clab-{}-a\ta\texited\n", f.lab.name)).unwrap();
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("already up"), "{err}");
    assert!(
        err.contains(&format!("clab-{}-a (exited)", f.lab.name)),
        "{err}"
    );
    assert!(
        f.log()
            .contains(&format!("--filter label=containerlab={}", f.lab.name)),
        "{}",
        f.log()
    );
    assert_eq!(f.clab_calls(), ["args: version"], "{}", f.log());
    assert!(!f.lab.state_file().exists());
}

/// `CLAB_LOG_LEVEL=fatal` would hide every ERRO line: containerlab runs without the user's
/// CLAB_* variables and with `--log-level info`.
#[test]
fn clab_variables_cannot_hide_a_failed_exec_line() {
    let mut f = Fake::new("exec-fail", true);
    f.set_env("CLAB_LOG_LEVEL", "fatal");
    f.set_env("CLAB_DESTROY_ALL", "true");
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 exec line(s) failed"),
        "{}",
        stderr(&out)
    );
    assert!(!f.log().contains("env: CLAB_"), "{}", f.log());
}

/// Nothing was made, so there is nothing for `destroy --cleanup` to find, and with no
/// containers it would remove the first `clab-*` directory next to the file, any lab's.
#[test]
fn a_rollback_with_no_containers_passes_no_cleanup_and_spares_other_labs() {
    let f = Fake::new("fail", true);
    let other = f.lab.dir.path().join("clab-aaa-other-lab");
    std::fs::create_dir(&other).unwrap();
    // Left by an earlier run of this very lab: that one is removed.
    std::fs::create_dir(f.lab_dir()).unwrap();
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!f.log().contains("--cleanup"), "{}", f.log());
    assert!(other.exists(), "another lab's directory was removed");
    assert!(!f.lab_dir().exists(), "the lab's own directory was left");
    assert!(!f.bridge_exists());
    assert!(!f.lab.state_file().exists());
}

#[test]
fn a_line_that_cannot_be_split_is_refused_before_anything_runs() {
    let f = Fake::with_exec("ok", true, "echo 'unclosed");
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("node `a`, exec line 1: cannot split `echo 'unclosed`"),
        "{err}"
    );
    assert_eq!(f.clab_calls(), ["args: version"], "{}", f.log());
    // The netns runtime refuses it too, before making anything.
    let out = f.lab.run(&["deploy", "--runtime", "netns"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot split"), "{}", stderr(&out));
    assert!(f.lab.namespaces().is_empty());
}

#[test]
fn destroying_a_lab_that_was_never_up_says_so_and_succeeds() {
    for with_containerlab in [true, false] {
        let f = Fake::new("ok", with_containerlab);
        let out = f.lab.run(&["destroy", "--runtime", "containerlab"]);
        let err = stderr(&out);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("nothing to destroy"), "{err}");
        assert!(!err.contains("not on PATH"), "{err}");
        assert!(f.clab_calls().is_empty(), "{}", f.log());
    }
}

/// Two labs whose bridges have the same host-side port names would collide in the root
/// namespace: the second is refused with a line naming the port.
#[test]
fn a_bridge_port_that_exists_already_is_refused() {
    let f = Fake::new("ok", true);
    let port = format!("{}a", f.bridge);
    let made = std::process::Command::new("ip")
        .args(["link", "add", &port, "type", "bridge"])
        .status()
        .unwrap();
    assert!(made.success());
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "interface `{port}` (a port of bridge `{}`) already exists",
            f.bridge
        )),
        "{err}"
    );
    assert!(!f.bridge_exists());
    assert_eq!(f.clab_calls(), ["args: version"], "{}", f.log());
}

/// The CI job that runs the real containerlab installs one pinned release and pulls the very
/// image the templates name, so a green run means the same thing twice.
#[test]
fn the_workflow_pins_containerlab_and_the_node_image() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/ci.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let ci: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let job = &ci["jobs"]["containerlab"];
    let version = job["env"]["CONTAINERLAB_VERSION"].as_str().expect("pinned");
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(
        parts.len() == 3 && (parts[0], parts[1]) >= (0, 65),
        "{version} is not a version cnilab supports"
    );
    assert_eq!(job["env"]["NODE_IMAGE"], cnilab::render::IMAGE);
    let runs: Vec<&str> = job["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(
        runs.iter()
            .any(|r| r.contains("get.containerlab.dev)\" -- -v \"$CONTAINERLAB_VERSION\"")),
        "containerlab is installed unpinned"
    );
    assert!(runs
        .iter()
        .any(|r| r.contains("docker pull \"$NODE_IMAGE\"")));
    assert!(
        !runs
            .iter()
            .any(|r| r.contains("sudo ./target/release/cnilab gen")),
        "gen runs under sudo"
    );
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("containerlab {version}")),
        "the README does not name the tested version {version}"
    );
}

/// A second lab that names a bridge the first one made is refused before anything is made:
/// under containerlab both would hang off the same bridge in the root namespace.
#[test]
fn a_bridge_another_lab_made_is_refused() {
    let first = Fake::new("ok", true);
    assert!(first.deploy().status.success());
    let second = Fake::new("ok", true);
    let yaml = std::fs::read_to_string(&second.lab.file)
        .unwrap()
        .replace(
            &format!("\"{}:", second.bridge),
            &format!("\"{}:", first.bridge),
        )
        .replace(
            &format!("    {}:\n", second.bridge),
            &format!("    {}:\n", first.bridge),
        );
    std::fs::write(&second.lab.file, yaml).unwrap();
    let out = second.deploy();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "bridge `{}` belongs to lab `{}`",
            first.bridge, first.lab.name
        )),
        "{err}"
    );
    assert_eq!(second.clab_calls(), ["args: version"], "{}", second.log());
    assert!(!second.lab.state_file().exists());
    assert!(first.lab.destroy().status.success());
    assert!(!first.bridge_exists());
}

/// Node states come from the lab's labelled containers: a stopped one is shown as stopped.
#[test]
fn inspect_shows_a_stopped_container_as_stopped() {
    let f = Fake::new("ok", true);
    assert!(f.deploy().status.success());
    let list = std::fs::read_to_string(&f.containers).unwrap();
    std::fs::write(&f.containers, list.replace("\ta\trunning", "\ta\texited")).unwrap();
    let out = f.lab.run(&["inspect", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let state = |node: &str| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node"] == node)
            .map(|n| n["state"].clone())
    };
    assert_eq!(state("a"), Some("stopped".into()), "{v}");
    assert_eq!(state("b"), Some("up".into()), "{v}");
    assert_eq!(state(&f.bridge), Some("up".into()), "{v}");
    assert!(f.lab.destroy().status.success());
}

/// `containerlab destroy -t FILE` removes only the nodes FILE names now: a container of a node
/// since dropped from the file is named, with the command that removes it, and the record
/// stays so that destroy can run again.
#[test]
fn containers_destroy_by_file_leaves_behind_are_named() {
    let f = Fake::new("ok", true);
    assert!(f.deploy().status.success());
    let mut list = std::fs::read_to_string(&f.containers).unwrap();
    let stray = format!("clab-{}-c", f.lab.name);
    list.push_str(&format!("{stray}\tc\trunning\n"));
    std::fs::write(&f.containers, &list).unwrap();
    let out = f.lab.destroy();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("docker rm -f {stray}")), "{err}");
    assert!(
        f.lab.state_file().exists(),
        "the record went before the lab"
    );
    std::fs::write(&f.containers, "").unwrap();
    assert!(f.lab.destroy().status.success());
    assert!(!f.lab.state_file().exists());
}
