//! The files cnilab writes: only regular files are ever replaced, new files are readable by the
//! user who asked for them, and every bad path is named.

mod common;

use common::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

const GEN: [&str; 5] = ["gen", "--mode", "vxlan", "--hosts", "2"];

fn gen_to(target: &Path, force: bool) -> std::process::Output {
    let mut cmd = cnilab();
    cmd.args(GEN).arg("-o").arg(target);
    if force {
        cmd.arg("--force");
    }
    // A fifo must never make gen wait for a reader.
    cmd.timeout(Duration::from_secs(20)).output().unwrap()
}

fn assert_refused(out: &std::process::Output, what: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    assert!(
        err.contains(&format!("is {what}, not a regular file")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn dev_null_is_never_replaced_even_with_force() {
    for force in [false, true] {
        assert_refused(&gen_to(Path::new("/dev/null"), force), "a character device");
        let meta = std::fs::symlink_metadata("/dev/null").unwrap();
        assert!(meta.file_type().is_char_device(), "/dev/null is intact");
    }
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    for force in [false, true] {
        assert_refused(&gen_to(&fifo, force), "a fifo");
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
    }
}

#[test]
fn a_symlink_stays_a_symlink_and_its_target_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.yaml");
    std::fs::write(
        &target,
        "# cnilab-generated: mode=vxlan hosts=2\nname: old\n",
    )
    .unwrap();
    let link = dir.path().join("clab.yaml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for force in [false, true] {
        assert_refused(&gen_to(&link, force), "a symbolic link");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(std::fs::read_to_string(&target)
            .unwrap()
            .contains("name: old"));
    }
}

#[test]
fn dash_still_writes_to_standard_output() {
    let out = cnilab().args(GEN).args(["-o", "-"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: flannel-vxlan"));
}

fn mode_under_umask(umask: &str) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask {umask} && exec \"$0\" gen --mode vxlan --hosts 2 -o \"$1\""
        ))
        .arg(bin())
        .arg(&file)
        .env_remove("SUDO_UID")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::metadata(&file).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_file_is_0644_less_the_umask() {
    assert_eq!(mode_under_umask("022"), 0o644);
    assert_eq!(mode_under_umask("077"), 0o600);
}

#[test]
fn under_sudo_the_file_belongs_to_the_user_who_ran_sudo() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    cnilab()
        .args(GEN)
        .arg("-o")
        .arg(&file)
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65533")
        .assert()
        .success();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65533));
}

#[test]
fn a_file_that_cannot_be_read_is_called_unreadable() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let file = dir.path().join("clab.yaml");
    std::fs::write(&file, "# cnilab-generated: mode=vxlan hosts=2\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let nobody = NobodyBin::new();
    let out = nobody
        .command()
        .args(GEN)
        .arg("-o")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot be read"), "{err}");
    assert!(!err.contains("not written by cnilab"), "{err}");
    // --force needs no look inside it.
    let out = nobody
        .command()
        .args(GEN)
        .arg("-o")
        .arg(&file)
        .arg("--force")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("name: flannel-vxlan"));
}

#[test]
fn a_missing_folder_is_named_without_any_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = gen_to(&dir.path().join("no/such/clab.yaml"), false);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("folder") && err.contains("no/such does not exist"),
        "{err}"
    );
    assert!(
        !err.contains(".cnilab-"),
        "the temporary file's name leaked: {err}"
    );
}

#[test]
fn a_missing_templates_folder_is_named() {
    let out = cnilab()
        .args(GEN)
        .args(["-o", "-", "--templates", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("templates folder /nonexistent does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exported_templates_render_the_same_file_and_a_broken_one_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tpl = dir.path().join("tpl");
    cnilab()
        .args(["templates", "--export"])
        .arg(&tpl)
        .assert()
        .success();
    let built_in = cnilab().args(GEN).args(["-o", "-"]).output().unwrap();
    let exported = cnilab()
        .args(GEN)
        .args(["-o", "-", "--templates"])
        .arg(&tpl)
        .output()
        .unwrap();
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert_eq!(built_in.stdout, exported.stdout);
    // Exporting again would overwrite edits: only with --force.
    let again = cnilab()
        .args(["templates", "--export"])
        .arg(&tpl)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));

    let vxlan = tpl.join("vxlan.yaml.j2");
    let text = std::fs::read_to_string(&vxlan).unwrap();
    std::fs::write(&vxlan, text.replacen("topology:", "topology: [unclosed", 1)).unwrap();
    let out_file = dir.path().join("clab.yaml");
    let out = cnilab()
        .args(GEN)
        .arg("-o")
        .arg(&out_file)
        .arg("--templates")
        .arg(&tpl)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not valid containerlab YAML"),
        "{}",
        stderr(&out)
    );
    assert!(!out_file.exists());
}

#[test]
fn up_with_both_a_file_and_an_output_is_an_error() {
    let out = cnilab()
        .args(["up", "-t", "x.yaml", "-o", "y.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--output"), "{}", stderr(&out));
}

#[test]
fn up_takes_the_same_lab_options_as_gen() {
    let help = |cmd: &str| {
        let out = cnilab().args([cmd, "--help"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (gen, up) = (help("gen"), help("up"));
    for flag in [
        "--mode",
        "--hosts",
        "--name",
        "--templates",
        "--output",
        "--force",
    ] {
        assert!(gen.contains(flag) && up.contains(flag), "{flag} missing");
    }
}

#[test]
fn every_subcommand_help_has_examples_and_hosts_states_its_range() {
    for cmd in [
        "gen",
        "deploy",
        "destroy",
        "inspect",
        "verify",
        "up",
        "templates",
        "completions",
    ] {
        let out = cnilab().args([cmd, "--help"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Examples:"),
            "`cnilab {cmd} --help` has no examples"
        );
    }
    for cmd in ["gen", "up"] {
        let out = cnilab().args([cmd, "--help"]).output().unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("(2–254)"),
            "{cmd}"
        );
    }
}

#[test]
fn gen_ends_with_what_it_wrote_and_the_next_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clab.yaml");
    let out = gen_to(&file, false);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("wrote {}", file.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("cnilab deploy -t {}", file.display())),
        "{err}"
    );
}

#[test]
fn one_unreadable_record_hides_no_lab_and_stops_no_gen() {
    let records = tempfile::tempdir().unwrap();
    std::fs::write(records.path().join("broken.json"), "{ not json").unwrap();
    let good = r#"{"lab": "gone-lab", "runtime": "netns", "file": "/nonexistent/clab.yaml",
        "phase": "up", "namespaces": ["clab-cnilab-test-never-x"]}"#;
    std::fs::write(records.path().join("gone-lab.json"), good).unwrap();
    let out = cnilab()
        .args(["inspect", "--all", "--json"])
        .env("CNILAB_STATE_DIR", records.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("broken.json"), "{}", stderr(&out));
    let labs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(labs[0]["lab"], "gone-lab");
    assert_eq!(labs[0]["condition"], "damaged", "{labs:#}");
    assert_eq!(labs[0]["nodes_up"], 0);

    let dir = tempfile::tempdir().unwrap();
    cnilab()
        .args(GEN)
        .arg("-o")
        .arg(dir.path().join("clab.yaml"))
        .env("CNILAB_STATE_DIR", records.path())
        .assert()
        .success();
}
