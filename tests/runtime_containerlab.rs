//! The containerlab runtime against stand-ins for `containerlab` and `docker` on PATH
//! (tests/fixtures): they read the topology, fail where containerlab v0.79.0 fails, and record
//! their arguments. Host bridges are real (root namespace), with unique names, and always
//! removed; the stand-in's node namespaces are real too, and the lab guard removes them.

mod common;

use common::*;
use std::path::{Path, PathBuf};

struct Fake {
    lab: LabGuard,
    bridge: String,
    log: PathBuf,
    containers: PathBuf,
}

/// What the stand-in does on deploy, besides running the topology's exec lines.
#[derive(Clone, Copy)]
enum Scenario {
    Ok,
    /// Node b's line with `dev eth9` exits 1 with two lines of stderr.
    ExecFails,
    /// Node b's container stops as it starts: its exec lines cannot run.
    Stopped,
    /// Docker refuses to create the first container: deploy exits 1.
    DockerFails,
}

impl Scenario {
    fn env(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Scenario::Ok => vec![],
            Scenario::ExecFails => vec![
                ("FAKE_CLAB_FAIL", "dev eth9"),
                (
                    "FAKE_CLAB_STDERR",
                    "Cannot find device \"eth9\"\n(the second line of stderr)",
                ),
            ],
            Scenario::Stopped => vec![("FAKE_CLAB_STOPPED", "b")],
            Scenario::DockerFails => vec![("FAKE_CLAB_DOCKER_FAILS", "1")],
        }
    }
}

impl Fake {
    /// A lab with one host bridge and two linux nodes, and a PATH holding the stand-ins.
    fn new(scenario: Scenario, with_containerlab: bool) -> Fake {
        Fake::with_exec(scenario, with_containerlab, "ip link set eth1 up")
    }

    fn with_exec(scenario: Scenario, with_containerlab: bool, exec: &str) -> Fake {
        require_root();
        let name = unique("cl");
        // Bridge names share the 15-character limit of all interface names.
        let bridge = format!("cb{}", &name[2..]);
        let yaml = format!(
            "name: {name}\ntopology:\n  nodes:\n    {bridge}:\n      kind: bridge\n    a:\n      kind: linux\n      image: nicolaka/netshoot\n      exec:\n        - {exec}\n    b:\n      kind: linux\n      image: nicolaka/netshoot\n      exec:\n        - ip link set eth1 up\n        - ip addr add 10.0.0.1/24 dev eth9\n  links:\n    - endpoints: [\"a:eth1\", \"{bridge}:{bridge}a\"]\n    - endpoints: [\"b:eth1\", \"{bridge}:{bridge}b\"]\n"
        );
        Fake::around(
            LabGuard::from_yaml(&name, &yaml),
            bridge,
            scenario,
            with_containerlab,
        )
    }

    /// A `--routing bgp` lab as gen writes it (topology, and each daemon's config beside it),
    /// its one host bridge renamed to a name of its own.
    fn bgp() -> Fake {
        require_root();
        let name = unique("clbgp");
        let lab = LabGuard::from_yaml(&name, "");
        let out = cnilab()
            .args([
                "gen",
                "--mode",
                "host-gw",
                "--hosts",
                "3",
                "--underlay",
                "routed",
            ])
            .args(["--routing", "bgp", "--name", &name, "--force", "-o"])
            .arg(&lab.file)
            .output()
            .unwrap();
        assert!(out.status.success(), "gen failed: {}", stderr(&out));
        let bridge = format!("cb{}", &name[5..]);
        let yaml = std::fs::read_to_string(&lab.file).unwrap();
        assert!(
            yaml.contains("\n    wan:\n"),
            "the lab's bridge is no longer `wan`"
        );
        let yaml = yaml
            .replace("\n    wan:\n", &format!("\n    {bridge}:\n"))
            .replace("\"wan:", &format!("\"{bridge}:"));
        std::fs::write(&lab.file, yaml).unwrap();
        Fake::around(lab, bridge, Scenario::Ok, true)
    }

    fn around(mut lab: LabGuard, bridge: String, scenario: Scenario, with_clab: bool) -> Fake {
        assert!(bridge.len() <= 15);
        let bin_dir = lab.dir.path().join("bin");
        std::fs::create_dir(&bin_dir).unwrap();
        let path = if with_clab {
            for (tool, fixture) in [
                ("containerlab", "fake-containerlab"),
                ("docker", "fake-docker"),
            ] {
                std::os::unix::fs::symlink(fixture_path(fixture), bin_dir.join(tool)).unwrap();
            }
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
        let log = lab.dir.path().join("clab.log");
        let containers = lab.dir.path().join("containers");
        lab.env = vec![
            ("PATH".into(), path),
            ("FAKE_CLAB_LOG".into(), log.display().to_string()),
            (
                "FAKE_CLAB_CONTAINERS".into(),
                containers.display().to_string(),
            ),
        ];
        for (k, v) in scenario.env() {
            lab.env.push((k.into(), v.into()));
        }
        Fake {
            lab,
            bridge,
            log,
            containers,
        }
    }

    fn set_env(&mut self, key: &str, value: &str) {
        self.unset_env(key);
        self.lab.env.push((key.into(), value.into()));
    }

    fn unset_env(&mut self, key: &str) {
        self.lab.env.retain(|(k, _)| k != key);
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

    /// Where cnilab keeps what it generated for the lab.
    fn files_dir(&self) -> PathBuf {
        self.lab
            .dir
            .path()
            .join(format!("{}.cnilab", self.lab.name))
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

    /// A container record as the containerlab stand-in writes it (core/config.go,
    /// addDefaultLabels), for node `node` of this lab.
    fn container(&self, node: &str, state: &str) -> String {
        let (lab, dir) = (&self.lab.name, self.lab.dir.path().display());
        format!(
            "name=clab-{lab}-{node}\tstate={state}\tlabel:containerlab={lab}\t\
             label:clab-node-name={node}\tlabel:clab-node-lab-dir={dir}/clab-{lab}/{node}\t\
             label:clab-topo-file={dir}/clab.yaml\n"
        )
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

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn deploy_makes_the_host_bridge_runs_containerlab_and_destroy_undoes_both() {
    let f = Fake::new(Scenario::Ok, true);
    let out = f.lab.run(&["deploy", "--runtime", "containerlab"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = f.log();
    assert!(
        log.contains(&format!("args: deploy -t {} --log-level info\n", f.file())),
        "{log}"
    );
    // The stand-in, as containerlab, fails the deploy when the bridge is missing; and it made
    // each node's namespace, where containerlab links it.
    assert_eq!(
        f.lab.namespaces(),
        [
            format!("clab-{}-a", f.lab.name),
            format!("clab-{}-b", f.lab.name)
        ]
    );
    // containerlab's output reaches the user, exec lines and all.
    assert!(
        stderr(&out).contains("Containerlab started")
            && stderr(&out)
                .contains("Executed command node=b command=\"ip addr add 10.0.0.1/24 dev eth9\""),
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
    assert!(!f.lab_dir().exists());
    assert!(!f.lab.state_file().exists());
    f.lab.assert_gone();
}

#[test]
fn a_failed_exec_line_fails_the_deploy_and_rolls_back() {
    let f = Fake::new(Scenario::ExecFails, true);
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
    let f = Fake::new(Scenario::DockerFails, true);
    let out = f.lab.run(&["deploy", "--runtime", "containerlab"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("`containerlab deploy` failed with exit code 1"),
        "{err}"
    );
    assert!(
        err.contains(&format!("failed to create container clab-{}-a", f.lab.name)),
        "{err}"
    );
    assert!(!f.bridge_exists());
    assert!(!f.lab.state_file().exists());
}

#[test]
fn a_missing_containerlab_says_how_to_install_it_and_makes_nothing() {
    let f = Fake::new(Scenario::Ok, false);
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
    let f = Fake::new(Scenario::Ok, true);
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
    let f = Fake::new(Scenario::Ok, true);
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
    let f = Fake::new(Scenario::Stopped, true);
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    // Each of the stopped node's lines is reported, numbered; node a's ran.
    assert!(err.contains("2 exec line(s) failed"), "{err}");
    for (n, line) in [
        (1, "ip link set eth1 up"),
        (2, "ip addr add 10.0.0.1/24 dev eth9"),
    ] {
        assert!(
            err.contains(&format!(
                "container `clab-{}-b`, exec line {n} `{line}` was not run: Error response from daemon: container 3f1c0d2e is not running",
                f.lab.name
            )),
            "{err}"
        );
    }
    assert!(!f.lab.state_file().exists());
    f.lab.assert_gone();
}

#[test]
fn a_too_old_containerlab_is_refused_naming_both_versions() {
    let mut f = Fake::new(Scenario::Ok, true);
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
    let f = Fake::new(Scenario::Ok, true);
    std::fs::write(&f.containers, f.container("a", "exited")).unwrap();
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
    let mut f = Fake::new(Scenario::ExecFails, true);
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
    let f = Fake::new(Scenario::DockerFails, true);
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
    let f = Fake::with_exec(Scenario::Ok, true, "echo 'unclosed");
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
        let f = Fake::new(Scenario::Ok, with_containerlab);
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
    let f = Fake::new(Scenario::Ok, true);
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

/// A second lab that names a bridge the first one made is refused before anything is made:
/// under containerlab both would hang off the same bridge in the root namespace.
#[test]
fn a_bridge_another_lab_made_is_refused() {
    let first = Fake::new(Scenario::Ok, true);
    assert!(first.deploy().status.success());
    let second = Fake::new(Scenario::Ok, true);
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
    let f = Fake::new(Scenario::Ok, true);
    assert!(f.deploy().status.success());
    let list = std::fs::read_to_string(&f.containers).unwrap();
    let stopped = list.replace(&f.container("a", "running"), &f.container("a", "exited"));
    assert_ne!(list, stopped);
    std::fs::write(&f.containers, stopped).unwrap();
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
    let f = Fake::new(Scenario::Ok, true);
    assert!(f.deploy().status.success());
    let mut list = std::fs::read_to_string(&f.containers).unwrap();
    let stray = format!("clab-{}-c", f.lab.name);
    list.push_str(&f.container("c", "running"));
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

/// When none of the lab's containers belongs to a node the file still names, `containerlab
/// destroy -t FILE --cleanup` would find nothing and remove the first `clab-*` folder beside the
/// file, another lab's here (core/destroy.go, destroyLabDirs): containerlab is not run, the
/// leftover is named, and only the lab's own folder goes once the containers are gone.
#[test]
fn containerlab_destroy_runs_only_when_it_finds_the_labs_containers() {
    let f = Fake::new(Scenario::Ok, true);
    assert!(f.deploy().status.success());
    let other = f.lab.dir.path().join("clab-aaa-other-lab");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(&f.containers, f.container("c", "running")).unwrap();
    let out = f.lab.destroy();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("docker rm -f clab-{}-c", f.lab.name)),
        "{err}"
    );
    assert!(
        !f.clab_calls()
            .iter()
            .any(|c| c.starts_with("args: destroy")),
        "{}",
        f.log()
    );
    assert!(other.exists(), "another lab's folder was removed");
    assert!(
        f.lab.state_file().exists(),
        "the record went before the lab"
    );
    std::fs::write(&f.containers, "").unwrap();
    let out = f.lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!f.lab_dir().exists(), "the lab's own folder was left");
    assert!(other.exists(), "another lab's folder was removed");
    assert!(!f.lab.state_file().exists());
}

/// A node without exec lines whose container stops at once: containerlab reports nothing and
/// exits 0, but its /run/netns link dangles. The deploy fails naming it, and rolls back.
#[test]
fn a_node_whose_namespace_cannot_be_entered_fails_the_deploy() {
    let mut f = Fake::new(Scenario::Stopped, true);
    let yaml = std::fs::read_to_string(&f.lab.file).unwrap();
    let quiet = yaml.replace(
        "      exec:\n        - ip link set eth1 up\n        - ip addr add 10.0.0.1/24 dev eth9\n",
        "",
    );
    assert_ne!(yaml, quiet);
    std::fs::write(&f.lab.file, quiet).unwrap();
    f.set_env("FAKE_CLAB_STOPPED", "b");
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("clab-{}-b cannot be entered", f.lab.name)),
        "{err}"
    );
    assert!(f.log().contains("--cleanup"), "no rollback: {}", f.log());
    assert!(!f.bridge_exists());
    f.lab.assert_gone();
}

/// The checks that must hold for `--routing bgp` under containerlab: the daemons' configs live
/// outside containerlab's lab folder, so the lab deploys again after a destroy and after a
/// rollback (`destroy --cleanup` both times) against a stand-in that checks bind paths as
/// containerlab does; and a deploy writes them again when they went missing.
#[test]
fn a_bgp_lab_deploys_again_after_destroy_and_after_a_rollback() {
    let mut f = Fake::bgp();
    let conf = f.files_dir().join("bird/host1/bird.conf");
    let original = std::fs::read_to_string(&conf).unwrap();
    let deployed = |f: &Fake| {
        let out = f.deploy();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(f.lab_dir().exists());
        out
    };
    let destroyed = |f: &Fake| {
        let out = f.lab.destroy();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!f.lab_dir().exists(), "destroy --cleanup left clab-<lab>/");
        assert!(conf.exists(), "destroy removed the generated files");
    };
    deployed(&f);
    destroyed(&f);
    deployed(&f);
    destroyed(&f);
    f.set_env("FAKE_CLAB_FAIL", "bird -c");
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("exec line(s) failed"),
        "{}",
        stderr(&out)
    );
    assert!(!f.lab_dir().exists() && conf.exists(), "{}", f.log());
    f.unset_env("FAKE_CLAB_FAIL");
    deployed(&f);
    destroyed(&f);
    std::fs::remove_dir_all(f.files_dir()).unwrap();
    let out = deployed(&f);
    assert!(
        stderr(&out).contains(&format!("{} was missing; wrote it again", conf.display())),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), original);
    destroyed(&f);
    assert_eq!(
        f.clab_calls()
            .iter()
            .filter(|c| c.starts_with("args: destroy") && c.ends_with("--cleanup"))
            .count(),
        5,
        "{}",
        f.log()
    );
    f.lab.assert_gone();
}

/// The stand-ins themselves fail where containerlab and docker do: tests that pass against
/// them would otherwise prove nothing.
#[test]
fn the_containerlab_stand_in_fails_where_containerlab_fails() {
    let f = Fake::bgp();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(fixture_path("fake-containerlab"));
        cmd.args(args).arg("-t").arg(&f.lab.file);
        cmd.envs(f.lab.env.iter().map(|(k, v)| (k, v)));
        cmd.output().unwrap()
    };
    // core/config.go, resolveBindPaths.
    std::fs::remove_dir_all(f.files_dir()).unwrap();
    let out = run(&["deploy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("failed to verify bind path: stat "),
        "{}",
        stderr(&out)
    );
    // nodes/bridge/bridge.go, CheckDeploymentConditions: the bridge is not there.
    let g = Fake::new(Scenario::Ok, true);
    let mut cmd = std::process::Command::new(fixture_path("fake-containerlab"));
    cmd.args(["deploy", "-t"]).arg(&g.lab.file);
    cmd.envs(g.lab.env.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "could not lookup \"{}\": Link not found",
            g.bridge
        )),
        "{}",
        stderr(&out)
    );
    assert!(g.lab.namespaces().is_empty() && !g.lab_dir().exists());
    // core/destroy.go, destroyLabDirs: nothing found, so the first clab-* beside the file goes.
    let first = f.lab.dir.path().join("clab-0-someone-else");
    std::fs::create_dir(&first).unwrap();
    let out = run(&["destroy", "--cleanup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !first.exists(),
        "the stand-in does not remove what containerlab removes"
    );
}

/// docker matches labels exactly: lab `l` does not list lab `l-2`'s containers, and a
/// stopped container shows only with --all.
#[test]
fn the_docker_stand_in_filters_as_docker_does() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("containers");
    std::fs::write(
        &list,
        "name=clab-l-a\tstate=running\tlabel:containerlab=l\tlabel:clab-node-name=a\n\
         name=clab-l-2-a\tstate=running\tlabel:containerlab=l-2\tlabel:clab-node-name=a\n\
         name=clab-l-b\tstate=exited\tlabel:containerlab=l\tlabel:clab-node-name=b\n",
    )
    .unwrap();
    let ps = |extra: &[&str]| {
        let out = std::process::Command::new(fixture_path("fake-docker"))
            .args(["ps", "--no-trunc"])
            .args(extra)
            .args([
                "--format",
                "{{.Names}}\t{{.Label \"clab-node-name\"}}\t{{.State}}",
            ])
            .env("FAKE_CLAB_LOG", dir.path().join("log"))
            .env("FAKE_CLAB_CONTAINERS", &list)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        ps(&["--all", "--filter", "label=containerlab=l"]),
        "clab-l-a\ta\trunning\nclab-l-b\tb\texited\n"
    );
    assert_eq!(
        ps(&["--filter", "label=containerlab=l"]),
        "clab-l-a\ta\trunning\n"
    );
    assert_eq!(
        ps(&["--all", "--filter", "name=^clab-l-2-a$"]),
        "clab-l-2-a\ta\trunning\n"
    );
    let out = std::process::Command::new(fixture_path("fake-docker"))
        .args(["ps", "--format", "{{.ID}}"])
        .env("FAKE_CLAB_LOG", dir.path().join("log"))
        .env("FAKE_CLAB_CONTAINERS", &list)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an unknown template field was guessed"
    );
}

#[test]
fn a_node_that_runs_wg_on_an_image_without_it_is_refused_before_anything_runs() {
    let f = Fake::with_exec(Scenario::Ok, true, "wg set wg0 listen-port 51820");
    let out = f.deploy();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("node `a` runs `wg`, and its image nicolaka/netshoot has no wireguard-tools"),
        "{err}"
    );
    assert_eq!(f.clab_calls(), ["args: version"], "{}", f.log());
}
