//! The GitHub workflow checks what `make test` checks, installs through the one package list,
//! runs the Makefile's one list of VM tests, and deploys the labs the containerlab runtime
//! must handle with the containerlab release cnilab is tested with. No root, no network: these
//! read .github/workflows/ci.yml, the Makefile and the tests.

use serde_yaml_ng::Value;
use std::path::Path;

fn repo(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn workflow() -> Value {
    serde_yaml_ng::from_str(&repo(".github/workflows/ci.yml")).expect("ci.yml is YAML")
}

/// The `run:` scripts of a job's steps.
fn runs(job: &Value) -> Vec<String> {
    job["steps"]
        .as_sequence()
        .expect("the job has steps")
        .iter()
        .filter_map(|s| s["run"].as_str().map(String::from))
        .collect()
}

/// The words after `NAME :=` (or the prerequisites after `NAME:`) in the Makefile.
fn makefile_words(name: &str) -> Vec<String> {
    let text = repo("Makefile");
    let line = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name} :="))
                .or_else(|| l.strip_prefix(&format!("{name}:")))
        })
        .unwrap_or_else(|| panic!("the Makefile has no `{name}`"));
    line.split_whitespace().map(String::from).collect()
}

#[test]
fn the_test_job_runs_what_make_test_runs() {
    let ci = workflow();
    let runs = runs(&ci["jobs"]["test"]);
    let ran = |cmd: &str| runs.iter().any(|r| r.lines().any(|l| l.trim() == cmd));
    // make test's steps, except the two that need Debian's kernel in a VM: the runner's own
    // kernel has IPIP and netem, so test-vm-here stands for test-vm, and --lint for --test.
    let steps = makefile_words("test");
    for step in &steps {
        match step.as_str() {
            "deps-test" => assert!(ran("scripts/install-deps.sh --test-tools"), "{runs:#?}"),
            "test-vm" => assert!(ran("make test-vm-here"), "{runs:#?}"),
            other => assert!(
                ran(&format!("make {other}")),
                "no `make {other}`: {runs:#?}"
            ),
        }
    }
    assert!(steps.len() >= 5, "{steps:?}");
    let lint = repo("Makefile");
    for check in [
        "cargo doc",
        "check-duplicate-deps.sh",
        "shellcheck",
        "clippy",
    ] {
        assert!(lint.contains(check), "the Makefile no longer runs {check}");
    }
}

/// One package list: every job installs through scripts/install-deps.sh, none by hand.
#[test]
fn every_job_installs_through_the_one_package_list() {
    let ci = workflow();
    for (name, job) in ci["jobs"].as_mapping().unwrap() {
        let runs = runs(job);
        assert!(
            runs.iter().any(|r| r.contains("scripts/install-deps.sh")),
            "job {name:?} does not run scripts/install-deps.sh"
        );
        assert!(
            !runs.iter().any(|r| r.contains("apt-get install")),
            "job {name:?} installs packages by hand"
        );
    }
}

/// Every test ignored until a kernel with IPIP, netem or WireGuard runs it is in the Makefile's one
/// list, and the list names nothing else: neither make test-vm nor GitHub can miss one.
#[test]
fn the_vm_test_list_is_complete_and_the_workflow_uses_it() {
    let listed = makefile_words("VM_TESTS");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut needing: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let text = std::fs::read_to_string(&path).ok()?;
            let vm = text
                .lines()
                .any(|l| l.trim_start().starts_with("#[ignore") && l.contains("make test-vm"));
            vm.then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    needing.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted, needing,
        "the Makefile's VM_TESTS and the tests disagree"
    );
    let makefile = repo("Makefile");
    for target in ["test-vm:", "test-vm-here:"] {
        let recipe = makefile
            .split(target)
            .nth(1)
            .and_then(|r| r.lines().nth(1))
            .unwrap_or_else(|| panic!("no {target} recipe"));
        assert!(recipe.contains("$(VM_TEST_ARGS)"), "{target} {recipe}");
    }
    let ci = repo(".github/workflows/ci.yml");
    assert!(
        !ci.contains("--test "),
        "the workflow names test files itself instead of using make test-vm-here"
    );
}

#[test]
fn containerlab_is_pinned_installed_checked_and_its_version_read_whole() {
    let ci = workflow();
    let job = &ci["jobs"]["containerlab"];
    let version = job["env"]["CONTAINERLAB_VERSION"].as_str().expect("pinned");
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(
        parts.len() == 3 && (parts[0], parts[1]) >= (0, 65),
        "{version} is not a version cnilab supports"
    );
    let runs = runs(job);
    let install = runs
        .iter()
        .find(|r| r.contains("containerlab_${CONTAINERLAB_VERSION}_linux_amd64.deb"))
        .expect("containerlab is installed from the pinned release's .deb");
    assert!(install.contains("releases/download/v${CONTAINERLAB_VERSION}"));
    assert!(install.contains("sha256sum --check"), "{install}");
    assert!(!install.contains("get.containerlab.dev"), "{install}");
    // Under pipefail, `containerlab version | grep -q` fails whenever containerlab dies of
    // SIGPIPE after grep's first match.
    let piped_grep_q = runs
        .iter()
        .flat_map(|r| r.lines())
        .find(|l| !l.trim_start().starts_with('#') && l.contains("| grep -q"));
    assert_eq!(
        piped_grep_q, None,
        "`| grep -q` can kill its writer with SIGPIPE"
    );
    assert!(
        runs.iter().any(|r| r.contains("docker pull \"$image\"")),
        "the node images are not pulled from the generated file"
    );
    assert!(
        !runs
            .iter()
            .any(|r| r.contains("sudo ./target/release/cnilab gen")),
        "gen runs under sudo"
    );
    let guide = repo("docs/containerlab.md");
    assert!(
        guide.contains(&format!("containerlab {version}")),
        "docs/containerlab.md does not name the tested version {version}"
    );
}

/// The labs the containerlab runtime must handle beyond the article's: a flavor, several pods
/// per host, BGP deployed twice, a failing exec line; and verify, trace, inspect --all and
/// destroy --all run on them.
#[test]
fn the_containerlab_matrix_covers_flavors_pods_bgp_and_a_broken_line() {
    let ci = workflow();
    let job = &ci["jobs"]["containerlab"];
    let entries = job["strategy"]["matrix"]["include"].as_sequence().unwrap();
    let has = |key: &str, want: &dyn Fn(&Value) -> bool| entries.iter().any(|e| want(&e[key]));
    let gen_has = |flag: &str| has("gen", &|v| v.as_str().is_some_and(|g| g.contains(flag)));
    for flag in ["--flavor flannel", "--pods-per-host 2", "--routing bgp"] {
        assert!(gen_has(flag), "no lab with {flag}");
    }
    assert!(has("broken", &|v| v.as_bool() == Some(true)));
    assert!(has("again", &|v| v.as_bool() == Some(true)));
    assert!(has("destroy", &|v| v.as_str() == Some("all")));
    let runs = runs(job).join("\n");
    for cmd in [
        "cnilab verify",
        "cnilab trace",
        "cnilab inspect --all",
        "cnilab destroy --all",
    ] {
        assert!(runs.contains(cmd), "the job never runs {cmd}");
    }
}
