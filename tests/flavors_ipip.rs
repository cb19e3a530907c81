//! The Calico IPIP flavor end to end, at N in {2, 3, 8} and K in {1, 3}. This machine's kernel
//! has no IPIP, so the test is ignored here and runs with `--ignored` in the VM (`make
//! test-vm`); there a kernel without IPIP fails it with a clear message.

mod common;

use common::*;
use std::process::Command;

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn calico_ipip_pods_reach_each_other_through_tunl0() {
    require_ipip();
    for (hosts, pods) in [(2, 1), (2, 3), (3, 1), (3, 3), (8, 1), (8, 3)] {
        let name = unique("fvip");
        let out = cnilab()
            .args([
                "gen", "--mode", "ipip", "--flavor", "calico", "--name", &name,
            ])
            .args(["--hosts", &hosts.to_string()])
            .args(["--pods-per-host", &pods.to_string(), "-o", "-"])
            .output()
            .unwrap();
        assert!(out.status.success(), "gen failed: {}", stderr(&out));
        let lab = LabGuard::from_yaml(&name, &String::from_utf8(out.stdout).unwrap());
        let out = lab.deploy();
        assert!(
            out.status.success(),
            "x{hosts}x{pods}: deploy failed: {}",
            stderr(&out)
        );
        let failed = ping_all_pairs(&lab.lab());
        assert!(failed.is_empty(), "x{hosts}x{pods}: {failed:?}");
        let show = |args: &[&str]| {
            let out = Command::new("ip")
                .arg("-n")
                .arg(format!("clab-{name}-host1"))
                .args(args)
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let tunl0 = show(&["-d", "addr", "show", "tunl0"]);
        assert!(
            tunl0.contains("mtu 1480") && tunl0.contains("inet 172.16.0.0/32"),
            "{tunl0}"
        );
        let routes = show(&["route", "show"]);
        assert!(routes.contains("blackhole 172.16.0.0/24"), "{routes}");
        assert!(
            routes.contains("172.16.1.0/24 via 10.0.2.2 dev tunl0 onlink"),
            "{routes}"
        );
        let out = lab.destroy();
        assert!(out.status.success(), "destroy failed: {}", stderr(&out));
        lab.assert_gone();
    }
}
