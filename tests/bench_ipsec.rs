//! `cnilab bench --encryption ipsec` of Cilium's lab, in a VM with a stock kernel
//! (`make test-vm`): the lab is benched in the clear and then sealed in ESP, each pod packet
//! across hosts gains 54 bytes of ESP in tunnel mode (outer IPv4 20, SPI and sequence 8, GCM's
//! IV 8, trailer 2, ICV 16) and its padding, and the cost table sets the two side by side.
//! Where the kernel has no ESP (this machine), bench refuses before it deploys anything.

mod common;

use common::*;
use serde_json::Value;

const FIGURES: [&str; 5] = [
    "throughput_1_stream_gbps",
    "throughput_n_streams_gbps",
    "icmp_rtt_us",
    "tcp_rr_us",
    "cpu_s_per_gbit",
];

fn kernel_has_esp() -> bool {
    use cnilab::runtime::preflight::{probe, Feature};
    probe(Feature::Xfrm)
}

fn bench_ipsec(prefix: &str) -> std::process::Output {
    cnilab()
        .args(["bench", "--modes", "vxlan", "--flavors", "cilium"])
        .args(["--encryption", "ipsec", "--duration", "1", "--repeat", "1"])
        .args(["--streams", "2", "--json", "--name", prefix])
        .output()
        .unwrap()
}

/// The namespaces of both labs, removed if the bench left any; the test fails on them after.
fn left_behind(prefix: &str) -> Vec<String> {
    let labs = [
        format!("{prefix}-vxlan-cilium"),
        format!("{prefix}-vxlan-cilium-ipsec"),
    ];
    let left: Vec<String> = labs.iter().flat_map(|lab| lab_namespaces(lab)).collect();
    for ns in &left {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", ns])
            .status();
    }
    left
}

#[test]
fn bench_refuses_ipsec_up_front_where_the_kernel_has_no_esp() {
    require_root();
    assert!(
        !kernel_has_esp(),
        "this kernel has ESP: the refusal cannot be shown here (the VM test benches the lab)"
    );
    let prefix = unique("bsn");
    let out = bench_ipsec(&prefix);
    let left = left_behind(&prefix);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.starts_with("cnilab: cannot bench vxlan/cilium+ipsec here: this kernel has no IPsec"),
        "{said}"
    );
    assert!(!said.contains("deploying"), "nothing is deployed: {said}");
    assert_eq!(left, Vec::<String>::new(), "namespaces left behind");
}

#[test]
#[ignore = "needs a kernel with ESP: run make test-vm"]
fn ipsec_is_benched_against_the_same_lab_in_the_clear() {
    require_root();
    assert!(kernel_has_esp(), "this kernel cannot hold an ESP state");
    let prefix = unique("bs");
    let out = bench_ipsec(&prefix);
    let left = left_behind(&prefix);
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    assert_eq!(left, Vec::<String>::new(), "namespaces left behind");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    let modes = report["modes"].as_array().unwrap();
    let sealed: Vec<&Value> = modes.iter().map(|m| &m["encryption"]).collect();
    assert_eq!(
        sealed,
        ["none", "ipsec"],
        "the clear lab, then the sealed one"
    );
    let pod_to_pod = |m: &Value| m["paths"][2]["overhead"].clone();
    assert_eq!(modes[0]["pod_mtu"].as_u64(), Some(1450));
    assert_eq!(
        pod_to_pod(&modes[0])["encap_bytes_per_packet"].as_u64(),
        Some(50)
    );
    assert_eq!(modes[1]["pod_mtu"].as_u64(), Some(1440));
    let esp = pod_to_pod(&modes[1]);
    assert_eq!(esp["encap_bytes_per_packet"].as_u64(), Some(54), "{esp}");
    assert_eq!(esp["mss"].as_u64(), Some(1400), "{esp}");
    let costs = report["encryption_cost"].as_array().unwrap();
    assert_eq!(costs.len(), 1, "{report}");
    let cost = &costs[0];
    assert_eq!(cost["sealed"], "vxlan/cilium+ipsec");
    assert_eq!(cost["clear"], "vxlan/cilium");
    assert_eq!(cost["sealed_bytes_per_packet"].as_u64(), Some(54));
    for figure in FIGURES {
        let r = cost["ratio_to_clear"][figure].as_f64().unwrap_or(f64::NAN);
        assert!(r > 0.0 && r.is_finite(), "{figure}: {cost}");
    }
    let wire = |i: usize| cost["wire_bytes_per_payload_byte"][i].as_f64().unwrap();
    // 54 bytes and padding against VXLAN's 50, on 10 fewer bytes of payload a segment.
    assert!(wire(0) > wire(1), "sealing costs bytes: {cost}");
}
