//! flannel's DirectRouting and Calico's VXLAN CrossSubnet on two racks of two hosts, on the
//! netns runtime: rack mates go plain, the rest in VXLAN, and verify expects that wire pair by
//! pair. A mutation that flips one pair's wire is caught and named. Root only; the CLI refusals
//! need no root.

mod common;

use common::verify::{assert_fails_with, exec, pair, verify, verify_healthy};
use common::*;
use serde_json::Value;

/// flannel's DirectRouting, or Calico's CrossSubnet: its flavor, flag, tunnel and VXLAN wire,
/// and the modes its error message offers.
struct Hybrid {
    flavor: &'static str,
    flag: &'static str,
    dev: &'static str,
    wire: &'static str,
    modes: &'static str,
}

const FLANNEL: Hybrid = Hybrid {
    flavor: "flannel",
    flag: "--direct-routing",
    dev: "flannel.1",
    wire: "VXLAN UDP/8472 vni 1",
    modes: "vxlan",
};

const CALICO: Hybrid = Hybrid {
    flavor: "calico",
    flag: "--cross-subnet",
    dev: "vxlan.calico",
    wire: "VXLAN vni 4096",
    modes: "vxlan or ipip",
};

fn deployed(h: &Hybrid) -> LabGuard {
    LabGuard::deployed_with(
        "hyb",
        &[
            "--mode",
            "vxlan",
            "--flavor",
            h.flavor,
            h.flag,
            "--underlay",
            "racks:2",
            "--hosts",
            "4",
        ],
    )
}

/// Rack 1 holds hosts 1 and 2, rack 2 hosts 3 and 4.
fn same_rack(a: usize, b: usize) -> bool {
    (a <= 2) == (b <= 2)
}

fn wire(p: &Value) -> &str {
    p["wire"].as_str().unwrap_or("")
}

#[test]
fn rack_mates_go_plain_and_the_rest_in_vxlan() {
    every_pair_shows_its_wire(&FLANNEL);
}

#[test]
fn calico_cross_subnet_routes_rack_mates_plain_and_the_rest_in_vxlan() {
    every_pair_shows_its_wire(&CALICO);
}

fn every_pair_shows_its_wire(h: &Hybrid) {
    let lab = deployed(h);
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    for a in 1..=4 {
        for b in (1..=4).filter(|&b| b != a) {
            let (from, to) = (format!("pod{a}"), format!("pod{b}"));
            let p = pair(&report, &from, &to);
            assert_eq!(p["passed"], true, "{p:#}");
            let plain = format!("plain IPv4 172.16.{}.2 > 172.16.{}.2", a - 1, b - 1);
            match same_rack(a, b) {
                true => assert_eq!(wire(p), plain, "{from} -> {to}"),
                false => assert!(wire(p).starts_with(h.wire), "{from} -> {to}: {}", wire(p)),
            }
        }
    }
}

#[test]
fn a_rack_mate_sent_through_the_tunnel_is_caught() {
    let lab = deployed(&FLANNEL);
    // host1 treats host2 as if it were in another rack: flannel.1's route, neighbour and FDB.
    exec(
        &lab,
        "host1",
        "ip route replace 172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink",
    );
    exec(
        &lab,
        "host1",
        "ip neigh add 172.16.1.0 lladdr 02:cb:00:00:00:02 dev flannel.1 nud permanent",
    );
    exec(
        &lab,
        "host1",
        "bridge fdb add 02:cb:00:00:00:02 dst 192.168.1.3 dev flannel.1 self permanent",
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &[
            "request: expected plain IPv4 172.16.0.2 > 172.16.1.2",
            "saw VXLAN UDP/8472 vni 1 192.168.1.2>192.168.1.3",
        ],
    );
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["host1 routes 172.16.1.0/24 via 172.16.1.0 dev flannel.1"],
    );
    // Only host1's direction changed: the other rack, and host2's own requests, still pass.
    assert_eq!(pair(&report, "pod3", "pod4")["passed"], true);
    assert_eq!(pair(&report, "pod1", "pod3")["passed"], true);
}

/// Calico keeps every VTEP's entries: one route is all it takes to send a rack mate through
/// the tunnel.
#[test]
fn calico_rack_mate_sent_through_the_tunnel_is_caught() {
    let lab = deployed(&CALICO);
    exec(
        &lab,
        "host4",
        "ip route replace 172.16.2.0/24 via 172.16.2.0 dev vxlan.calico onlink",
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    let saw = format!("saw {} 192.168.2.3>192.168.2.2", CALICO.wire);
    assert_fails_with(
        &report,
        "pod4",
        "pod3",
        &["request: expected plain IPv4 172.16.3.2 > 172.16.2.2", &saw],
    );
    let routes = format!(
        "host4 routes 172.16.2.0/24 via 172.16.2.0 dev {}",
        CALICO.dev
    );
    assert_fails_with(&report, "pod4", "pod3", &[&routes]);
    assert_eq!(pair(&report, "pod1", "pod2")["passed"], true);
    assert_eq!(pair(&report, "pod4", "pod1")["passed"], true);
}

/// felix stamps its plain route to a rack mate with its own protocol (cnilab.direct-proto): the
/// same route made by hand, with `ip route`'s default, carries pod1's packets the same way. The
/// wire is right, so the pair passes; verify still says that it is not the route the lab
/// programs, as a warning, and `--strict` fails on it.
#[test]
fn calico_direct_route_without_felix_s_protocol_is_named() {
    let lab = deployed(&CALICO);
    exec(
        &lab,
        "host1",
        "ip route replace 172.16.1.0/24 via 192.168.1.3 dev eth1",
    );
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    let p = pair(&report, "pod1", "pod2");
    assert_eq!(wire(p), "plain IPv4 172.16.0.2 > 172.16.1.2", "{p:#}");
    let warned = report["warnings"].as_array().unwrap().iter().any(|w| {
        w["message"].as_str().is_some_and(|m| {
            m.contains("host1's route 172.16.1.0/24 via 192.168.1.3 dev eth1 has no protocol (boot")
                && m.contains("the lab plans proto 80")
        })
    });
    assert!(warned, "{:#}", report["warnings"]);
    let (code, _) = verify(&lab, &["--strict"]);
    assert_eq!(code, 1, "--strict fails on the route's protocol");
    assert_eq!(pair(&report, "pod3", "pod4")["passed"], true);
    assert_eq!(pair(&report, "pod1", "pod3")["passed"], true);
}

#[test]
fn a_pair_across_racks_sent_plain_is_caught() {
    let lab = deployed(&FLANNEL);
    // host3 routes host1's pods plain through its router, and the routers carry them: the pair
    // still works, but its pod addresses cross the routed underlay in the clear.
    exec(
        &lab,
        "host3",
        "ip route replace 172.16.0.0/24 via 192.168.2.1 dev eth1",
    );
    exec(&lab, "gw2", "ip route add 172.16.0.0/24 via 192.168.0.100");
    exec(&lab, "gw1", "ip route add 172.16.0.0/24 via 192.168.1.2");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod3",
        "pod1",
        &[
            "request: expected UDP/8472 VXLAN vni 1 between 192.168.2.2 and 192.168.1.2",
            "saw plain IPv4 172.16.2.2 > 172.16.0.2",
            "pod addresses in plain on the underlay",
        ],
    );
    assert_eq!(pair(&report, "pod1", "pod2")["passed"], true);
    assert_eq!(pair(&report, "pod4", "pod1")["passed"], true);
}

#[test]
fn direct_routing_is_refused_outside_flannel_vxlan_on_racks() {
    refused_outside(&FLANNEL);
}

#[test]
fn cross_subnet_is_refused_outside_calico_vxlan_on_racks() {
    refused_outside(&CALICO);
}

fn refused_outside(h: &Hybrid) {
    let other = if h.flavor == "calico" {
        "flannel"
    } else {
        "calico"
    };
    let cases: [(Vec<&str>, String); 3] = [
        (
            vec!["--mode", "vxlan", "--flavor", h.flavor],
            "--underlay routed".into(),
        ),
        (
            vec![
                "--mode",
                "vxlan",
                "--flavor",
                other,
                "--underlay",
                "racks:2",
            ],
            format!("--flavor {other}"),
        ),
        (
            vec!["--mode", "host-gw", "--underlay", "racks:2"],
            "--mode host-gw".into(),
        ),
    ];
    for (args, shown) in cases {
        let out = cnilab()
            .arg("gen")
            .args(&args)
            .args([h.flag, "--hosts", "4", "-o", "-"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        let valid = format!(
            "--mode {} --flavor {} --underlay racks:R",
            h.modes, h.flavor
        );
        assert!(
            err.contains(h.flag) && err.contains(&valid) && err.contains(&shown),
            "{args:?}: {err}"
        );
    }
}
