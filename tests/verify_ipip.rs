//! verify on IPIP labs. This machine's kernel has no IPIP, so these run with `--ignored` inside
//! the stock-kernel VM (`make test-vm`); there, a kernel without IPIP fails them loudly.

mod common;

use common::*;
use serde_json::Value;

fn verify_json(lab: &LabGuard) -> (i32, Value) {
    let out = lab.run(&["verify", "--json"]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}; {}): {}", out.status, stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn a_healthy_ipip_lab_passes_and_plain_routing_through_the_router_fails() {
    require_ipip();
    let lab = LabGuard::gen("ipip", 3, &unique("vip"));
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let (code, report) = verify_json(&lab);
    assert_eq!(code, 0, "{report:#}");
    let p = report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from"] == "pod1" && p["to"] == "pod2")
        .unwrap();
    assert_eq!(p["wire"], "IPIP 10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]");

    // The router learns the pod routes and host1 stops tunnelling: pings pass, verify must not.
    let ns = |node: &str| format!("clab-{}-{node}", lab.name);
    for (node, line) in [
        ("gw", "ip route add 172.16.0.0/24 via 10.0.1.2"),
        ("gw", "ip route add 172.16.1.0/24 via 10.0.2.2"),
        (
            "host1",
            "ip route replace 172.16.1.0/24 via 10.0.1.1 dev eth1",
        ),
    ] {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &ns(node)])
            .args(line.split_whitespace())
            .output()
            .unwrap();
        assert!(out.status.success(), "{node}: {line}: {}", stderr(&out));
    }
    let (code, report) = verify_json(&lab);
    assert_eq!(code, 1, "{report:#}");
    let text = report.to_string();
    assert!(
        text.contains("expected IPIP (protocol 4) between 10.0.1.2 and 10.0.2.2, saw plain IPv4 172.16.0.2 > 172.16.1.2 on host1-eth1"),
        "{report:#}"
    );
}

/// The article's IPIP file, verbatim but for its name: its host3 never turns forwarding on
/// (the article's second bug), so on a machine whose root namespace does not forward, pod3's
/// traffic dies at host3, and verify says so on the inferred plan.
#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn the_article_ipip_lab_fails_at_host3_until_it_forwards() {
    require_ipip();
    let name = unique("aip");
    let text = include_str!("../examples/article/ipip.clab.yaml").replacen(
        "name: ipip-demo",
        &format!("name: {name}"),
        1,
    );
    let lab = LabGuard::from_yaml(&name, &text);
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let host3 = format!("clab-{name}-host3");
    let sysctl = |value: &str| {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &host3, "sysctl", "-qw"])
            .arg(format!("net.ipv4.ip_forward={value}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    sysctl("0");
    let (code, report) = verify_json(&lab);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["inferred"], "ipip, 3 hosts, 3 pods, 1 routers");
    for p in report["pairs"].as_array().unwrap() {
        let through_host3 = p["from"] == "pod3" || p["to"] == "pod3";
        assert_eq!(p["passed"], !through_host3, "{p:#}");
        if through_host3 {
            let why = p["reasons"].to_string();
            assert!(
                why.contains("host3 does not forward IPv4 (net.ipv4.ip_forward = 0); host3's exec lines never set net.ipv4.ip_forward=1"),
                "{why}"
            );
        }
    }
    sysctl("1");
    let (code, report) = verify_json(&lab);
    assert_eq!(code, 0, "{report:#}");
    let p = common::verify::pair(&report, "pod1", "pod3");
    assert_eq!(p["wire"], "IPIP 10.0.1.2>10.0.3.2 [172.16.0.2>172.16.2.2]");
    let out = lab.destroy();
    assert!(out.status.success(), "{}", stderr(&out));
    lab.assert_gone();
}
