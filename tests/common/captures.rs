//! Reading cnilab's capture files, and a tcpdump beside cnilab's own capture to hold its frame
//! times against: the kernel stamps a frame once, for every packet socket on the device.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Tcpdump {
    child: Child,
    file: PathBuf,
}

impl Tcpdump {
    /// Starts tcpdump on `iface` in namespace `ns`, writing nanosecond pcap to `file`, and
    /// returns once its socket is bound. Fails the test when tcpdump is not installed.
    pub fn start(ns: &str, iface: &str, file: &Path) -> Tcpdump {
        assert!(
            which::which("tcpdump").is_ok(),
            "this test needs tcpdump on PATH: run scripts/install-deps.sh"
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "tcpdump", "-i", iface, "-U", "-nn"])
            .args(["--immediate-mode", "--time-stamp-precision=nano", "-w"])
            .arg(file)
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec runs");
        // tcpdump says "listening on" once its socket is bound.
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(
            line.contains("listening on"),
            "tcpdump did not start: {line}"
        );
        Tcpdump {
            child,
            file: file.to_path_buf(),
        }
    }

    /// Stops tcpdump and returns every frame it wrote, with its time.
    pub fn stop(mut self) -> Vec<(Duration, Vec<u8>)> {
        std::thread::sleep(Duration::from_millis(300));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::SIGTERM,
        )
        .unwrap();
        self.child.wait().unwrap();
        read_pcap(&self.file)
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every frame of a classic pcap file, with its time.
pub fn read_pcap(path: &Path) -> Vec<(Duration, Vec<u8>)> {
    let file =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut r = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        out.push((p.timestamp, p.data.into_owned()));
    }
    out
}

/// Holds each of `ours` that tcpdump also saw (same bytes) against tcpdump's time; returns how
/// many were compared, and fails on the first more than `limit` apart.
pub fn assert_same_times(
    ours: &[(Duration, Vec<u8>)],
    theirs: &[(Duration, Vec<u8>)],
    limit: Duration,
    what: &str,
) -> usize {
    let mut compared = 0;
    for (ts, data) in ours {
        let Some((their_ts, _)) = theirs.iter().find(|(_, d)| d == data) else {
            continue;
        };
        let gap = if ts > their_ts {
            *ts - *their_ts
        } else {
            *their_ts - *ts
        };
        assert!(
            gap <= limit,
            "{what}: a frame stamped {ts:?} by cnilab, {their_ts:?} by tcpdump ({gap:?} apart)"
        );
        compared += 1;
    }
    compared
}

/// Timestamps and data of the frames on one capture point of a pcapng.
pub fn pcapng_frames(path: &std::path::Path, point: &str) -> Vec<(std::time::Duration, Vec<u8>)> {
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
    use pcap_file::pcapng::{Block, PcapNgReader};
    let mut reader = PcapNgReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let (mut ifaces, mut out) = (0u32, Vec::new());
    let mut wanted = None;
    while let Some(block) = reader.next_block() {
        match block.unwrap() {
            Block::InterfaceDescription(i) => {
                if i.options
                    .iter()
                    .any(|o| matches!(o, InterfaceDescriptionOption::IfName(n) if n == point))
                {
                    wanted = Some(ifaces);
                }
                ifaces += 1;
            }
            Block::EnhancedPacket(p) if Some(p.interface_id) == wanted => {
                out.push((p.timestamp, p.data.into_owned()));
            }
            _ => {}
        }
    }
    out
}

/// A pcapng read whole: its section comment, interface names, and per frame the interface,
/// time and comment.
pub struct PcapNg {
    pub section_comment: String,
    pub interfaces: Vec<String>,
    pub packets: Vec<(u32, std::time::Duration, Option<String>)>,
}

pub fn read_pcapng(path: &std::path::Path) -> PcapNg {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
    use pcap_file::pcapng::blocks::section_header::SectionHeaderOption;
    use pcap_file::pcapng::{Block, PcapNgReader};
    let mut reader = PcapNgReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let section_comment = reader
        .section()
        .options
        .iter()
        .find_map(|o| match o {
            SectionHeaderOption::Comment(c) => Some(c.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    let (mut interfaces, mut packets) = (Vec::new(), Vec::new());
    while let Some(block) = reader.next_block() {
        match block.unwrap() {
            Block::InterfaceDescription(i) => interfaces.push(
                i.options
                    .iter()
                    .find_map(|o| match o {
                        InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .unwrap_or_default(),
            ),
            Block::EnhancedPacket(p) => packets.push((
                p.interface_id,
                p.timestamp,
                p.options.iter().find_map(|o| match o {
                    EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                    _ => None,
                }),
            )),
            _ => {}
        }
    }
    PcapNg {
        section_comment,
        interfaces,
        packets,
    }
}
