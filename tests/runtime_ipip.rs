//! IPIP end to end. This machine's kernel has no IPIP, so the test is ignored here and run
//! with `--ignored` inside a VM with a stock kernel (`make test-vm`). There it must not pass
//! quietly: a kernel without IPIP fails it with a clear message.

mod common;

use common::*;

/// Creates an ipip tunnel in a scratch namespace of this test's own.
fn kernel_makes_ipip_tunnels() -> Result<(), String> {
    let ns = unique("cnilab-ipip-probe-");
    let ip = |args: &[&str]| {
        std::process::Command::new("ip")
            .args(args)
            .output()
            .unwrap()
    };
    let made = ip(&["netns", "add", &ns]);
    assert!(
        made.status.success(),
        "cannot make a scratch namespace: {}",
        stderr(&made)
    );
    let out = ip(&["-n", &ns, "tunnel", "add", "probe0", "mode", "ipip"]);
    let _ = ip(&["netns", "del", &ns]);
    if out.status.success() {
        Ok(())
    } else {
        Err(stderr(&out))
    }
}

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn ipip_pods_reach_each_other_and_destroy_leaves_nothing() {
    require_root();
    if let Err(e) = kernel_makes_ipip_tunnels() {
        panic!(
            "this kernel cannot create ipip tunnels (`ip tunnel add ... mode ipip` failed: {}); \
             it needs CONFIG_NET_IPIP (try `modprobe ipip`, or run `make test-vm`)",
            e.trim()
        );
    }
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
    if kernel_makes_ipip_tunnels().is_ok() {
        return; // This kernel has IPIP; the ignored test above covers it.
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
