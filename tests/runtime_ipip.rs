//! IPIP end to end. This machine's kernel has no IPIP, so the test is ignored here and run
//! with `--ignored` inside a VM with a stock kernel (`make test-vm`). There it must not pass
//! quietly: a kernel without IPIP fails it with a clear message.

mod common;

use common::*;

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn ipip_pods_reach_each_other_and_destroy_leaves_nothing() {
    require_ipip();
    let before = root_snapshot();
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
    assert_eq!(root_snapshot(), before, "the root namespace changed");
}

/// Runs everywhere: on a kernel without IPIP, deploy stops in preflight with one clear line.
#[test]
fn without_ipip_deploy_fails_preflight_clearly() {
    require_root();
    if ipip_support().is_ok() {
        eprintln!("this kernel has IPIP: nothing to check here, the ignored test covers it");
        return;
    }
    let lab = LabGuard::gen("ipip", 3, &unique("rtnoip"));
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
