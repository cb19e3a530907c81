//! `cnilab bench` of IPIP, in a VM with a stock kernel (`make test-vm`): each pod packet on the
//! underlay carries exactly one extra IPv4 header, 20 bytes, and the pods' MSS shows it, in the
//! article's lab and in Calico's.

mod common;

use common::*;
use serde_json::Value;

#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn ipip_costs_twenty_bytes_a_packet_on_the_wire() {
    require_ipip();
    let prefix = unique("bp");
    let labs = [format!("{prefix}-ipip"), format!("{prefix}-ipip-calico")];
    let out = cnilab()
        .args(["bench", "--modes", "ipip", "--flavors", "article,calico"])
        .args(["--duration", "1", "--repeat", "1", "--streams", "2"])
        .args(["--json", "--name", &prefix])
        .output()
        .unwrap();
    let left: Vec<String> = labs.iter().flat_map(|lab| lab_namespaces(lab)).collect();
    for ns in &left {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", ns])
            .status();
    }
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    assert_eq!(left, Vec::<String>::new(), "namespaces left behind");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    let modes = report["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 2, "one lab per flavor");
    for ((mode, flavor), lab) in modes.iter().zip(["article", "calico"]).zip(&labs) {
        assert_eq!(mode["mode"], "ipip");
        assert_eq!(mode["flavor"], flavor);
        assert_eq!(mode["lab"], lab.as_str());
        check_ipip_lab(mode);
    }
}

fn check_ipip_lab(mode: &Value) {
    assert_eq!(mode["pod_mtu"].as_u64(), Some(1480));
    let paths = mode["paths"].as_array().unwrap();
    let kinds: Vec<&str> = paths.iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["host-to-host", "same-host", "pod-to-pod"], "{mode}");
    assert_eq!(
        paths[0]["overhead"]["encap_bytes_per_packet"].as_u64(),
        Some(0)
    );
    assert_eq!(
        (&paths[1]["from"], &paths[1]["to"]),
        (&"pod1-1".into(), &"pod1-2".into())
    );
    assert!(paths[1]["overhead"].is_null());
    let pod = &paths[2];
    assert_eq!(
        pod["overhead"]["encap_bytes_per_packet"].as_u64(),
        Some(20),
        "{pod}"
    );
    assert_eq!(pod["overhead"]["mss"].as_u64(), Some(1440), "{pod}");
    assert!(pod["overhead"]["data_packets"].as_u64().unwrap() > 0);
    for figure in ["throughput_1_stream_gbps", "tcp_rr_us", "cpu_s_per_gbit"] {
        for p in paths {
            let median = p["figures"][figure]["median"].as_f64().unwrap();
            assert!(median > 0.0, "{} {figure}: {median}", p["path"]);
        }
    }
}

/// Calico's ipip lab in dual stack: IPv4 pod packets carry IPIP's 20 bytes, IPv6 ones
/// `vxlan-v6.calico`'s 70 (outer IPv6 40, UDP 8, VXLAN 8, the pod's Ethernet 14), read off the
/// wire, at the pods' one MTU of 1430 (the smaller encapsulation's).
#[test]
#[ignore = "needs a kernel with IPIP: run make test-vm"]
fn dual_ipip_costs_twenty_bytes_in_ipv4_and_seventy_in_ipv6() {
    require_ipip();
    let prefix = unique("bpd");
    let lab = format!("{prefix}-ipip-calico");
    let out = cnilab()
        .args(["bench", "--modes", "ipip", "--flavors", "calico"])
        .args(["--ip-family", "dual"])
        .args(["--duration", "1", "--repeat", "1", "--streams", "2"])
        .args(["--json", "--name", &prefix])
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
    assert_eq!(mode["pod_mtu"].as_u64(), Some(1430), "{mode:#}");
    for (family, encap, ip_header) in [("ipv4", 20, 20), ("ipv6", 70, 40)] {
        let pod = mode["paths"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["family"] == family && p["path"] == "pod-to-pod")
            .unwrap_or_else(|| panic!("no {family} pod-to-pod path: {mode:#}"));
        let o = &pod["overhead"];
        assert_eq!(
            o["encap_bytes_per_packet"].as_u64(),
            Some(encap),
            "{family}: {o}"
        );
        assert_eq!(
            o["mss"].as_u64(),
            Some(1430 - ip_header - 20),
            "{family}: {o}"
        );
        assert!(o["data_packets"].as_u64().unwrap() > 0, "{family}: {o}");
    }
}
