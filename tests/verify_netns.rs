//! verify end to end on real labs (netns runtime): a healthy lab passes, and each way of
//! breaking one makes verify exit 1 with the reason that names the break. Root only; without
//! root these tests fail loudly rather than pass.

mod common;

use common::verify::*;
use common::*;
use serde_json::Value;

fn output(lab: &LabGuard, node: &str, line: &str) -> String {
    let ns = format!("clab-{}-{node}", lab.name);
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns])
        .args(line.split_whitespace())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_passes(lab: &LabGuard) -> Value {
    let (code, report) = verify_healthy(lab, &[]);
    assert_eq!(code, 0, "a healthy lab must pass: {report:#}");
    report
}

#[test]
fn a_healthy_vxlan_lab_passes_with_table_json_and_pcaps() {
    let lab = deployed("vxlan", 3, "vfok");
    let out = lab.run(&["verify"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}{}", stderr(&out));
    // The table wraps a row whose RTT is wide (a loaded machine) to fit 80 columns.
    let words = table.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("VXLAN vni 1 10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]"),
        "{table}"
    );
    assert!(
        table
            .trim_end()
            .ends_with("6/6 pairs passed (vxlan, 3 hosts)"),
        "{table}"
    );
    // verify teaches the routers their WAN peers for the run only.
    for gw in ["gw1", "gw2", "gw3"] {
        let left = output(&lab, gw, "ip neigh show nud permanent");
        assert_eq!(left.trim(), "", "{gw} keeps what verify taught it");
    }

    let pcaps = lab.dir.path().join("pcap");
    let (code, report) = verify_healthy(&lab, &["--pcap", pcaps.to_str().unwrap()]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["pairs"].as_array().unwrap().len(), 6);
    assert!(pair(&report, "pod3", "pod1")["rtt_us"].as_u64().is_some());
    // One file per capture point: 3 host underlays and both legs of 3 routers.
    for point in [
        "host1-eth1",
        "host2-eth1",
        "host3-eth1",
        "gw1-eth1",
        "gw2-eth2",
        "gw3-eth1",
    ] {
        let file = pcaps.join(format!("{point}.pcap"));
        let out = std::process::Command::new("tcpdump")
            .args(["-nr"])
            .arg(&file)
            .output()
            .expect("tcpdump is installed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "tcpdump -r {}: {}",
            file.display(),
            stderr(&out)
        );
        assert!(
            text.contains("VXLAN") && text.contains("vni 1"),
            "{point}: {text}"
        );
        assert!(text.contains("ICMP echo request"), "{point}: {text}");
    }
}

#[test]
fn a_healthy_host_gw_lab_passes() {
    let lab = deployed("host-gw", 3, "vhok");
    let report = assert_passes(&lab);
    assert_eq!(
        pair(&report, "pod1", "pod2")["wire"],
        "plain IPv4 10.0.1.2 > 10.0.2.2"
    );
}

#[test]
fn a_deleted_route_fails_the_pairs_that_need_it() {
    let lab = deployed("host-gw", 2, "vhrt");
    assert_passes(&lab);
    exec(&lab, "host1", "ip route del 10.0.2.0/24");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    // host1's "network unreachable" is rate-limited by the kernel (one a second per source,
    // from an empty bucket), so it may or may not come back; the request must never leave.
    let p = pair(&report, "pod1", "pod2");
    let why = reasons(p).join(" | ");
    assert_eq!(p["passed"], false, "{why}");
    assert!(
        why.contains("network unreachable (ICMP from 10.0.1.1)") || why.contains("no reply"),
        "{why}"
    );
    assert!(why.contains("ping request not seen on host1-eth1"), "{why}");
    // pod2's requests arrive, but host1 cannot route the replies back.
    assert_fails_with(&report, "pod2", "pod1", &["no reply"]);
}

/// The article's latent bug: its VXLAN host1 sets proxy_arp where it means forwarding, and
/// works only where the root namespace happens to forward. A host that does not forward is a
/// dead end for its pod, both ways, while the other pods are unaffected.
#[test]
fn a_host_that_does_not_forward_fails_its_pods_pairs_only() {
    let lab = deployed("vxlan", 3, "vxfwd");
    assert_passes(&lab);
    exec(&lab, "host1", "sysctl -w net.ipv4.ip_forward=0");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    for (from, to) in [
        ("pod1", "pod2"),
        ("pod1", "pod3"),
        ("pod2", "pod1"),
        ("pod3", "pod1"),
    ] {
        assert_fails_with(&report, from, to, &["no reply"]);
    }
    for (from, to) in [("pod2", "pod3"), ("pod3", "pod2")] {
        assert_eq!(pair(&report, from, to)["passed"], true, "{report:#}");
    }
}

#[test]
fn masquerade_on_pod_traffic_is_caught_although_pings_pass() {
    let lab = deployed("host-gw", 2, "vhnat");
    assert_passes(&lab);
    exec(
        &lab,
        "host1",
        "iptables -t nat -I POSTROUTING -s 10.0.1.0/24 -o eth1 -j MASQUERADE",
    );
    let report = verify_fails_while_pings_pass(&lab, "pod1", "10.0.2.2");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &[
            "saw plain IPv4 192.168.0.100 > 10.0.2.2 on host1-eth1",
            "source rewritten: NAT",
        ],
    );
}

#[test]
fn plain_routing_in_a_vxlan_lab_is_caught_although_pings_pass() {
    let lab = deployed("vxlan", 2, "vxpl");
    assert_passes(&lab);
    // The routers learn the pod routes, and the hosts send pod traffic to them in plain.
    exec(&lab, "gw1", "ip route add 172.16.0.0/24 via 10.0.1.2");
    exec(&lab, "gw1", "ip route add 172.16.1.0/24 via 192.168.0.200");
    exec(&lab, "gw2", "ip route add 172.16.1.0/24 via 10.0.2.2");
    exec(&lab, "gw2", "ip route add 172.16.0.0/24 via 192.168.0.100");
    exec(
        &lab,
        "host1",
        "ip route replace 172.16.1.0/24 via 10.0.1.1 dev eth1",
    );
    exec(
        &lab,
        "host2",
        "ip route replace 172.16.0.0/24 via 10.0.2.1 dev eth1",
    );
    let report = verify_fails_while_pings_pass(&lab, "pod1", "172.16.1.2");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["expected UDP/4789 VXLAN vni 1 between 10.0.1.2 and 10.0.2.2, saw plain IPv4 172.16.0.2 > 172.16.1.2 on host1-eth1"],
    );
    assert_fails_with(
        &report,
        "pod2",
        "pod1",
        &["saw plain IPv4 172.16.1.2 > 172.16.0.2 on host2-eth1"],
    );
}

/// Forgets everything the two hosts learnt about each other, so the next contact needs ARP.
fn forget_peer(lab: &LabGuard, host: &str, peer_underlay: &str) {
    exec(lab, host, "ip neigh flush dev flannel.1");
    for line in output(lab, host, "bridge fdb show dev flannel.1").lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 3 && words[1] == "dst" && words[2] == peer_underlay {
            exec(
                lab,
                host,
                &format!(
                    "bridge fdb del {} dev flannel.1 dst {peer_underlay}",
                    words[0]
                ),
            );
        }
    }
}

#[test]
fn removed_fdb_flood_entries_fail_the_pairs_between_those_hosts() {
    let lab = deployed("vxlan", 3, "vxfdb");
    assert_passes(&lab);
    // Without the all-zeros entries, the first ARP between host1 and host2 has nowhere to go.
    exec(
        &lab,
        "host1",
        "bridge fdb del 00:00:00:00:00:00 dst 10.0.2.2 dev flannel.1",
    );
    exec(
        &lab,
        "host2",
        "bridge fdb del 00:00:00:00:00:00 dst 10.0.1.2 dev flannel.1",
    );
    forget_peer(&lab, "host1", "10.0.2.2");
    forget_peer(&lab, "host2", "10.0.1.2");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(&report, "pod1", "pod2", &["no reply"]);
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["ping request not seen on host1-eth1"],
    );
    assert_fails_with(&report, "pod2", "pod1", &["no reply"]);
    // host3 still floods to both, so its pairs are fine.
    assert_eq!(pair(&report, "pod3", "pod1")["passed"], true, "{report:#}");
    assert_eq!(pair(&report, "pod1", "pod3")["passed"], true, "{report:#}");
}

#[test]
fn a_vxlan_device_with_another_vni_is_named() {
    let lab = deployed("vxlan", 2, "vxvni");
    assert_passes(&lab);
    for line in [
        "ip link del flannel.1",
        "ip link add flannel.1 type vxlan id 2 dev eth1 local 10.0.2.2 dstport 4789",
        "ip link set dev flannel.1 mtu 1450",
        "ip link set dev flannel.1 up",
        "ip addr add 172.16.1.0/32 dev flannel.1",
        "ip route add 172.16.0.0/24 via 172.16.0.0 dev flannel.1 onlink",
        "bridge fdb append to 00:00:00:00:00:00 dst 10.0.1.2 dev flannel.1",
    ] {
        exec(&lab, "host2", line);
    }
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    // host2 cannot even resolve host1's VTEP: the ARP it floods on VNI 2 is the only trace.
    let findings = report["findings"].to_string();
    assert!(
        findings.contains("VXLAN vni 2 10.0.2.2>10.0.1.2")
            && findings.contains("on host2-eth1: expected UDP/4789 VXLAN vni 1"),
        "{report:#}"
    );
    assert_fails_with(&report, "pod1", "pod2", &["no reply"]);
    assert_fails_with(&report, "pod2", "pod1", &["no reply"]);
}

#[test]
fn a_vni_mismatch_on_the_wire_is_named_on_the_pair() {
    let lab = deployed("vxlan", 2, "vxvn2");
    assert_passes(&lab);
    // host2's VTEP moves to VNI 2 but keeps knowing host1's VTEP, so its pod traffic does go
    // out, on the wrong VNI.
    let mac = output(&lab, "host1", "cat /sys/class/net/flannel.1/address");
    for line in [
        "ip link set dev flannel.1 down",
        "ip link del flannel.1",
        "ip link add flannel.1 type vxlan id 2 dev eth1 local 10.0.2.2 dstport 4789",
        "ip link set dev flannel.1 mtu 1450",
        "ip link set dev flannel.1 up",
        "ip addr add 172.16.1.0/32 dev flannel.1",
        "ip route add 172.16.0.0/24 via 172.16.0.0 dev flannel.1 onlink",
        &format!(
            "ip neigh add 172.16.0.0 lladdr {} dev flannel.1",
            mac.trim()
        ),
        &format!(
            "bridge fdb append {} dst 10.0.1.2 dev flannel.1",
            mac.trim()
        ),
    ] {
        exec(&lab, "host2", line);
    }
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod2",
        "pod1",
        &["expected UDP/4789 VXLAN vni 1 between 10.0.2.2 and 10.0.1.2, saw VXLAN vni 2 10.0.2.2>10.0.1.2 [172.16.1.2>172.16.0.2] on host2-eth1"],
    );
}

#[test]
fn a_lower_tunnel_mtu_is_reported_as_frag_needed() {
    let lab = deployed("vxlan", 2, "vxmtu");
    assert_passes(&lab);
    exec(&lab, "host1", "ip link set dev flannel.1 mtu 1400");
    assert!(
        ping_ok(&lab, "pod1", "172.16.1.2"),
        "small pings still pass"
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["full-size probe (1450 bytes, DF) refused: ICMP frag-needed from 172.16.0.1, next-hop MTU 1400"],
    );
    // Fixed again, the lab passes: the path MTU pod1 cached from the frag-needed must not
    // make verify refuse its own full-size probes for the next ten minutes.
    exec(&lab, "host1", "ip link set dev flannel.1 mtu 1450");
    assert_passes(&lab);
}

/// The article's overlay pods stay at 1500: small and planned-size probes still pass, but the
/// pod's own full-size packets cannot fit the tunnel. verify compares the pod's real MTU.
#[test]
fn a_pod_left_at_1500_in_an_overlay_is_named() {
    let lab = deployed("vxlan", 2, "vxpod");
    assert_passes(&lab);
    exec(&lab, "pod1", "ip link set dev eth1 mtu 1500");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        report["findings"],
        serde_json::json!(["pod pod1: eth1 has MTU 1500, the lab plans 1450 (cnilab.mtu)"]),
        "{report:#}"
    );
    // Its full-size probe goes at the pod's real MTU, so its pairs fail too.
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["full-size probe (1500 bytes, DF)"],
    );
    assert_eq!(pair(&report, "pod2", "pod1")["passed"], true, "{report:#}");
}

#[test]
fn an_underlay_mtu_mismatch_is_a_blackhole() {
    let lab = deployed("vxlan", 2, "vxbh");
    assert_passes(&lab);
    // host2's leg is smaller than gw2's: full-size frames towards host2 are dropped silently.
    exec(&lab, "host2", "ip link set dev eth1 mtu 1400");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["while small pings pass: MTU blackhole"],
    );
    assert!(
        pair(&report, "pod1", "pod2")["rtt_us"].as_u64().is_some(),
        "the small ping passed"
    );
}

#[test]
fn a_lab_that_is_not_deployed_is_exit_2_with_a_clear_message() {
    require_root();
    let lab = LabGuard::gen("vxlan", 2, &unique("vxnd"));
    let out = lab.run(&["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("is not deployed") && err.contains(&format!("clab-{}-", lab.name)),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let lock = lab.state_file().with_extension("run.lock");
    assert!(!lock.exists(), "{} left behind", lock.display());
}

#[test]
fn a_file_without_cnilab_labels_is_exit_2() {
    let lab = LabGuard::from_yaml(
        "plain",
        "name: plain\ntopology:\n  nodes:\n    a:\n      kind: linux\n",
    );
    let out = lab.run(&["verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no cnilab labels"),
        "{}",
        stderr(&out)
    );
}

/// The one-way fault: host1 lost its flood entry towards host2, and the caches are
/// cold. pod2's traffic to pod1 would teach host1 what it needs (its ARP request and the
/// frame's source), so probing both directions at once passed this lab. From a cold start,
/// pod1 -> pod2 fails and names the missing entry, and pod2 -> pod1 is judged on its own.
#[test]
fn a_fault_that_reverse_traffic_heals_fails_from_a_cold_start() {
    let lab = deployed("vxlan", 2, "vxcold");
    assert_passes(&lab);
    exec(
        &lab,
        "host1",
        "bridge fdb del 00:00:00:00:00:00 dst 10.0.2.2 dev flannel.1",
    );
    for host in ["host1", "host2"] {
        exec(&lab, host, "ip neigh flush dev flannel.1");
    }
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["start"]["kind"], "cold", "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["host1", "flood entry", "10.0.2.2 dev flannel.1"],
    );
    assert_fails_with(&report, "pod1", "pod2", &["no reply"]);
    assert_eq!(pair(&report, "pod2", "pod1")["passed"], true, "{report:#}");
    // verify wiped only learned state: host2's flood entry, a permanent one, is still there.
    assert!(
        output(&lab, "host2", "bridge fdb show dev flannel.1")
            .contains("00:00:00:00:00:00 dst 10.0.1.2 self permanent"),
        "host2's flood entry must survive verify"
    );
}

/// Warm, the same lab is probed on what it learnt: pod1 -> pod2 gets its reply over the
/// entry host1 learnt from host2, and verify still fails the pair, naming that entry.
#[test]
fn warm_mode_is_labelled_and_still_names_a_flood_entry_hidden_by_learning() {
    let lab = deployed("vxlan", 2, "vxwarm");
    exec(
        &lab,
        "host1",
        "bridge fdb del 00:00:00:00:00:00 dst 10.0.2.2 dev flannel.1",
    );
    // Reverse traffic teaches host1 the neighbour and the FDB entry.
    assert!(ping_ok(&lab, "pod2", "172.16.0.2"));
    assert!(
        ping_ok(&lab, "pod1", "172.16.1.2"),
        "pod1 -> pod2 works on learned state"
    );
    let (code, report) = verify(&lab, &["--warm"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["start"]["kind"], "warm", "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["host1 reached 10.0.2.2 only through a learned FDB entry: its flood entry is missing"],
    );
    let out = lab.run(&["verify", "--warm"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("warm (--warm)"), "{table}");
}

/// The text report on a failing lab: every reason on its own line, nothing wider than 80
/// columns, no colour when stdout is not a terminal, and --failed-only leaves out the passes.
#[test]
fn the_text_report_of_a_failing_lab_reads_well_in_80_columns() {
    let lab = deployed("vxlan", 3, "vxtxt");
    exec(&lab, "host1", "sysctl -w net.ipv4.ip_forward=0");
    let out = lab.run(&["verify", "--failed-only"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    for line in table.lines() {
        assert!(line.chars().count() <= 80, "wider than 80: {line:?}");
    }
    assert!(!table.contains('\x1b'), "no colour into a pipe: {table}");
    assert!(!table.contains("pass "), "--failed-only: {table}");
    assert!(table.contains("      - ping: no reply"), "{table}");
    assert!(!table.contains("more)"), "{table}");
}

/// Drops, on host1, pod1's small echo requests to pod2 that the iptables `statistic` match
/// picks: `nth --every N --packet 0` drops the first one and every N-th after it.
fn drop_every_nth_ping(lab: &LabGuard, every: u32) {
    exec(
        lab,
        "host1",
        &format!(
            "iptables -A FORWARD -s 172.16.0.2 -d 172.16.1.2 -p icmp --icmp-type echo-request -m length --length 84 -m statistic --mode nth --every {every} --packet 0 -j DROP"
        ),
    );
}

#[test]
fn a_pair_whose_first_probe_is_dropped_once_passes_on_retry_and_says_so() {
    let lab = deployed("vxlan", 2, "vxretry");
    drop_every_nth_ping(&lab, 1_000_000);
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    let p = pair(&report, "pod1", "pod2");
    assert_eq!(
        p["remarks"],
        serde_json::json!(["first contact passed on retry: answered on attempt 2"]),
        "{report:#}"
    );
    assert_eq!(p["loss"]["sent"], 13, "{report:#}");
    assert_loss_within_rule(p);
    // The rule is spent; a fresh one drops the next run's first probe.
    exec(&lab, "host1", "iptables -F FORWARD");
    drop_every_nth_ping(&lab, 1_000_000);
    let out = lab.run(&["verify"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("~ first contact passed on retry"), "{table}");
}

/// A third of the packets one way: retries would hide it, the steady-state pings do not.
#[test]
fn steady_loss_fails_the_pair_with_lost_k_of_m_unless_max_loss_allows_it() {
    let lab = deployed("vxlan", 2, "vxloss");
    drop_every_nth_ping(&lab, 3);
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &["of 13 steady-state pings (flaky"],
    );
    let lost = pair(&report, "pod1", "pod2")["loss"]["lost"]
        .as_u64()
        .unwrap();
    assert!((3..=5).contains(&lost), "{report:#}");
    assert!(
        !reasons(pair(&report, "pod1", "pod2"))
            .join(" | ")
            .contains("blackhole"),
        "{report:#}"
    );
    assert_eq!(pair(&report, "pod2", "pod1")["passed"], true, "{report:#}");
    let (code, report) = verify(&lab, &["--max-loss", "50"]);
    assert_eq!(code, 0, "{report:#}");
}

/// Flood-and-learn at work: once learned FDB entries age out while ARP entries stay, a host
/// floods the next frame to every VTEP in its flood list. That is the design, not a fault.
#[test]
fn flooded_copies_after_fdb_ageing_pass_in_a_warm_lab() {
    let lab = deployed("vxlan", 3, "vxage");
    for host in ["host1", "host2", "host3"] {
        exec(&lab, host, "ip link set flannel.1 type vxlan ageing 3");
    }
    assert_passes(&lab);
    // ARP entries stay; the learned FDB entries go, and the next frames flood.
    wait_until(GENEROUS, "the learned FDB entries to age out", || {
        ["host1", "host2", "host3"]
            .iter()
            .all(|host| learned_fdb(&lab, host).is_empty())
    });
    let (code, report) = verify_healthy(&lab, &["--warm"]);
    assert_eq!(code, 0, "flooded copies are the design: {report:#}");
}

/// The FDB entries `host`'s flannel.1 learned from traffic (the static ones are permanent).
fn learned_fdb(lab: &LabGuard, host: &str) -> Vec<String> {
    let out = std::process::Command::new("bridge")
        .args(["-n", &format!("clab-{}-{host}", lab.name)])
        .args(["fdb", "show", "dev", "flannel.1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "bridge fdb show: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("permanent"))
        .map(str::to_string)
        .collect()
}

/// Packets `iface` in namespace `ns` has received.
fn rx_packets(ns: &str, iface: &str) -> u64 {
    let out = std::process::Command::new("ip")
        .args(["-n", ns, "-j", "-s", "link", "show", iface])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v[0]["stats64"]["rx"]["packets"].as_u64().unwrap_or(0)
}

/// Another VXLAN segment between two of the lab's hosts (VNI 42, host addresses only) is not
/// the lab's traffic and must not fail it.
#[test]
fn unrelated_tunnel_traffic_between_the_hosts_is_ignored() {
    let lab = deployed("vxlan", 2, "vxother");
    for (host, local, remote, me) in [
        ("host1", "10.0.1.2", "10.0.2.2", "192.168.42.1"),
        ("host2", "10.0.2.2", "10.0.1.2", "192.168.42.2"),
    ] {
        exec(
            &lab,
            host,
            &format!("ip link add vx42 type vxlan id 42 dev eth1 local {local} remote {remote} dstport 4789"),
        );
        exec(&lab, host, &format!("ip addr add {me}/24 dev vx42"));
        exec(&lab, host, "ip link set vx42 up");
    }
    // Traffic on the second segment while verify captures.
    let ns = format!("clab-{}-host1", lab.name);
    let mut pinger = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            "ping",
            "-i",
            "0.05",
            "-w",
            "8",
            "192.168.42.2",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(GENEROUS, "a reply on the second VXLAN segment", || {
        rx_packets(&ns, "vx42") > 0
    });
    let (code, report) = verify(&lab, &[]);
    let _ = pinger.kill();
    let _ = pinger.wait();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
}

/// A capture point that cannot be opened leaves verify unable to judge: exit 2, naming it.
#[test]
fn a_capture_point_that_cannot_be_opened_is_exit_2() {
    let lab = deployed("vxlan", 2, "vxcap");
    exec(&lab, "host2", "ip link set dev eth1 down");
    exec(&lab, "host2", "ip link set dev eth1 name eth9");
    let out = lab.run(&["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("host2") && err.contains("eth1"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "no report from a verify that cannot judge"
    );
}

/// host-gw: host1's route to pod2's subnet points at host3, which relays. Every IP header is
/// right and pings pass; the next hop is wrong, both ways. A switch that floods like a hub
/// (no MAC learning) shows frames everywhere and must stay green.
#[test]
fn a_host_gw_next_hop_through_a_third_host_fails_and_a_hub_stays_green() {
    let lab = deployed("host-gw", 3, "vhhop");
    exec(
        &lab,
        "switch",
        "ip link set switch type bridge ageing_time 0",
    );
    assert_passes(&lab);
    exec(
        &lab,
        "switch",
        "ip link set switch type bridge ageing_time 30000",
    );
    exec(
        &lab,
        "host1",
        "ip route replace 10.0.2.0/24 via 192.168.0.150 dev eth1",
    );
    assert!(ping_ok(&lab, "pod1", "10.0.2.2"), "host3 relays");
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod1",
        "pod2",
        &[
            "request: next hop: host1 sent it to",
            "(host3's MAC), not to host2",
        ],
    );
    assert_fails_with(
        &report,
        "pod2",
        "pod1",
        &["reply: next hop: host1 sent it to", "(host3's MAC)"],
    );
    assert!(
        pair(&report, "pod2", "pod1")["wire"]
            .as_str()
            .unwrap()
            .starts_with("reply "),
        "WIRE says it shows the reply: {report:#}"
    );
    assert_eq!(pair(&report, "pod1", "pod3")["passed"], true, "{report:#}");
}

/// One way of breaking a healthy lab, and the reason verify must give for it.
struct Fault<'a> {
    mode: &'a str,
    hosts: usize,
    prefix: &'a str,
    /// `(node, command)`, run in order on the deployed lab.
    break_it: &'a [(&'a str, &'a str)],
    /// Whether pings still pass once it is broken: verify must not be fooled by them.
    pings_pass: bool,
    from: &'a str,
    to: &'a str,
    /// Every one of these is in one reason of the pair.
    reason: &'a [&'a str],
}

fn assert_caught(f: &Fault) {
    let lab = deployed(f.mode, f.hosts, f.prefix);
    for (node, line) in f.break_it {
        exec(&lab, node, line);
    }
    if f.pings_pass {
        let to_ip = output(&lab, f.to, "ip -4 -o addr show dev eth1");
        let to_ip = to_ip
            .split_whitespace()
            .nth(3)
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        assert!(
            ping_ok(&lab, f.from, to_ip),
            "the fault must leave pings working"
        );
    }
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(&report, f.from, f.to, f.reason);
}

/// A VXLAN device on host2 rebuilt with another UDP port, knowing host1's VTEP.
fn rebuilt_vtep(port: u16) -> Vec<String> {
    vec![
        "ip link del flannel.1".into(),
        format!("ip link add flannel.1 type vxlan id 1 dev eth1 local 10.0.2.2 dstport {port}"),
        "ip link set dev flannel.1 mtu 1450".into(),
        "ip link set dev flannel.1 up".into(),
        "ip addr add 172.16.1.0/32 dev flannel.1".into(),
        "ip route add 172.16.0.0/24 via 172.16.0.0 dev flannel.1 onlink".into(),
        "bridge fdb append to 00:00:00:00:00:00 dst 10.0.1.2 dev flannel.1".into(),
    ]
}

#[test]
fn masquerade_on_the_destination_host_is_caught_where_the_pod_receives() {
    assert_caught(&Fault {
        mode: "vxlan",
        hosts: 2,
        prefix: "vxmqd",
        break_it: &[("host2", "iptables -t nat -A POSTROUTING -o cni0 -j MASQUERADE")],
        pings_pass: true,
        from: "pod1",
        to: "pod2",
        reason: &["source rewritten on the way (SNAT/MASQUERADE): pod2 received it from 172.16.1.1, not from pod1's 172.16.0.2 on pod2-eth1"],
    });
}

#[test]
fn a_dnat_on_the_destination_host_is_caught() {
    assert_caught(&Fault {
        mode: "vxlan",
        hosts: 2,
        prefix: "vxdnat",
        break_it: &[(
            "host2",
            "iptables -t nat -A PREROUTING -d 172.16.1.2 -p icmp -j DNAT --to-destination 172.16.1.1",
        )],
        pings_pass: true,
        from: "pod1",
        to: "pod2",
        reason: &["answered, but its request never reached pod2-eth1", "DNAT"],
    });
}

#[test]
fn a_vxlan_port_changed_on_one_host_is_named() {
    let lab = deployed("vxlan", 2, "vxport");
    let mac = output(&lab, "host1", "cat /sys/class/net/flannel.1/address");
    let mut lines = rebuilt_vtep(8472);
    lines.push(format!(
        "ip neigh add 172.16.0.0 lladdr {} dev flannel.1",
        mac.trim()
    ));
    lines.push(format!(
        "bridge fdb append {} dst 10.0.1.2 dev flannel.1",
        mac.trim()
    ));
    for line in &lines {
        exec(&lab, "host2", line);
    }
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_fails_with(
        &report,
        "pod2",
        "pod1",
        &["request: expected UDP/4789 VXLAN vni 1 between 10.0.2.2 and 10.0.1.2, saw VXLAN UDP/8472 vni 1 10.0.2.2>10.0.1.2 [172.16.1.2>172.16.0.2] on host2-eth1"],
    );
    // host1's ARP for host2's VTEP goes to 4789, where host2 no longer listens.
    assert_fails_with(&report, "pod1", "pod2", &["no reply"]);
}

/// The routers learn the pod routes, and host2 sends its replies to pod1 in plain.
const PLAIN_RETURN: &[(&str, &str)] = &[
    ("gw2", "ip route add 172.16.0.0/24 via 192.168.0.100"),
    ("gw1", "ip route add 172.16.0.0/24 via 10.0.1.2"),
    (
        "host2",
        "ip route replace 172.16.0.0/24 via 10.0.2.1 dev eth1",
    ),
];

#[test]
fn a_return_path_only_in_plain_is_reported_as_the_reply() {
    assert_caught(&Fault {
        mode: "vxlan",
        hosts: 2,
        prefix: "vxret",
        break_it: PLAIN_RETURN,
        pings_pass: true,
        from: "pod1",
        to: "pod2",
        reason: &["reply: expected UDP/4789 VXLAN vni 1 between 10.0.2.2 and 10.0.1.2, saw plain IPv4 172.16.1.2 > 172.16.0.2 on host2-eth1"],
    });
}

#[test]
fn strict_rp_filter_on_an_asymmetric_path_is_named() {
    let mut steps = PLAIN_RETURN.to_vec();
    steps.extend([
        ("host1", "sysctl -w net.ipv4.conf.all.rp_filter=1"),
        ("host1", "sysctl -w net.ipv4.conf.eth1.rp_filter=1"),
    ]);
    assert_caught(&Fault {
        mode: "vxlan",
        hosts: 2,
        prefix: "vxrpf",
        break_it: &steps,
        pings_pass: false,
        from: "pod1",
        to: "pod2",
        reason: &[
            "reply reached host1-eth1 (host underlay) but never pod1-eth1 (pod): host1 checks reverse paths strictly on every interface (net.ipv4.conf.all.rp_filter = 1)",
        ],
    });
}

/// A capture socket whose buffer is full loses frames, and that is the capture's fault, not the
/// lab's: verify must say how many each point dropped, and judge no pair on a frame missing
/// where its capture dropped some. `--capture-ring-kib 4` (one page per capture ring) makes the
/// kernel drop frames for real while a 30-host lab is probed.
#[test]
fn frames_the_capture_drops_are_reported_as_capture_drops_never_as_lab_faults() {
    let lab = deployed("vxlan", 30, "vdrop");
    let (code, report) = verify(&lab, &["--capture-ring-kib", "4"]);
    let dropped: Vec<(String, u64)> = report["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                format!(
                    "{}-{}",
                    c["point"]["node"].as_str().unwrap(),
                    c["point"]["iface"].as_str().unwrap()
                ),
                c["dropped"].as_u64().unwrap(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(
        !dropped.is_empty(),
        "the tiny capture buffer made the kernel drop no frame, so this test proves nothing: {:#}",
        report["captures"]
    );
    let notes: Vec<&str> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for (point, n) in &dropped {
        let said = format!("capture on {point} dropped {n} frame(s)");
        assert!(
            notes.iter().any(|note| note.starts_with(&said)),
            "no note says `{said}`: {notes:#?}"
        );
    }
    let pairs = report["pairs"].as_array().unwrap();
    let mut excused = 0;
    for p in pairs {
        for r in reasons(p) {
            for (point, _) in &dropped {
                assert!(
                    !(r.ends_with(&format!("not seen on {point}"))
                        || r.contains(&format!("never {point}: "))
                        || r.contains(&format!("never reached {point}: "))),
                    "{} -> {} failed on a frame missing where the capture dropped frames: {r}",
                    p["from"],
                    p["to"]
                );
            }
        }
        let remarks = p["remarks"].as_array().unwrap();
        excused += remarks
            .iter()
            .filter(|r| r.as_str().unwrap().contains("where the capture dropped"))
            .count();
    }
    assert!(
        excused > 0,
        "frames were dropped on {} points, yet no pair says a frame was not judged for it",
        dropped.len()
    );
    let failed: Vec<String> = pairs
        .iter()
        .filter(|p| p["passed"] == false)
        .map(|p| format!("{} -> {}: {:?}", p["from"], p["to"], reasons(p)))
        .collect();
    assert!(
        failed.is_empty() && code == 0,
        "a healthy lab failed (exit {code}) while its capture dropped frames: {failed:#?}; notes: {notes:#?}"
    );
}

/// The routers are taught their WAN peers for every run, cold or warm (a warm run after a cold
/// one once found them forgotten): the WAN carries no ARP request between routers.
#[test]
fn routers_ask_no_arp_of_each_other_in_a_cold_or_a_warm_run() {
    let lab = deployed("vxlan", 3, "vfwan");
    let router_arp = |frame: &Vec<u8>| {
        // An ARP request (EtherType 0x0806, opcode 1) whose sender is on the WAN.
        frame.len() >= 42
            && frame[12..14] == [0x08, 0x06]
            && frame[20..22] == [0, 1]
            && frame[28..31] == [192, 168, 0]
    };
    for flags in [&[][..], &["--warm"][..]] {
        let file = lab.dir.path().join("wan.pcap");
        let wan = common::captures::Tcpdump::start(&format!("clab-{}-wan", lab.name), "wan", &file);
        let (code, report) = verify(&lab, flags);
        let frames = wan.stop();
        assert_eq!(code, 0, "{flags:?}: {report:#}");
        assert!(!frames.is_empty(), "{flags:?}: the WAN capture saw nothing");
        let asked = frames.iter().filter(|(_, f)| router_arp(f)).count();
        assert_eq!(
            asked, 0,
            "{flags:?}: routers broadcast {asked} ARP request(s) on the WAN"
        );
    }
}

/// With two pods per host, node names hold a `-`: a rewritten source is told with the pods' own
/// names, and every reason of the failing pair is an object with a `kind` and a `message`.
#[test]
fn a_rewritten_source_names_the_pods_by_their_own_names() {
    let lab = LabGuard::deployed_with(
        "vpph",
        &["--mode", "host-gw", "--hosts", "2", "--pods-per-host", "2"],
    );
    exec(
        &lab,
        "host2",
        "iptables -t nat -A POSTROUTING -o cni0 -s 10.0.1.3 -j SNAT --to-source 10.0.2.1",
    );
    let (code, report) = verify(&lab, &[]);
    assert_eq!(code, 1, "{report:#}");
    let p = pair(&report, "pod1-2", "pod2-1");
    for r in p["reasons"].as_array().unwrap() {
        assert!(r["kind"].is_string() && r["message"].is_string(), "{r:#}");
    }
    let rewritten = p["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "source_rewritten")
        .unwrap_or_else(|| panic!("no source_rewritten reason: {p:#}"));
    assert_eq!(rewritten["receiver"], "pod2-1");
    assert_eq!(rewritten["sender"], "pod1-2");
    let message = rewritten["message"].as_str().unwrap();
    assert!(
        message.contains("pod2-1 received it from 10.0.2.1, not from pod1-2's 10.0.1.3"),
        "{message}"
    );
}

/// verify reads its topology file once: the lab is built once at the command layer and passed
/// down, not parsed again by each step.
#[test]
fn verify_opens_the_topology_file_once() {
    let lab = deployed("host-gw", 2, "vonce");
    let strace = which::which("strace").unwrap_or_else(|_| {
        panic!("this test needs strace (apt-get install strace; scripts/install-deps.sh --test)")
    });
    let trace = lab.dir.path().join("openat.txt");
    let out = std::process::Command::new(strace)
        .args(["-f", "-e", "trace=openat", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_cnilab"))
        .args(["verify", "-t"])
        .arg(&lab.file)
        .output()
        .unwrap();
    assert!(out.status.success(), "verify failed: {}", stderr(&out));
    let file = lab.file.file_name().unwrap().to_str().unwrap().to_string();
    let opens = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!("{file}\"")))
        .count();
    assert_eq!(opens, 1, "{file} opened {opens} times");
}

/// Whether a lab works is the wire's to say: a summary route in place of the planned pod route
/// carries every probe in the right shape, so the pairs pass, and the difference is a warning
/// with a kind and a message. `--strict` fails it.
#[test]
fn drift_the_wire_does_not_show_is_a_warning_and_strict_fails_it() {
    let lab = deployed("host-gw", 2, "vdrift");
    exec(&lab, "host1", "ip route del 10.0.2.0/24");
    exec(
        &lab,
        "host1",
        "ip route add 10.0.0.0/16 via 192.168.0.200 dev eth1",
    );
    let (code, report) = verify_healthy(&lab, &[]);
    assert_eq!(code, 0, "{report:#}");
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["kind"] == "programmed"
            && w["message"]
                .as_str()
                .is_some_and(|m| m.contains("host1 has no route 10.0.2.0/24"))),
        "{warnings:#?}"
    );
    let (code, report) = verify(&lab, &["--strict"]);
    assert_eq!(code, 1, "--strict fails on warnings: {report:#}");
    assert_eq!(report["passed"], false);
}
