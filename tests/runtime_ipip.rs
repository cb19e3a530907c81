//! IPIP end to end. This machine's kernel has no IPIP, so the end-to-end test is ignored here
//! and run with `--ignored` inside a VM with a stock kernel (`make test-vm`), or on a kernel
//! that has it (`make test-vm-here`). There it must not pass quietly: a kernel without IPIP
//! fails it with a clear message.

mod common;

use common::*;

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn ipip_pods_reach_each_other_and_destroy_leaves_nothing() {
    require_ipip();
    let before = RootSnapshot::take();
    let lab = LabGuard::gen("ipip", 3, &unique("rtip"));
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let failed = ping_all_pairs(&lab.lab());
    assert!(
        failed.is_empty(),
        "pods that could not reach each other: {failed:?}"
    );
    let out = lab.destroy();
    assert!(out.status.success(), "destroy failed: {}", stderr(&out));
    lab.assert_gone();
    before.assert_untouched_by(&Footprint::of_files(&[&lab.file]));
}

/// Runs on every kernel: a stand-in `ip` (tests/fixtures/no-ipip) answers as a kernel without
/// IPIP does, so GitHub's runners, whose kernel has it, check this too. Deploy stops in
/// preflight with one clear line and makes nothing.
#[test]
fn without_ipip_deploy_fails_preflight_clearly() {
    require_root();
    let mut lab = LabGuard::gen("ipip", 3, &unique("rtnoip"));
    let stand_in = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no-ipip");
    let path = std::env::var("PATH").unwrap_or_default();
    lab.env
        .push(("PATH".into(), format!("{}:{path}", stand_in.display())));
    let out = lab.deploy();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "this kernel cannot create ipip tunnels (CONFIG_NET_IPIP; try `modprobe ipip`)"
        ),
        "{}",
        stderr(&out)
    );
    lab.assert_gone();
}
