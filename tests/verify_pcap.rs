//! verify's capture files (root, netns runtime): the per-point pcap files carry the kernel's
//! capture time, as tcpdump on the same interface sees it, and `lab.pcapng` holds the whole
//! lab in one file a person can open in Wireshark.

mod common;

use common::captures::*;
use common::verify::*;
use common::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The kernel stamps a frame once, for every socket on the device: every frame that verify and
/// a tcpdump beside it both captured carries the same time.
#[test]
fn pcap_frame_times_are_the_kernels_as_tcpdump_sees_them() {
    let lab = deployed("vxlan", 2, "vpts");
    let dir = tempfile::tempdir().unwrap();
    let theirs = dir.path().join("tcpdump.pcap");
    let tcpdump = Tcpdump::start(&format!("clab-{}-host1", lab.name), "eth1", &theirs);
    let pcaps = dir.path().join("pcap");
    let (code, report) = verify(&lab, &["--pcap", pcaps.to_str().unwrap()]);
    let tcpdump_frames = tcpdump.stop();
    assert_eq!(code, 0, "{report:#}");

    let all = read_pcap(&pcaps.join("host1-eth1.pcap"));
    // A TCP segment carries its sender's planned departure time (a monotonic clock), which
    // every packet socket swaps for the wall clock as the frame is queued to it (af_packet.c:
    // packet_rcv -> skb_clear_delivery_time; tpacket_rcv reads the clock when skb_tstamp() is
    // 0), so each socket stamps it separately and under load they differ by tens of µs. The
    // ICMP and UDP probes carry the one stamp the device gave them.
    let ours: Vec<_> = all.into_iter().filter(|(_, d)| !is_tcp(d)).collect();
    // Both pairs' ping, full-size probe and steady pings, each a request and a reply.
    assert!(
        ours.len() >= 8,
        "host1-eth1.pcap holds {} frames",
        ours.len()
    );
    let compared = assert_same_times(
        &ours,
        &tcpdump_frames,
        Duration::from_micros(20),
        "host1-eth1",
    );
    // tcpdump may drop a few frames of its own on a loaded machine.
    assert!(
        compared >= 8 && compared * 2 >= ours.len(),
        "only {compared} of verify's {} frames found in tcpdump's {}",
        ours.len(),
        tcpdump_frames.len()
    );
}

fn is_tcp(frame: &[u8]) -> bool {
    use cnilab::wire::dissect::{dissect, L4};
    dissect(frame, &[4789, 8472])
        .ok()
        .and_then(|w| w.innermost().map(|ip| matches!(ip.l4, L4::Tcp { .. })))
        .unwrap_or(false)
}

/// `lab.pcapng` opens the whole lab at once: one interface per capture point named
/// `node:interface`, every frame of every point in time order, each probe frame commented with
/// its pair and direction, and, flannel's VXLAN being on 8472, how to make Wireshark decode it.
#[test]
fn lab_pcapng_holds_every_point_in_time_order_with_probe_comments() {
    let lab = LabGuard::deployed_with(
        "vplab",
        &["--mode", "vxlan", "--flavor", "flannel", "--hosts", "2"],
    );
    let pcaps = lab.dir.path().join("pcap");
    let (code, report) = verify_healthy(&lab, &["--pcap", pcaps.to_str().unwrap()]);
    assert_eq!(code, 0, "{report:#}");
    let file = pcaps.join("lab.pcapng");
    assert_eq!(report["lab_pcap"], file.to_str().unwrap());

    let lab_file = read_pcapng(&file);
    assert!(
        lab_file.section_comment.contains("Decode As") && lab_file.section_comment.contains("8472"),
        "section comment: {}",
        lab_file.section_comment
    );
    // The same points, and the same frames, as the per-point files.
    let mut per_point = 0;
    for c in report["captures"].as_array().unwrap() {
        let (node, iface) = (
            c["point"]["node"].as_str().unwrap(),
            c["point"]["iface"].as_str().unwrap(),
        );
        let point = format!("{node}-{iface}");
        let mut frames = read_pcap(&pcaps.join(format!("{point}.pcap")));
        let label = format!("{node}:{iface}");
        assert!(
            lab_file.interfaces.contains(&label),
            "{label} in {:?}",
            lab_file.interfaces
        );
        let mut mine = pcapng_frames(&file, &label);
        frames.sort();
        mine.sort();
        assert_eq!(mine, frames, "{label}: the same frames as {point}.pcap");
        per_point += frames.len();
    }
    assert_eq!(
        lab_file.interfaces.len(),
        report["captures"].as_array().unwrap().len()
    );
    assert_eq!(lab_file.packets.len(), per_point);
    assert!(
        lab_file.packets.windows(2).all(|w| w[0].1 <= w[1].1),
        "frames are in time order"
    );
    let host1 = lab_file
        .interfaces
        .iter()
        .position(|i| i == "host1:eth1")
        .unwrap() as u32;
    let comments_on = |iface: u32| -> Vec<&str> {
        lab_file
            .packets
            .iter()
            .filter(|p| p.0 == iface)
            .filter_map(|p| p.2.as_deref())
            .collect()
    };
    for want in [
        "cnilab verify: pod1 -> pod2, ping request",
        "cnilab verify: pod1 -> pod2, ping reply",
        "cnilab verify: pod2 -> pod1, full-size ping (DF) request",
        "cnilab verify: pod1 -> pod2, steady ping 13/13 reply",
        "cnilab verify: pod1 -> pod2, TCP probe connection segment request",
        "cnilab verify: pod1 -> pod2, UDP probe reply",
    ] {
        let found = comments_on(host1).into_iter().find(|c| c.starts_with(want));
        let found = found.unwrap_or_else(|| panic!("no `{want}` on host1:eth1"));
        assert!(
            found.contains("UDP port 8472 -> VXLAN"),
            "a probe frame in VXLAN on 8472 says how to decode it: {found}"
        );
    }
    // On the pod's own interface the probe is plain: nothing to decode.
    let pod1 = lab_file
        .interfaces
        .iter()
        .position(|i| i == "pod1:eth1")
        .unwrap() as u32;
    assert!(comments_on(pod1).contains(&"cnilab verify: pod1 -> pod2, ping request"));
}

/// A known delay on the wire shows in verify's files as exactly that: with netem holding every
/// frame 50 ms on the router leg from host1's side to host2's, each probe frame going that way
/// is stamped at host2's underlay at least 50 ms (and not much more) after host1's, and each
/// frame coming back crosses in far less. This machine's kernel has no netem: the stock kernel
/// in the VM has it.
#[test]
#[ignore = "needs a kernel with netem: run make test-vm"]
fn a_known_wire_delay_is_the_interval_between_two_points() {
    let lab = deployed("vxlan", 2, "vdly");
    let plan = lab.lab();
    let leg = route_dev(&lab, "gw1", plan.hosts[1].v4_underlay());
    let line = format!(
        "tc qdisc add dev {leg} root netem delay {}ms",
        DELAY.as_millis()
    );
    let out = exec_output(&lab, "gw1", &line);
    assert!(
        out.status.success(),
        "gw1: `{line}` failed ({}); this kernel needs sch_netem (run make test-vm)",
        stderr(&out).trim()
    );
    let pcaps = lab.dir.path().join("pcap");
    let (code, report) = verify_healthy(&lab, &["--pcap", pcaps.to_str().unwrap()]);
    assert_eq!(code, 0, "{report:#}");

    let at_host1 = inner_frames(&read_pcap(&pcaps.join("host1-eth1.pcap")));
    let at_host2 = inner_frames(&read_pcap(&pcaps.join("host2-eth1.pcap")));
    let pod1 = plan.pods[0].v4();
    let (mut there, mut back) = (Vec::new(), Vec::new());
    // Matched in order, one to one: a frame sent twice pairs with its own copy.
    let mut unmatched: Vec<_> = at_host2.iter().collect();
    for (frame, src, t1) in &at_host1 {
        let Some(i) = unmatched.iter().position(|(f, _, _)| f == frame) else {
            continue;
        };
        let (_, _, t2) = unmatched.remove(i);
        match *src == IpAddr::V4(pod1) {
            true => there.push(t2.checked_sub(*t1)),
            false => back.push(t1.checked_sub(*t2)),
        }
    }
    assert!(
        there.len() >= 8 && back.len() >= 8,
        "{} frames there and {} back seen at both hosts",
        there.len(),
        back.len()
    );
    let there: Vec<Duration> = there
        .into_iter()
        .map(|t| t.expect("a frame host1 sent reached host2's capture before it left"))
        .collect();
    let back: Vec<Duration> = back
        .into_iter()
        .map(|t| t.expect("a frame host2 sent reached host1's capture before it left"))
        .collect();
    // netem never lets a frame through early; a frame may be late when the emulated machine
    // stalls, so the typical crossing is held against the delay, not the slowest.
    assert!(
        there.iter().all(|t| *t >= DELAY),
        "host1 -> host2 crossings {there:?}: none may be shorter than netem's {DELAY:?}"
    );
    let (there, back) = (median(there), median(back));
    assert!(
        there < DELAY + SLACK,
        "host1 -> host2 took {there:?} (median) between the captures, netem holds {DELAY:?}"
    );
    assert!(
        back < SLACK,
        "host2 -> host1 took {back:?} (median), with no delay that way"
    );
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

const DELAY: Duration = Duration::from_millis(50);
/// The VM runs under software emulation, where a router hop alone can take milliseconds.
const SLACK: Duration = Duration::from_millis(20);

/// The inner frames of the VXLAN frames in a capture (TCP left out: see above), each with its
/// inner source and time; the inner frame crosses the routers unchanged, so it names a frame at
/// both ends.
fn inner_frames(frames: &[(Duration, Vec<u8>)]) -> Vec<(Vec<u8>, IpAddr, Duration)> {
    use cnilab::wire::dissect::{dissect, Wire};
    // Outer Ethernet, an IPv4 header without options (the kernel's), UDP and VXLAN.
    const INNER: usize = 14 + 20 + 8 + 8;
    frames
        .iter()
        .filter(|(_, f)| !is_tcp(f))
        .filter_map(|(t, f)| match dissect(f, &[4789, 8472]).ok()? {
            Wire::Vxlan {
                inner: Some(ip), ..
            } => Some((f[INNER..].to_vec(), ip.src, *t)),
            _ => None,
        })
        .collect()
}

/// The interface the node routes `to` out of.
fn route_dev(lab: &LabGuard, node: &str, to: Ipv4Addr) -> String {
    let out = exec_output(lab, node, &format!("ip -4 -o route get {to}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let dev = text.split_whitespace().skip_while(|w| *w != "dev").nth(1);
    dev.unwrap_or_else(|| panic!("{node} has no route to {to}: {text}"))
        .to_string()
}
