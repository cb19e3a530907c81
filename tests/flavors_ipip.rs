//! The Calico IPIP flavor end to end, at N in {2, 3, 8} and K in {1, 3}. This machine's kernel
//! has no IPIP, so the test is ignored here and runs with `--ignored` in the VM (`make
//! test-vm`); there a kernel without IPIP fails it with a clear message.
//!
//! Under software emulation a ping costs seconds, so every pair is pinged at (2, 1) and (3, 3)
//! only; the other sizes ping a ring (each host's first pod to the next host's last pod) and
//! each host's own pods to each other, which still crosses every tunnel route once.

mod common;

use cnilab::lab::Lab;
use common::*;
use std::process::Command;

/// The ring and same-host pairs described above; the pairs that failed.
fn ping_ring(lab: &Lab) -> Vec<String> {
    let hosts: Vec<usize> = lab.hosts.iter().map(|h| h.index).collect();
    let pods_of = |h: usize| {
        lab.pods
            .iter()
            .filter(move |p| p.host == h)
            .collect::<Vec<_>>()
    };
    let mut pairs = Vec::new();
    for (k, &h) in hosts.iter().enumerate() {
        let next = hosts[(k + 1) % hosts.len()];
        let (mine, theirs) = (pods_of(h), pods_of(next));
        pairs.push((mine[0], *theirs.last().unwrap()));
        if mine.len() > 1 {
            pairs.push((mine[0], mine[1]));
        }
    }
    let mut failed = Vec::new();
    for (from, to) in pairs {
        let ok = Command::new("ip")
            .args(["netns", "exec", &from.namespace, "ping", "-c1", "-w5"])
            .arg(to.v4().to_string())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            failed.push(format!("{} -> {} ({})", from.node, to.node, to.v4()));
        }
    }
    failed
}

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn calico_ipip_pods_reach_each_other_through_tunl0() {
    require_ipip();
    for (hosts, pods) in [(2, 1), (2, 3), (3, 1), (3, 3), (8, 1), (8, 3)] {
        let (h, k) = (hosts.to_string(), pods.to_string());
        let args = [
            "--mode",
            "ipip",
            "--flavor",
            "calico",
            "--hosts",
            &h,
            "--pods-per-host",
            &k,
        ];
        let lab = LabGuard::gen_with("fvip", &args);
        let name = &lab.name;
        let out = lab.deploy();
        assert!(
            out.status.success(),
            "x{hosts}x{pods}: deploy failed: {}",
            stderr(&out)
        );
        let failed = if matches!((hosts, pods), (2, 1) | (3, 3)) {
            ping_all_pairs(&lab.lab())
        } else {
            ping_ring(&lab.lab())
        };
        assert!(failed.is_empty(), "x{hosts}x{pods}: {failed:?}");
        // The wire, at every size: one pod pair per host pair keeps the emulated run short.
        // The wire is what this checks; loss follows the tests' one rule.
        let (code, report) =
            common::verify::verify_healthy(&lab, &["--pairs", "per-host-pair", "--proto", "icmp"]);
        assert_eq!(code, 0, "x{hosts}x{pods}: verify failed: {report:#}");
        let wires: Vec<&str> = report["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["wire"].as_str().unwrap())
            .collect();
        // Every host pair, and with several pods a pair inside each host, which stays off the wire.
        let same_host = if pods > 1 { hosts } else { 0 };
        assert_eq!(wires.len(), hosts * (hosts - 1) + same_host, "{report:#}");
        let tunnelled = wires.iter().filter(|w| w.starts_with("IPIP ")).count();
        assert_eq!(
            tunnelled,
            hosts * (hosts - 1),
            "x{hosts}x{pods}: every host pair in IPIP: {wires:?}"
        );
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
        // With felix's route protocol, which `ip` prints by number (rt_protos names no 80).
        assert!(
            routes.contains("blackhole 172.16.0.0/24 proto 80"),
            "{routes}"
        );
        assert!(
            routes.contains("172.16.1.0/24 via 10.0.2.2 dev tunl0 proto 80 onlink"),
            "{routes}"
        );
        let out = lab.destroy();
        assert!(out.status.success(), "destroy failed: {}", stderr(&out));
        lab.assert_gone();
    }
}

/// One lab, verified healthy and then broken three ways at once (a few verify runs cost
/// minutes under emulation): each break is named as the cause on every pair it touches.
#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn calico_ipip_verifies_and_names_each_break() {
    use common::verify::{exec, pair, reasons, verify, verify_healthy};
    require_ipip();
    let lab = LabGuard::deployed_with(
        "fvif",
        &["--mode", "ipip", "--flavor", "calico", "--hosts", "2"],
    );
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "a healthy calico IPIP lab passes: {report:#}");
    let wire = pair(&report, "pod1", "pod2")["wire"].to_string();
    assert!(wire.contains("IPIP 10.0.1.2>10.0.2.2"), "{wire}");

    exec(&lab, "host1", "ip route del 172.16.1.0/24");
    exec(&lab, "host1", "ip route del 172.16.0.2/32 dev calipod1");
    exec(
        &lab,
        "host2",
        "sysctl -w net.ipv4.conf.calipod2.proxy_arp=0",
    );
    exec(&lab, "pod2", "ip neigh flush dev eth1");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    for (from, to) in [("pod1", "pod2"), ("pod2", "pod1")] {
        let why = reasons(pair(&report, from, to));
        for cause in [
            "host1 has no route 172.16.1.0/24 via 10.0.2.2 dev tunl0",
            "host1 has no route 172.16.0.2/32 dev calipod1",
            "host2 has proxy_arp off on calipod2",
        ] {
            assert!(
                why.iter().take(3).any(|r| r.contains(cause)),
                "{from}>{to}: `{cause}` must be among the first reasons: {why:#?}"
            );
        }
    }
    let out = lab.destroy();
    assert!(out.status.success(), "destroy failed: {}", stderr(&out));
}
