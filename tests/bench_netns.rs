//! `cnilab bench` on real labs (root): a short host-gw and vxlan run yields a report whose
//! every figure is a real measurement, and nothing of the labs is left afterwards, also when
//! the run is interrupted.

mod common;

use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Removes whatever a bench under `prefix` left, even when the test fails half-way.
struct BenchLabs {
    labs: Vec<String>,
}

impl BenchLabs {
    fn new(prefix: &str, modes: &[&str]) -> BenchLabs {
        BenchLabs {
            labs: modes.iter().map(|m| format!("{prefix}-{m}")).collect(),
        }
    }

    /// What bench's labs could leave in the root namespace: each is `cnilab gen` of its mode
    /// with 2 hosts and 2 pods a host.
    fn footprint(&self, modes: &[&str]) -> Footprint {
        let mut yaml = Vec::new();
        for (lab, mode) in self.labs.iter().zip(modes) {
            let out = cnilab()
                .args([
                    "gen",
                    "--mode",
                    mode,
                    "--hosts",
                    "2",
                    "--pods-per-host",
                    "2",
                ])
                .args(["--name", lab, "-o", "-"])
                .output()
                .unwrap();
            assert!(out.status.success(), "gen {mode}: {}", stderr(&out));
            yaml.push(String::from_utf8(out.stdout).unwrap());
        }
        Footprint::of_yamls(&yaml)
    }

    fn assert_gone(&self) {
        for lab in &self.labs {
            assert_eq!(
                lab_namespaces(lab),
                Vec::<String>::new(),
                "{lab}: namespaces left behind"
            );
            let state = std::path::Path::new("/run/cnilab").join(format!("{lab}.json"));
            assert!(!state.exists(), "{lab}: state file left behind");
            for scope in ["run", "life"] {
                let lock = format!("/run/cnilab/{lab}.{scope}.lock");
                assert!(!std::path::Path::new(&lock).exists(), "{lock} left behind");
            }
        }
    }
}

impl Drop for BenchLabs {
    fn drop(&mut self) {
        for lab in &self.labs {
            // destroy also ends the nodes' processes; what it cannot reach goes by hand.
            let _ = Command::new(bin())
                .args(["destroy", "--name", lab])
                .output();
            for ns in lab_namespaces(lab) {
                let _ = Command::new("ip").args(["netns", "del", &ns]).status();
            }
            let _ = std::fs::remove_file(format!("/run/cnilab/{lab}.json"));
        }
    }
}

/// `iperf3 … -c …`: a client, which bench runs only while it measures.
fn is_iperf_client(pid: nix::unistd::Pid) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    words.first().is_some_and(|w| w.ends_with(b"iperf3")) && words.contains(&&b"-c"[..])
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

/// Every figure is a median of one run, positive, with min <= median <= max.
fn assert_figures(path: &Value, mode: &str) {
    let kind = path["path"].as_str().unwrap();
    for figure in [
        "throughput_1_stream_gbps",
        "throughput_n_streams_gbps",
        "icmp_rtt_us",
        "tcp_rr_us",
        "cpu_s_per_gbit",
    ] {
        let stat = &path["figures"][figure];
        let what = format!("{mode} {kind} {figure}");
        let median = num(&stat["median"], &what);
        assert!(median > 0.0, "{what}: median {median}");
        assert_eq!(
            stat["runs"].as_array().map(Vec::len),
            Some(1),
            "{what}: {stat}"
        );
        let (min, max) = (num(&stat["min"], &what), num(&stat["max"], &what));
        assert!(min <= median && median <= max, "{what}: {stat}");
        assert_eq!(
            num(&stat["spread"], &what),
            (max - min) / median,
            "{what}: {stat}"
        );
        let ratio = num(&path["ratio_to_host_to_host"][figure], &what);
        if kind == "host-to-host" {
            assert_eq!(ratio, 1.0, "{what}: the baseline is its own unit");
        } else {
            assert!(ratio > 0.0, "{what}: ratio {ratio}");
        }
    }
    // Loose sanity bounds a broken parser would miss: veths move well over 10 Mbit/s, and a
    // round trip between namespaces takes far less than 50 ms.
    assert!(
        num(
            &path["figures"]["throughput_1_stream_gbps"]["median"],
            "gbps"
        ) > 0.01
    );
    assert!(num(&path["figures"]["tcp_rr_us"]["median"], "rr") < 50_000.0);
    assert!(num(&path["figures"]["icmp_rtt_us"]["median"], "icmp") < 50_000.0);
}

fn assert_overhead(path: &Value, mode: &str, encap: u64, mss: Option<u64>) {
    let kind = path["path"].as_str().unwrap();
    let o = &path["overhead"];
    assert_eq!(
        o["encap_bytes_per_packet"].as_u64(),
        Some(encap),
        "{mode} {kind}: {o}"
    );
    if let Some(mss) = mss {
        assert_eq!(o["mss"].as_u64(), Some(mss), "{mode} {kind}: {o}");
    }
    assert!(
        o["data_packets"].as_u64().unwrap() > 0,
        "{mode} {kind}: {o}"
    );
    let wire = num(&o["wire_bytes_per_payload_byte"], "wire bytes");
    // Headers cost something, yet far less than the payload at these MSS.
    assert!(wire > 1.0 && wire < 1.2, "{mode} {kind}: {wire}");
    assert!(o["gso_seen"].is_boolean());
}

fn ends(p: &Value) -> (&str, &str) {
    (p["from"].as_str().unwrap(), p["to"].as_str().unwrap())
}

/// The object has exactly these keys: a field the report gains must be asserted here too.
fn assert_keys(v: &Value, keys: &[&str]) {
    let mut have: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    have.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(have, want, "{v}");
}

const FIGURES: [&str; 5] = [
    "throughput_1_stream_gbps",
    "throughput_n_streams_gbps",
    "icmp_rtt_us",
    "tcp_rr_us",
    "cpu_s_per_gbit",
];

fn assert_path_keys(p: &Value) {
    assert_keys(
        p,
        &[
            "path",
            "from",
            "to",
            "figures",
            "ratio_to_host_to_host",
            "overhead",
        ],
    );
    assert_keys(&p["figures"], &FIGURES);
    assert_keys(&p["ratio_to_host_to_host"], &FIGURES);
    for figure in FIGURES {
        assert_keys(
            &p["figures"][figure],
            &["median", "min", "max", "spread", "runs"],
        );
    }
    if !p["overhead"].is_null() {
        assert_keys(
            &p["overhead"],
            &[
                "encap_bytes_per_packet",
                "mss",
                "wire_bytes_per_payload_byte",
                "data_packets",
                "gso_seen",
            ],
        );
    }
}

/// What one lab of the report must hold; the lab is `<prefix>-<mode>[-<flavor>]`.
struct Expect<'a> {
    mode: &'a str,
    flavor: &'a str,
    lab: String,
    pod_mtu: u64,
    encap: u64,
}

fn check_mode(m: &Value, e: &Expect) -> f64 {
    let Expect {
        mode,
        flavor,
        pod_mtu,
        encap,
        ..
    } = *e;
    assert_keys(
        m,
        &[
            "mode",
            "flavor",
            "encryption",
            "lab",
            "pod_mtu",
            "offloads",
            "paths",
        ],
    );
    assert_eq!(m["mode"], mode);
    assert_eq!(m["flavor"], flavor);
    assert_eq!(m["lab"], e.lab.as_str());
    assert_eq!(m["pod_mtu"].as_u64(), Some(pod_mtu));
    let offloads = m["offloads"].as_object().unwrap();
    // The pod's interface and every interface of its host (underlay, bridge, pod veths, ...).
    assert!(offloads.len() >= 5, "{offloads:?}");
    for (iface, features) in offloads {
        assert_eq!(
            features.as_object().unwrap().len(),
            6,
            "{iface}: {features}"
        );
    }
    // Calico and Cilium route each pod's veth; the others bridge them on cni0.
    let bridged = matches!(flavor, "article" | "flannel");
    let ifaces = ["pod1-1:eth1", "host1:eth1", "host1:cni0"];
    for iface in &ifaces[..if bridged { 3 } else { 2 }] {
        // The default: veths and bridges offload tx checksums, and bench left them so.
        assert_eq!(
            offloads[*iface]["tx-checksumming"], true,
            "{iface}: {offloads:?}"
        );
    }
    let paths = m["paths"].as_array().unwrap();
    let kinds: Vec<&str> = paths.iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["host-to-host", "same-host", "pod-to-pod"]);
    for p in paths {
        assert_path_keys(p);
        assert_figures(p, mode);
    }
    assert_eq!(ends(&paths[0]), ("host1", "host2"));
    // The same-host baseline is pod to pod on one host, not a pod to its own host.
    assert_eq!(ends(&paths[1]), ("pod1-1", "pod1-2"));
    assert_eq!(ends(&paths[2]), ("pod1-1", "pod2-1"));
    assert_overhead(&paths[0], mode, 0, None);
    assert!(
        paths[1]["overhead"].is_null(),
        "same-host crosses no underlay"
    );
    // MSS = pod MTU - 20 (IP) - 20 (TCP).
    assert_overhead(&paths[2], mode, encap, Some(pod_mtu - 40));
    num(&paths[2]["overhead"]["wire_bytes_per_payload_byte"], "wire")
}

#[test]
fn short_bench_of_host_gw_and_vxlan_measures_every_figure_and_cleans_up() {
    require_root();
    let before = RootSnapshot::take();
    let prefix = unique("bn");
    let labs = BenchLabs::new(&prefix, &["host-gw", "vxlan"]);
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("bench.svg");
    let out = cnilab()
        .args([
            "bench",
            "--modes",
            "host-gw,vxlan",
            "--duration",
            "1",
            "--repeat",
            "1",
        ])
        .args(["--streams", "2", "--json", "--name", &prefix, "--plot"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    labs.assert_gone();
    before.assert_untouched_by(&labs.footprint(&["host-gw", "vxlan"]));

    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    assert_keys(
        &report,
        &["machine", "settings", "modes", "encryption_cost"],
    );
    assert_eq!(
        report["encryption_cost"],
        serde_json::json!([]),
        "nothing sealed"
    );
    let machine = &report["machine"];
    assert_keys(machine, &["kernel", "cpus", "cpu_model"]);
    let cpus = std::thread::available_parallelism().unwrap().get() as u64;
    assert_eq!(machine["cpus"].as_u64(), Some(cpus), "{machine}");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(machine["kernel"], release.trim(), "{machine}");
    assert!(machine["cpu_model"].is_string(), "{machine}");
    let s = &report["settings"];
    assert_keys(s, &["duration_s", "repeat", "streams", "offload"]);
    assert_eq!(
        (s["duration_s"].as_u64(), s["repeat"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (s["streams"].as_u64(), s["offload"].as_bool()),
        (Some(2), Some(true))
    );
    let modes = report["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 2);
    let article = |mode, pod_mtu, encap| Expect {
        mode,
        flavor: "article",
        lab: format!("{prefix}-{mode}"),
        pod_mtu,
        encap,
    };
    let host_gw_wire = check_mode(&modes[0], &article("host-gw", 1500, 0));
    let vxlan_wire = check_mode(&modes[1], &article("vxlan", 1450, 50));
    // 50 more bytes a segment, and 50 fewer of payload in it.
    assert!(
        vxlan_wire > host_gw_wire + 0.03,
        "{vxlan_wire} vs {host_gw_wire}"
    );

    let text = std::fs::read_to_string(&svg).expect("--plot wrote the SVG");
    let doc = roxmltree::Document::parse(&text).expect("the plot is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(
        text.contains(">\nvxlan\n<") || text.contains(">vxlan<"),
        "no vxlan label"
    );
}

#[test]
fn each_flavor_is_a_lab_of_its_own_measured_the_same_way() {
    require_root();
    let prefix = unique("bf");
    let labs = BenchLabs::new(&prefix, &["vxlan-calico", "vxlan-cilium"]);
    let out = cnilab()
        .args(["bench", "--modes", "vxlan", "--flavors", "calico,cilium"])
        .args(["--duration", "1", "--repeat", "1", "--streams", "2"])
        .args(["--json", "--name", &prefix])
        .output()
        .unwrap();
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    labs.assert_gone();
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    let modes = report["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 2, "one lab per flavor");
    for (m, flavor) in modes.iter().zip(["calico", "cilium"]) {
        let expect = Expect {
            mode: "vxlan",
            flavor,
            lab: format!("{prefix}-vxlan-{flavor}"),
            pod_mtu: 1450,
            encap: 50,
        };
        check_mode(m, &expect);
    }
    let log = stderr(&out);
    assert!(log.contains("vxlan/calico: deploying lab"), "{log}");
    assert!(log.contains("vxlan/cilium: pod-to-pod round 1/1"), "{log}");
}

/// `--encryption wireguard`: the flannel lab in the clear, then sealed, and the cost of the
/// one against the other. wireguard-go seals it where the kernel has no WireGuard.
#[test]
fn encryption_is_benched_against_the_same_lab_in_the_clear() {
    require_root();
    for tool in ["wg", "wireguard-go"] {
        assert!(
            which::which(tool).is_ok(),
            "this test needs `{tool}`: scripts/install-deps.sh installs it"
        );
    }
    let prefix = unique("be");
    let flavors = ["host-gw-flannel", "host-gw-flannel-wireguard"];
    let labs = BenchLabs::new(&prefix, &flavors);
    let out = cnilab()
        .args(["bench", "--modes", "host-gw", "--flavors", "flannel"])
        .args([
            "--encryption",
            "wireguard",
            "--duration",
            "1",
            "--repeat",
            "1",
        ])
        .args(["--streams", "2", "--json", "--name", &prefix])
        .output()
        .unwrap();
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    labs.assert_gone();
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    let modes = report["modes"].as_array().unwrap();
    let sealed: Vec<&Value> = modes.iter().map(|m| &m["encryption"]).collect();
    assert_eq!(
        sealed,
        ["none", "wireguard"],
        "the clear lab, then the sealed one"
    );
    let expect = |lab: &str, pod_mtu, encap| Expect {
        mode: "host-gw",
        flavor: "flannel",
        lab: format!("{prefix}-{lab}"),
        pod_mtu,
        encap,
    };
    check_mode(&modes[0], &expect(flavors[0], 1500, 0));
    // flannel's WireGuard MTU; each packet gains outer IPv4, UDP, WireGuard's header and tag.
    check_mode(&modes[1], &expect(flavors[1], 1420, 60));
    let costs = report["encryption_cost"].as_array().unwrap();
    assert_eq!(costs.len(), 1, "{report}");
    let cost = &costs[0];
    assert_eq!(cost["sealed"], "host-gw/flannel+wireguard");
    assert_eq!(cost["clear"], "host-gw/flannel");
    assert_eq!(cost["sealed_bytes_per_packet"].as_u64(), Some(60));
    for figure in FIGURES {
        let r = num(&cost["ratio_to_clear"][figure], figure);
        assert!(r > 0.0 && r.is_finite(), "{figure}: {cost}");
    }
    let (sealed_wire, clear_wire) = (
        num(&cost["wire_bytes_per_payload_byte"][0], "sealed wire"),
        num(&cost["wire_bytes_per_payload_byte"][1], "clear wire"),
    );
    assert!(sealed_wire > clear_wire, "sealing costs bytes: {cost}");
}

#[test]
fn interrupted_bench_destroys_its_lab_and_exits_130() {
    require_root();
    let prefix = unique("bi");
    let labs = BenchLabs::new(&prefix, &["host-gw"]);
    let mut child = Command::new(bin())
        .args([
            "bench",
            "--modes",
            "host-gw",
            "--duration",
            "3",
            "--name",
            &prefix,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group, so that the signal reaches it and its tools, as Ctrl-C does.
        .process_group(0)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("host-to-host round 1") {
            break;
        }
    }
    assert!(
        !lab_namespaces(&labs.labs[0]).is_empty(),
        "not deployed yet: {seen:?}"
    );
    // Mid-way through the first throughput run: its iperf3 client runs in the lab.
    let namespaces = lab_namespaces(&labs.labs[0]);
    wait_until(GENEROUS, "bench's first iperf3 client to run", || {
        cnilab::sys::netns::pids_in(&namespaces)
            .iter()
            .any(|(pid, _)| is_iperf_client(*pid))
    });
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGINT).unwrap();
    seen.extend(lines.map_while(Result::ok));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen:?}");
    assert!(
        seen.iter().any(|l| l.contains("cnilab: interrupted")),
        "{seen:?}"
    );
    labs.assert_gone();
}

#[test]
fn offload_off_turns_checksum_and_segmentation_offload_off_and_segments_stay_small() {
    require_root();
    let prefix = unique("bo");
    let labs = BenchLabs::new(&prefix, &["vxlan"]);
    let out = cnilab()
        .args([
            "bench",
            "--modes",
            "vxlan",
            "--duration",
            "1",
            "--repeat",
            "1",
        ])
        .args(["--offload", "off", "--json", "--name", &prefix])
        .output()
        .unwrap();
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    labs.assert_gone();
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    assert_eq!(report["settings"]["offload"], false);
    let mode = &report["modes"][0];
    for (iface, features) in mode["offloads"].as_object().unwrap() {
        for feature in [
            "tx-checksumming",
            "tcp-segmentation-offload",
            "generic-segmentation-offload",
        ] {
            assert_eq!(features[feature], false, "{iface} {feature}: {features}");
        }
    }
    let pod = &mode["paths"][2]["overhead"];
    assert_eq!(mode["paths"][2]["path"], "pod-to-pod");
    // Without segmentation offload every packet on the wire is at most one MSS.
    assert_eq!(pod["gso_seen"], false, "{pod}");
    assert_eq!(pod["encap_bytes_per_packet"].as_u64(), Some(50), "{pod}");
    assert!(
        mode["paths"][2]["figures"]["throughput_1_stream_gbps"]["median"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn bench_of_a_deployed_lab_measures_it_and_leaves_it_up() {
    require_root();
    // flannel's host-gw, one pod per host: bench reads the flavor back from the file.
    let name = unique("bt");
    let gen = cnilab()
        .args([
            "gen", "--mode", "host-gw", "--flavor", "flannel", "--hosts", "2",
        ])
        .args(["--name", &name, "-o", "-"])
        .output()
        .unwrap();
    assert!(gen.status.success(), "{}", stderr(&gen));
    let lab = LabGuard::from_yaml(&name, &String::from_utf8(gen.stdout).unwrap());
    let out = lab.run(&["bench", "--json"]).status.code();
    assert_eq!(out, Some(2), "a lab that is not up is refused");
    let not_up = lab.run(&["bench"]);
    assert!(
        stderr(&not_up).contains("is not up; deploy it first"),
        "{}",
        stderr(&not_up)
    );
    let out = lab.deploy();
    assert!(out.status.success(), "deploy failed: {}", stderr(&out));
    let namespaces = lab.namespaces();
    let out = cnilab()
        .args(["bench", "--duration", "1", "--repeat", "1", "--json", "-t"])
        .arg(&lab.file)
        .output()
        .unwrap();
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    assert_eq!(report["modes"].as_array().unwrap().len(), 1);
    assert_eq!(report["modes"][0]["lab"], lab.name.as_str());
    assert_eq!(report["modes"][0]["flavor"], "flannel");
    // One pod per host: no same-host pair, and bench says so rather than measure something else.
    let paths = report["modes"][0]["paths"].as_array().unwrap();
    let kinds: Vec<&str> = paths.iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["host-to-host", "pod-to-pod"]);
    assert!(
        stderr(&out).contains("no pod-to-pod baseline on one host"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        paths[1]["overhead"]["encap_bytes_per_packet"].as_u64(),
        Some(0)
    );
    assert_eq!(
        lab.namespaces(),
        namespaces,
        "the user's lab stays up as it was"
    );
    assert!(lab.state_file().exists());
}

#[test]
fn a_destroy_by_hand_ends_a_bench_within_seconds_and_leaves_nothing() {
    require_root();
    let prefix = unique("bnkill");
    let labs = BenchLabs::new(&prefix, &["host-gw"]);
    let bench = Command::new(bin())
        .args([
            "bench",
            "--modes",
            "host-gw",
            "--duration",
            "5",
            "--repeat",
            "3",
        ])
        .args(["--name", &prefix])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lab = &labs.labs[0];
    let lock = format!("/run/cnilab/{lab}.run.lock");
    let start = std::time::Instant::now();
    // Measuring: bench holds its lab's run lock.
    while !std::fs::read_to_string(&lock).is_ok_and(|l| l.starts_with("bench ")) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "bench never started measuring"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = Command::new(bin())
        .args(["destroy", "--name", lab])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stopped = std::time::Instant::now();
    let out = bench.wait_with_output().unwrap();
    assert!(
        stopped.elapsed() < std::time::Duration::from_secs(15),
        "bench ran on for {:?}",
        stopped.elapsed()
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the lab was destroyed while benching"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "no report of a half-measured lab");
    labs.assert_gone();
}
