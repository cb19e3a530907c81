//! `cnilab trace` on an IPIP lab. This machine's kernel has no IPIP, so it runs with
//! `--ignored` inside the stock-kernel VM (`make test-vm`); there, a kernel without IPIP fails
//! it loudly.

mod common;

use common::walk::*;
use common::*;

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn ipip_walk_goes_through_tunl1_with_protocol_4_and_back() {
    require_ipip();
    let lab = LabGuard::gen("ipip", 3, &unique("tri"));
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let (code, walk) = trace_json(&lab, &["pod1", "pod2"]);
    assert_eq!(code, 0, "{walk:#}");
    assert_time_ordered(&walk);
    let request = hops(&walk, "request");
    let expected = [
        "pod1 eth1 out",
        "host1 pod1-veth in",
        "host1 cni0 in",
        "host1 tunl1 out",
        "host1 eth1 out",
        "host2 eth1 in",
        "host2 tunl1 in",
        "host2 cni0 out",
        "host2 pod2-veth out",
        "pod2 eth1 in",
    ];
    // The routers' legs sit between host1 eth1 and host2 eth1; the rest is in this order.
    let mut at = 0;
    for hop in expected {
        let found = request[at..].iter().position(|h| h == hop);
        at += found.unwrap_or_else(|| panic!("{hop} missing or out of order in {request:?}")) + 1;
    }
    let out = step(&walk, "request", "host1 eth1 out");
    assert_eq!(out["encap"]["kind"], "ipip");
    assert_eq!(out["encap"]["outer_dst"], "10.0.2.2");
    assert!(out["packet"].as_str().unwrap().contains("(ipip-proto-4)"));
    assert_eq!(step(&walk, "request", "host1 tunl1 out")["wrap"], "encap");
    assert_eq!(step(&walk, "request", "host2 eth1 in")["wrap"], "decap");
    assert!(decision(&walk, "request", "host1 tunl1 out").contains("via 10.0.2.2 dev tunl1 onlink"));
    assert_eq!(hops(&walk, "reply").last().unwrap(), "pod1 eth1 in");
}
