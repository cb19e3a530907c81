//! Helpers for the tests that drive the real binary: unique names, a guard that always tears
//! a lab down, and checks on what is left in the machine.
#![allow(dead_code)]

pub mod captures;
pub mod procs;
pub mod root;
pub mod wait;

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use root::{Footprint, RootSnapshot};
#[allow(unused_imports)]
pub use wait::{wait_for, wait_for_exit, wait_until, GENEROUS};

use cnilab::lab::Lab;
use cnilab::topology::Topology;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Root-only tests fail loudly without root: a skipped check must never look like a pass.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (network namespaces, veths): run it as root, e.g. `sudo -E cargo test`"
    );
}

/// A lab name no other test, run or engineer uses at the same time.
/// Fails the test with a clear message unless this kernel can create ipip tunnels. Tests that
/// need it are ignored outside `make test-vm`.
pub fn require_ipip() {
    require_root();
    if let Err(e) = ipip_support() {
        panic!(
            "this kernel cannot create ipip tunnels ({e}); it needs CONFIG_NET_IPIP \
             (try `modprobe ipip`, or run `make test-vm`)"
        );
    }
}

/// Tries an ipip tunnel in a scratch namespace of the test's own.
pub fn ipip_support() -> Result<(), String> {
    let ns = ScratchNetns::new(&unique("cnilab-ipip-probe-"));
    // A local address keeps it apart from the fallback device tunl0 that loading ipip makes.
    let out = std::process::Command::new("ip")
        .args(["-n", &ns.name, "tunnel", "add", "probe0", "mode", "ipip"])
        .args(["local", "127.0.0.1"])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr(&out).trim().to_string())
    }
}

/// A named network namespace made by hand (`ip netns add`), deleted when dropped, even when
/// the test fails.
pub struct ScratchNetns {
    pub name: String,
}

impl ScratchNetns {
    pub fn new(name: &str) -> ScratchNetns {
        let out = std::process::Command::new("ip")
            .args(["netns", "add", name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot make namespace {name}: {}",
            stderr(&out)
        );
        ScratchNetns {
            name: name.to_string(),
        }
    }

    pub fn exists(&self) -> bool {
        Path::new("/run/netns").join(&self.name).exists()
    }
}

impl Drop for ScratchNetns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn cnilab() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("cnilab").expect("the cnilab binary is built")
}

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("cnilab")
}

/// The cnilab binary where any user can run it, for tests that run it as uid 65534 through
/// setpriv: the folders above target/ may not let that user through (a clone under a 0700
/// home). Linked, or copied, into a folder of its own under the system's temporary folder.
pub struct NobodyBin {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl NobodyBin {
    pub fn new() -> NobodyBin {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("cnilab-bin-")
            .tempdir_in(std::env::temp_dir())
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("cnilab");
        if std::fs::hard_link(bin(), &path).is_err() {
            std::fs::copy(bin(), &path).unwrap();
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        NobodyBin { _dir: dir, path }
    }

    /// `setpriv` running this binary as uid and gid 65534, with no other groups.
    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&self.path);
        cmd
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A lab's file in a temporary folder; dropping it destroys the lab and removes anything of
/// it that is still there, so a failing test leaks nothing.
pub struct LabGuard {
    pub name: String,
    pub file: PathBuf,
    pub dir: tempfile::TempDir,
    /// Extra environment for destroy (a stand-in containerlab on PATH).
    pub env: Vec<(String, String)>,
}

impl LabGuard {
    pub fn gen(mode: &str, hosts: usize, name: &str) -> LabGuard {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clab.yaml");
        cnilab()
            .args([
                "gen",
                "--mode",
                mode,
                "--hosts",
                &hosts.to_string(),
                "--name",
                name,
                "-o",
            ])
            .arg(&file)
            .assert()
            .success();
        LabGuard {
            name: name.to_string(),
            file,
            dir,
            env: Vec::new(),
        }
    }

    pub fn from_yaml(name: &str, yaml: &str) -> LabGuard {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clab.yaml");
        std::fs::write(&file, yaml).unwrap();
        LabGuard {
            name: name.to_string(),
            file,
            dir,
            env: Vec::new(),
        }
    }

    /// `cnilab gen` with these flags, named `unique(prefix)`: a failed gen fails the test.
    pub fn gen_with(prefix: &str, args: &[&str]) -> LabGuard {
        let name = unique(prefix);
        let out = cnilab()
            .arg("gen")
            .args(args)
            .args(["--name", &name, "-o", "-"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gen {args:?} failed: {}",
            stderr(&out)
        );
        LabGuard::from_yaml(&name, &String::from_utf8(out.stdout).unwrap())
    }

    /// [`LabGuard::gen_with`], deployed: a failed deploy fails the test.
    pub fn deployed_with(prefix: &str, args: &[&str]) -> LabGuard {
        require_root();
        let lab = LabGuard::gen_with(prefix, args);
        let out = lab.deploy();
        assert!(
            out.status.success(),
            "deploy of {args:?} failed: {}",
            stderr(&out)
        );
        lab
    }

    /// A lab of one linux node `n1` with these exec lines.
    pub fn one_node(name: &str, exec: &[&str]) -> LabGuard {
        let lines: String = exec.iter().map(|l| format!("        - {l}\n")).collect();
        LabGuard::from_yaml(
            name,
            &format!(
                "name: {name}\ntopology:\n  nodes:\n    n1:\n      kind: linux\n      exec:\n{lines}"
            ),
        )
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = cnilab();
        cmd.args(args).arg("-t").arg(&self.file);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    pub fn deploy(&self) -> Output {
        self.run(&["deploy"])
    }

    pub fn destroy(&self) -> Output {
        self.run(&["destroy"])
    }

    pub fn lab(&self) -> Lab {
        Lab::from_topology(&Topology::load(&self.file).unwrap()).unwrap()
    }

    /// The namespaces of this lab that exist now.
    pub fn namespaces(&self) -> Vec<String> {
        lab_namespaces(&self.name)
    }

    pub fn state_file(&self) -> PathBuf {
        Path::new("/run/cnilab").join(format!("{}.json", self.name))
    }

    /// Nothing of the lab is left: no namespace, no state file.
    pub fn assert_gone(&self) {
        assert_eq!(
            self.namespaces(),
            Vec::<String>::new(),
            "namespaces left behind"
        );
        assert!(!self.state_file().exists(), "state file left behind");
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        let _ = self.destroy();
        for ns in lab_namespaces(&self.name) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &ns])
                .status();
        }
        let _ = std::fs::remove_file(self.state_file());
    }
}

pub fn lab_namespaces(lab: &str) -> Vec<String> {
    let prefix = format!("clab-{lab}-");
    let mut v: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every pod pings every other pod until one reply comes back, for at most 5 s a pair; returns
/// the pairs that failed. A first packet can die in a chain of unresolved neighbours on a loaded
/// machine; a path that is really broken stays broken for the whole 5 s.
pub fn ping_all_pairs(lab: &Lab) -> Vec<String> {
    let mut failed = Vec::new();
    for from in &lab.pods {
        for to in &lab.pods {
            if from.node == to.node {
                continue;
            }
            let ok = std::process::Command::new("ip")
                .args(["netns", "exec", &from.namespace, "ping", "-c1", "-w5"])
                .arg(to.addr(cnilab::family::Family::Ipv4).to_string())
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if !ok {
                failed.push(format!("{} -> {} ({:?})", from.node, to.node, to.addrs()));
            }
        }
    }
    if !failed.is_empty() {
        failed.push(neighbour_table_hint());
    }
    failed
}

/// The kernel's ARP table is shared by every namespace and capped by the root namespace's
/// gc_thresh3; a big lab elsewhere on the machine can fill it, and then pings fail here with
/// ENOBUFS. Saying so saves a long hunt.
pub fn neighbour_table_hint() -> String {
    let cap = std::fs::read_to_string("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
        .unwrap_or_default()
        .trim()
        .to_string();
    let mut total = 0;
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for e in dir.flatten() {
            let out = std::process::Command::new("ip")
                .arg("-n")
                .arg(e.file_name())
                .args(["neigh", "show", "nud", "all"])
                .output();
            if let Ok(out) = out {
                total += out.stdout.iter().filter(|&&b| b == b'\n').count();
            }
        }
    }
    format!(
        "note: {total} ARP entries across all namespaces on this machine (kernel cap, shared by \
         all namespaces: gc_thresh3 = {cap}); near the cap, pings fail with ENOBUFS because of \
         other labs, not this one"
    )
}

pub fn assert_all_pairs_ping(lab: &Lab) {
    let failed = ping_all_pairs(lab);
    assert!(
        failed.is_empty(),
        "pods that could not reach each other: {failed:?}"
    );
}
pub mod services;
pub mod verify;
pub mod walk;
