//! verify's capture files (root, netns runtime): the per-point pcap files carry the kernel's
//! capture time, as tcpdump on the same interface sees it, and `lab.pcapng` holds the whole
//! lab in one file a person can open in Wireshark.

mod common;

use common::captures::*;
use common::verify::*;
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

    let ours = read_pcap(&pcaps.join("host1-eth1.pcap"));
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
    assert!(
        compared * 10 >= ours.len() * 9,
        "only {compared} of verify's {} frames found in tcpdump's {}",
        ours.len(),
        tcpdump_frames.len()
    );
}
