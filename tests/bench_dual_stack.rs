//! `cnilab bench` on dual-stack labs (root, iperf3, ethtool), its own (`--ip-family dual`) and
//! one brought with `-t`, and on an IPv6-only lab: every path is measured in each family, each
//! against its own host-to-host baseline, and the bytes each pod packet carries on the
//! underlay are read off the wire: VXLAN over IPv4 50, VXLAN over IPv6 70 (outer IPv6 40, UDP
//! 8, VXLAN 8, the pod's Ethernet 14), host-gw nothing in either.

mod common;

use common::*;
use serde_json::Value;

/// Root, and the tools bench runs: a missing one fails the test and says how to install it.
fn require_bench_tools() {
    require_root();
    for tool in ["iperf3", "ethtool", "ping"] {
        assert!(
            which::which(tool).is_ok(),
            "this test needs `{tool}`: scripts/install-deps.sh installs it"
        );
    }
}

/// A lab bench deploys itself, removed when dropped even if the test failed half-way.
struct BenchLab(String);

impl Drop for BenchLab {
    fn drop(&mut self) {
        let _ = cnilab().args(["destroy", "--name", &self.0]).output();
        for ns in lab_namespaces(&self.0) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &ns])
                .status();
        }
        let _ = std::fs::remove_file(format!("/run/cnilab/{}.json", self.0));
    }
}

/// `bench --modes MODE --ip-family FAMILY`, briefly: bench's own 2-host lab of 2 pods a host,
/// deployed, measured and destroyed. The report and bench's progress lines.
fn bench_fresh(prefix: &str, mode: &str, family: &str) -> (Value, String) {
    require_bench_tools();
    let prefix = unique(prefix);
    let lab = BenchLab(format!("{prefix}-{mode}"));
    let out = cnilab()
        .args(["bench", "--modes", mode, "--ip-family", family])
        .args(["--duration", "1", "--repeat", "1", "--streams", "2"])
        .args(["--json", "--name", &prefix])
        .output()
        .unwrap();
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    assert_eq!(lab_namespaces(&lab.0), Vec::<String>::new(), "lab left up");
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    assert_eq!(report["modes"][0]["lab"], lab.0.as_str());
    (report, stderr(&out))
}

/// A dual-stack lab generated with `args`, deployed, and benched briefly with `-t`: the
/// report and bench's progress lines. The guard destroys the lab whatever happens.
fn bench_dual(prefix: &str, args: &[&str]) -> (LabGuard, Value, String) {
    require_bench_tools();
    let mut all = vec!["--ip-family", "dual"];
    all.extend_from_slice(args);
    let lab = LabGuard::deployed_with(prefix, &all);
    let out = lab.run(&[
        "bench",
        "--duration",
        "1",
        "--repeat",
        "1",
        "--streams",
        "2",
        "--json",
    ]);
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    let report = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    (lab, report, stderr(&out))
}

/// What one family's paths must show: the encapsulation its pod packets carry on the
/// underlay, and its IP header, which the MSS leaves out of each MTU.
struct Expect {
    family: &'static str,
    encap: u64,
    ip_header: u64,
}

const IPV4: (&str, u64) = ("ipv4", 20);
const IPV6: (&str, u64) = ("ipv6", 40);
/// cnilab's underlay links: containerlab's jumbo default.
const UNDERLAY_MTU: u64 = 9500;

fn expect((family, ip_header): (&'static str, u64), encap: u64) -> Expect {
    Expect {
        family,
        encap,
        ip_header,
    }
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// The paths of one family, in bench's order, each tagged with it.
fn paths_of<'a>(mode: &'a Value, family: &str) -> Vec<&'a Value> {
    mode["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["family"] == family)
        .collect()
}

/// Every figure measured (a positive median of one run), and the ratios taken against the
/// family's own host-to-host path.
fn assert_figures(p: &Value, what: &str) {
    for figure in [
        "throughput_1_stream_gbps",
        "throughput_n_streams_gbps",
        "icmp_rtt_us",
        "tcp_rr_us",
        "cpu_s_per_gbit",
    ] {
        let median = num(&p["figures"][figure]["median"], figure);
        assert!(median > 0.0, "{what} {figure}: {p}");
        let ratio = num(&p["ratio_to_host_to_host"][figure], figure);
        if p["path"] == "host-to-host" {
            assert_eq!(ratio, 1.0, "{what} {figure}: the baseline is its own unit");
        }
    }
}

fn assert_overhead(p: &Value, encap: u64, mss: u64, what: &str) {
    let o = &p["overhead"];
    assert_eq!(
        o["encap_bytes_per_packet"].as_u64(),
        Some(encap),
        "{what}: {o}"
    );
    assert_eq!(o["mss"].as_u64(), Some(mss), "{what}: {o}");
    assert!(o["data_packets"].as_u64().unwrap() > 0, "{what}: {o}");
    let wire = num(&o["wire_bytes_per_payload_byte"], "wire bytes");
    assert!(wire > 1.0 && wire < 1.2, "{what}: {wire}");
}

/// One family's paths of `mode`: their kinds and ends, each figure, the underlay's baseline
/// unencapsulated, and the pod-to-pod overhead `e` promises.
fn check_family(mode: &Value, e: &Expect, kinds: &[&str]) {
    let paths = paths_of(mode, e.family);
    let got: Vec<&str> = paths.iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(got, kinds, "{}: {mode:#}", e.family);
    let pod_mtu = mode["pod_mtu"].as_u64().unwrap();
    for p in &paths {
        let what = format!("{} {}", e.family, p["path"]);
        assert_figures(p, &what);
        match p["path"].as_str().unwrap() {
            "host-to-host" => {
                assert_eq!((&p["from"], &p["to"]), (&"host1".into(), &"host2".into()));
                let mss = UNDERLAY_MTU - e.ip_header - 20;
                assert_overhead(p, 0, mss, &what);
            }
            "same-host" => assert!(p["overhead"].is_null(), "{what}: no underlay crossed"),
            _ => {
                // The first pod, on host1, to one on host2 (pod1-1 -> pod2-1, or pod1 -> pod2).
                let (from, to) = (p["from"].as_str().unwrap(), p["to"].as_str().unwrap());
                assert!(
                    from.starts_with("pod1") && to.starts_with("pod2"),
                    "{what}: {p}"
                );
                let mss = pod_mtu - e.ip_header - 20;
                assert_overhead(p, e.encap, mss, &what);
            }
        }
    }
}

#[test]
fn dual_vxlan_costs_fifty_bytes_in_ipv4_and_seventy_in_ipv6_on_the_wire() {
    let (report, log) = bench_fresh("b42bv", "vxlan", "dual");
    let modes = report["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 1, "{report:#}");
    let mode = &modes[0];
    assert_eq!(
        (&mode["mode"], &mode["flavor"]),
        (&"vxlan".into(), &"article".into())
    );
    // flannel's dual-stack MTU: the larger IPv6 encapsulation sets it for both VTEPs.
    assert_eq!(mode["pod_mtu"].as_u64(), Some(1500 - 70), "{mode:#}");
    let paths = mode["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 6, "three paths in each family: {mode:#}");
    let kinds = ["host-to-host", "same-host", "pod-to-pod"];
    check_family(mode, &expect(IPV4, 50), &kinds);
    check_family(mode, &expect(IPV6, 70), &kinds);
    // IPv4 first, as verify orders its pairs.
    assert_eq!(paths[0]["family"], "ipv4");
    assert_eq!(paths[5]["family"], "ipv6");
    for line in ["pod-to-pod ipv4 round 1/1", "pod-to-pod ipv6 round 1/1"] {
        assert!(log.contains(line), "{log}");
    }
}

#[test]
fn a_deployed_dual_host_gw_lab_carries_nothing_extra_in_either_family() {
    // flannel's host-gw at 3 hosts, one pod each, brought with -t: no same-host path, and
    // bench says so.
    let (_lab, report, log) = bench_dual(
        "b42bh-",
        &["--mode", "host-gw", "--flavor", "flannel", "--hosts", "3"],
    );
    let mode = &report["modes"][0];
    assert_eq!(
        (&mode["mode"], &mode["flavor"]),
        (&"host-gw".into(), &"flannel".into())
    );
    assert_eq!(mode["pod_mtu"].as_u64(), Some(1500), "{mode:#}");
    let kinds = ["host-to-host", "pod-to-pod"];
    check_family(mode, &expect(IPV4, 0), &kinds);
    check_family(mode, &expect(IPV6, 0), &kinds);
    assert_eq!(mode["paths"].as_array().unwrap().len(), 4, "{mode:#}");
    assert!(log.contains("no pod-to-pod baseline on one host"), "{log}");
}

#[test]
fn ipv6_only_vxlan_costs_seventy_bytes_and_has_no_ipv4_path() {
    let (report, _log) = bench_fresh("b42b6", "vxlan", "ipv6");
    let mode = &report["modes"][0];
    assert_eq!(mode["pod_mtu"].as_u64(), Some(1500 - 70), "{mode:#}");
    let kinds = ["host-to-host", "same-host", "pod-to-pod"];
    check_family(mode, &expect(IPV6, 70), &kinds);
    assert_eq!(
        mode["paths"].as_array().unwrap().len(),
        3,
        "IPv6 paths only: {mode:#}"
    );
}

/// Cilium's dual stack sends IPv6 pods in VXLAN over the IPv4 underlay: 50 bytes a packet in
/// both families, read off the wire, at the pods' one MTU of 1450.
#[test]
fn a_deployed_dual_cilium_lab_costs_fifty_bytes_in_each_family() {
    let (_lab, report, _log) = bench_dual(
        "b29bc-",
        &["--mode", "vxlan", "--flavor", "cilium", "--hosts", "2"],
    );
    let mode = &report["modes"][0];
    assert_eq!(mode["pod_mtu"].as_u64(), Some(1450), "{mode:#}");
    let kinds = ["host-to-host", "pod-to-pod"];
    check_family(mode, &expect(IPV4, 50), &kinds);
    check_family(mode, &expect(IPV6, 50), &kinds);
}
