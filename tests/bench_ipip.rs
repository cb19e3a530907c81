//! `cnilab bench` of IPIP, in a VM with a stock kernel (`make test-vm`): each pod packet on the
//! underlay carries exactly one extra IPv4 header, 20 bytes, and the pods' MSS shows it.

mod common;

use common::*;
use serde_json::Value;

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn ipip_costs_twenty_bytes_a_packet_on_the_wire() {
    require_ipip();
    let prefix = unique("bp");
    let lab = format!("{prefix}-ipip");
    let out = cnilab()
        .args([
            "bench",
            "--modes",
            "ipip",
            "--duration",
            "1",
            "--repeat",
            "1",
        ])
        .args(["--streams", "2", "--json", "--name", &prefix])
        .output()
        .unwrap();
    let left = lab_namespaces(&lab);
    for ns in &left {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", ns])
            .status();
    }
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    assert_eq!(left, Vec::<String>::new(), "namespaces left behind");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    let mode = &report["modes"][0];
    assert_eq!(mode["mode"], "ipip");
    assert_eq!(mode["pod_mtu"].as_u64(), Some(1480));
    let paths = mode["paths"].as_array().unwrap();
    assert_eq!(paths[0]["path"], "host-to-host");
    assert_eq!(
        paths[0]["overhead"]["encap_bytes_per_packet"].as_u64(),
        Some(0)
    );
    let pod = &paths[2];
    assert_eq!(pod["path"], "pod-to-pod");
    assert_eq!(
        pod["overhead"]["encap_bytes_per_packet"].as_u64(),
        Some(20),
        "{pod}"
    );
    assert_eq!(pod["overhead"]["mss"].as_u64(), Some(1440), "{pod}");
    assert!(pod["overhead"]["data_packets"].as_u64().unwrap() > 0);
    for figure in ["throughput_1_stream_gbps", "tcp_rr_us", "cpu_s_per_gbit"] {
        let median = pod["figures"][figure]["median"].as_f64().unwrap();
        assert!(median > 0.0, "{figure}: {median}");
    }
}
