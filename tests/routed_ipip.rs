//! Calico's IPIP CrossSubnet on two racks of two hosts: rack mates go plain, the rest in IPIP,
//! and verify expects that wire pair by pair; a mutation that flips one pair's wire is caught
//! and named. This machine's kernel has no IPIP, so the lab runs with `--ignored` in the VM
//! (`make test-vm`); there a kernel without IPIP fails it with a clear message. What the file
//! says (labels, routes, schema) is checked here by tests/gen_schema.rs and the refusals below.

mod common;

use common::verify::{assert_fails_with, exec, pair, verify_healthy};
use common::*;

const ARGS: [&str; 9] = [
    "--mode",
    "ipip",
    "--flavor",
    "calico",
    "--cross-subnet",
    "--underlay",
    "racks:2",
    "--hosts",
    "4",
];

/// Rack 1 holds hosts 1 and 2 (192.168.1.2, .3), rack 2 hosts 3 and 4 (192.168.2.2, .3).
fn underlay_ip(host: usize) -> String {
    format!("192.168.{}.{}", host.div_ceil(2), 2 + (host + 1) % 2)
}

fn same_rack(a: usize, b: usize) -> bool {
    (a <= 2) == (b <= 2)
}

/// Only ICMP: under software emulation every probe costs, and the wire is the point. Loss
/// follows the tests' one rule ([`common::verify::MAX_LOSS_PERCENT`]).
fn verify_icmp(lab: &LabGuard) -> (i32, serde_json::Value) {
    verify_healthy(lab, &["--proto", "icmp"])
}

/// One deploy for the whole story, since a deploy costs minutes under emulation: every pair
/// shows its wire; host1 sending its rack mate's pods through tunl0 is caught; once that is
/// undone, host3 sending a pair across racks plain is caught too.
#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn calico_ipip_cross_subnet_picks_the_wire_per_pair_and_catches_a_flipped_one() {
    require_ipip();
    let lab = LabGuard::deployed_with("xsip", &ARGS);

    let (code, report) = verify_icmp(&lab);
    assert_eq!(code, 0, "{report:#}");
    for a in 1..=4 {
        for b in (1..=4).filter(|&b| b != a) {
            let p = pair(&report, &format!("pod{a}"), &format!("pod{b}"));
            assert_eq!(p["passed"], true, "{p:#}");
            let inner = format!("172.16.{}.2 > 172.16.{}.2", a - 1, b - 1);
            let want = match same_rack(a, b) {
                true => format!("plain IPv4 {inner}"),
                false => format!(
                    "IPIP {}>{} [{}]",
                    underlay_ip(a),
                    underlay_ip(b),
                    inner.replace(" > ", ">")
                ),
            };
            assert_eq!(p["wire"], want.as_str(), "pod{a} -> pod{b}");
        }
    }

    // host1 treats host2 as if it were on another subnet: the route through tunl0.
    exec(
        &lab,
        "host1",
        "ip route replace 172.16.1.0/24 via 192.168.1.3 dev tunl0 onlink proto 80",
    );
    let (code, report) = verify_icmp(&lab);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &[
            "request: expected plain IPv4 172.16.0.2 > 172.16.1.2",
            "saw IPIP 192.168.1.2>192.168.1.3",
        ],
    );
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["host1 routes 172.16.1.0/24 via 192.168.1.3 dev tunl0"],
    );
    assert_eq!(pair(&report, "pod3", "pod4")["passed"], true);
    assert_eq!(pair(&report, "pod1", "pod3")["passed"], true);

    // Undone; now host3 routes host1's pods plain through its router, and the routers carry
    // them: the pair still works, but its pod addresses cross the routed underlay in the clear.
    exec(
        &lab,
        "host1",
        "ip route replace 172.16.1.0/24 via 192.168.1.3 dev eth1 onlink proto 80",
    );
    exec(
        &lab,
        "host3",
        "ip route replace 172.16.0.0/24 via 192.168.2.1 dev eth1 proto 80",
    );
    exec(&lab, "gw2", "ip route add 172.16.0.0/24 via 192.168.0.100");
    exec(&lab, "gw1", "ip route add 172.16.0.0/24 via 192.168.1.2");
    let (code, report) = verify_icmp(&lab);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod3",
        "pod1",
        &[
            "request: expected IPIP",
            "saw plain IPv4 172.16.2.2 > 172.16.0.2",
        ],
    );
    assert_fails_with(
        &report,
        "pod3",
        "pod1",
        &["host3 routes 172.16.0.0/24 via 192.168.2.1 dev eth1"],
    );
    assert_eq!(pair(&report, "pod1", "pod2")["passed"], true, "undone");
    assert_eq!(pair(&report, "pod4", "pod1")["passed"], true);
}

#[test]
fn cross_subnet_is_refused_for_the_article_s_ipip_and_off_racks() {
    for (flavor, underlay) in [("article", "racks:2"), ("calico", "routed")] {
        let out = cnilab()
            .args([
                "gen",
                "--mode",
                "ipip",
                "--flavor",
                flavor,
                "--cross-subnet",
            ])
            .args(["--underlay", underlay, "--hosts", "4", "-o", "-"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flavor} {underlay}");
        let err = stderr(&out);
        assert!(
            err.contains("--cross-subnet is calico's option on racks of hosts")
                && err.contains("--mode vxlan or ipip --flavor calico --underlay racks:R")
                && err.contains(&format!("--flavor {flavor} --underlay {underlay}")),
            "{flavor} {underlay}: {err}"
        );
    }
}
