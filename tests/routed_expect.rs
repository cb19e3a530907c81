//! host-gw across routers, on the netns runtime: the lab declares the pairs that cannot work,
//! verify passes them only when they die where the labels say, and says so when they work or
//! die elsewhere. Root only.

mod common;

use common::verify::{assert_fails_with, exec, pair, verify, verify_healthy};
use common::*;
use serde_json::Value;

fn deployed(hosts: usize, underlay: &str) -> LabGuard {
    let hosts = hosts.to_string();
    LabGuard::deployed_with(
        "rte",
        &[
            "--mode",
            "host-gw",
            "--underlay",
            underlay,
            "--hosts",
            &hosts,
        ],
    )
}

fn expected_failure(p: &Value) -> &str {
    p["expected_failure"].as_str().unwrap_or("")
}

#[test]
fn routed_host_gw_fails_where_the_article_says_and_verify_passes_it() {
    let lab = deployed(2, "routed");
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    for (from, to, router) in [("pod1", "pod2", "gw1"), ("pod2", "pod1", "gw2")] {
        let p = pair(&report, from, to);
        assert_eq!(p["passed"], true, "{p:#}");
        let how = expected_failure(p);
        assert!(
            how.contains(&format!(
                "dies at {router} as expected (request seen on {router}-eth2, nowhere further)"
            )),
            "{from} -> {to}: {how}"
        );
    }

    // A failure elsewhere is not the declared one: host1 loses its default route, so pod1's
    // request never reaches gw1.
    exec(&lab, "host1", "ip route del default");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &[
            "expected to die at gw1",
            "failed another way",
            "never reached gw1",
        ],
    );
    exec(
        &lab,
        "host1",
        "ip route add default via 192.168.1.1 dev eth1",
    );

    // Dying at gw1 is not enough: gw1 gets the route, and a firewall drops the packet instead.
    exec(&lab, "gw1", "ip route add 10.0.2.0/24 via 192.168.0.200");
    exec(&lab, "gw1", "iptables -A FORWARD -d 10.0.2.0/24 -j DROP");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &[
            "failed another way",
            "gw1 has a route to 10.0.2.2: something else dropped it",
        ],
    );
    exec(&lab, "gw1", "iptables -D FORWARD -d 10.0.2.0/24 -j DROP");

    // The routes the routers lack, added by hand: the pairs work, and the expectation fails.
    exec(&lab, "gw2", "ip route add 10.0.2.0/24 via 192.168.2.2");
    exec(&lab, "gw2", "ip route add 10.0.1.0/24 via 192.168.0.100");
    exec(&lab, "gw1", "ip route add 10.0.1.0/24 via 192.168.1.2");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    for (from, to, router) in [("pod1", "pod2", "gw1"), ("pod2", "pod1", "gw2")] {
        assert_fails_with(
            &report,
            from,
            to,
            &[
                &format!("expected to die at {router}"),
                "but it works: the expectation no longer holds",
            ],
        );
    }
    let out = lab.destroy();
    assert!(out.status.success(), "destroy failed: {}", stderr(&out));
    lab.assert_gone();
}

#[test]
fn two_racks_pass_inside_a_rack_and_fail_as_declared_across() {
    let lab = deployed(4, "racks:2");
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    let rack = |pod: &str| if pod < "pod3" { 1 } else { 2 };
    let pairs = report["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 12);
    for p in pairs {
        let (from, to) = (p["from"].as_str().unwrap(), p["to"].as_str().unwrap());
        assert_eq!(p["passed"], true, "{p:#}");
        let how = expected_failure(p);
        if rack(from) == rack(to) {
            assert!(
                how.is_empty() && p["rtt_us"].is_u64(),
                "{from} -> {to}: {p:#}"
            );
        } else {
            let gw = format!("dies at gw{}", rack(from));
            assert!(how.contains(&gw), "{from} -> {to}: {how}");
        }
    }
    let out = lab.destroy();
    assert!(out.status.success(), "destroy failed: {}", stderr(&out));
    lab.assert_gone();
}
