//! `cnilab gen` driven as a user drives it: files, standard output, and every kind of bad input.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn cnilab(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cnilab").unwrap();
    cmd.current_dir(dir);
    cmd
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_clab_yaml_by_default_and_replaces_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    cnilab(dir.path())
        .args(["gen", "--mode", "vxlan", "--hosts", "3"])
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join("clab.yaml")).unwrap();
    assert!(text.contains("name: flannel-vxlan"));
    assert!(text.contains("gw3:"));
    cnilab(dir.path())
        .args(["gen", "--mode", "host-gw", "--hosts", "2", "--name", "mine"])
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join("clab.yaml")).unwrap();
    assert!(text.contains("name: mine\n"));
    assert_eq!(files_in(dir.path()), ["clab.yaml"]);
}

#[test]
fn dash_writes_to_stdout_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    cnilab(dir.path())
        .args(["gen", "--mode", "ipip", "--hosts", "3", "-o", "-"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ip tunnel add tunl1 mode ipip local 10.0.3.2",
        ));
    assert!(files_in(dir.path()).is_empty());
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = cnilab(dir.path())
        .args(args)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line expected, got:\n{stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: `{needle}` not in: {stderr}"
    );
    assert!(
        files_in(dir.path()).is_empty(),
        "{args:?} left files behind"
    );
}

#[test]
fn bad_host_counts_name_the_flag_and_the_range() {
    for n in ["0", "1", "255", "100000", "x", "-3", "2.5"] {
        assert_usage_error(&["gen", "--mode", "vxlan", "--hosts", n], "--hosts");
        assert_usage_error(&["gen", "--mode", "vxlan", "--hosts", n], "from 2 to 254");
    }
}

#[test]
fn an_unknown_mode_lists_the_valid_ones() {
    assert_usage_error(&["gen", "--mode", "flannel", "--hosts", "2"], "--mode");
    assert_usage_error(
        &["gen", "--mode", "flannel", "--hosts", "2"],
        "host-gw, vxlan, ipip",
    );
}

#[test]
fn a_bad_lab_name_is_rejected() {
    assert_usage_error(
        &["gen", "--mode", "vxlan", "--hosts", "2", "--name", "-bad"],
        "-bad",
    );
}

#[test]
fn never_overwrites_a_file_it_did_not_write_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clab.yaml");
    std::fs::write(&path, "name: hand-made\n").unwrap();
    cnilab(dir.path())
        .args(["gen", "--mode", "vxlan", "--hosts", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "name: hand-made\n");
    cnilab(dir.path())
        .args(["gen", "--mode", "vxlan", "--hosts", "2", "--force"])
        .assert()
        .success();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("flannel.1"));
    assert_eq!(files_in(dir.path()), ["clab.yaml"]);
}

#[test]
fn an_unwritable_destination_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    cnilab(dir.path())
        .args([
            "gen",
            "--mode",
            "vxlan",
            "--hosts",
            "2",
            "-o",
            "missing/dir/x.yaml",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing/dir/x.yaml"));
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn renders_from_a_users_template_folder() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("tpl");
    std::fs::create_dir(&templates).unwrap();
    for (name, source) in cnilab::render::EMBEDDED {
        std::fs::write(templates.join(name), source).unwrap();
    }
    let vxlan = templates.join("vxlan.yaml.j2");
    let edited = std::fs::read_to_string(&vxlan)
        .unwrap()
        .replace("dstport {{ plan.vxlan_port }}", "dstport 8472");
    std::fs::write(&vxlan, edited).unwrap();
    cnilab(dir.path())
        .args([
            "gen",
            "--mode",
            "vxlan",
            "--hosts",
            "2",
            "-o",
            "-",
            "--templates",
            "tpl",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("dstport 8472"));
}

#[test]
fn a_template_folder_without_the_mode_is_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tpl")).unwrap();
    cnilab(dir.path())
        .args([
            "gen",
            "--mode",
            "ipip",
            "--hosts",
            "3",
            "--templates",
            "tpl",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ipip.yaml.j2").and(predicate::str::contains("tpl")));
    assert_eq!(files_in(dir.path()), ["tpl"]);
}

#[test]
fn a_broken_template_is_reported_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("tpl");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("vxlan.yaml.j2"), "name: {{ plan.nope }}\n").unwrap();
    cnilab(dir.path())
        .args([
            "gen",
            "--mode",
            "vxlan",
            "--hosts",
            "2",
            "--templates",
            "tpl",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("vxlan.yaml.j2"));
    assert_eq!(files_in(dir.path()), ["tpl"]);
}

#[test]
fn help_teaches_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    cnilab(dir.path())
        .args(["gen", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:").and(predicate::str::contains("--hosts <N>")));
    cnilab(dir.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("vxlan").and(predicate::str::contains("verify")));
}

/// A flag spelled as another command spells it gets clap's tip, on the one line cnilab prints.
#[test]
fn a_misspelt_flag_keeps_clap_s_tip() {
    let dir = tempfile::tempdir().unwrap();
    cnilab(dir.path())
        .args(["gen", "--mode", "vxlan", "--hosts", "2", "--flavors", "flannel"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cnilab: unexpected argument '--flavors' found; tip: a similar argument exists: '--flavor'",
        ));
    cnilab(dir.path())
        .args(["gen", "--mode", "vxlna", "--hosts", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "expected one of host-gw, vxlan, ipip; tip: a similar value exists: 'vxlan'",
        ));
    assert!(files_in(dir.path()).is_empty());
}

/// bench takes lists, and spells each list's flag in the plural; the singular that gen uses is
/// accepted too.
#[test]
fn bench_accepts_the_singular_spelling_gen_uses() {
    let dir = tempfile::tempdir().unwrap();
    cnilab(dir.path())
        .args([
            "bench",
            "--flavor",
            "flannel",
            "--mode",
            "vxlan",
            "--duration",
            "0",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("'--duration <S>'"));
}
