//! Reading cnilab's capture files, and a tcpdump beside cnilab's own capture to hold its frame
//! times against: the kernel stamps a frame once, for every packet socket on the device.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Tcpdump {
    child: Child,
    file: PathBuf,
    ns: String,
    iface: String,
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
            ns: ns.to_string(),
            iface: iface.to_string(),
        }
    }

    /// Stops tcpdump once it has written every frame the interface carried before now, and
    /// returns them with their times. A marker frame of the test's own goes out first: a
    /// packet socket reads frames in order, so once the marker is in the file, so is every
    /// frame before it, however slowly tcpdump runs.
    pub fn stop(mut self) -> Vec<(Duration, Vec<u8>)> {
        let marker = send_marker(&self.ns, &self.iface);
        super::wait_until(super::GENEROUS, "tcpdump to write the marker frame", || {
            read_pcap_so_far(&self.file)
                .iter()
                .any(|(_, d)| *d == marker)
        });
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::SIGTERM,
        )
        .unwrap();
        self.child.wait().unwrap();
        let mut frames = read_pcap(&self.file);
        frames.retain(|(_, d)| *d != marker);
        frames
    }
}

/// Sends a broadcast frame no lab sends (EtherType 0x88b5, the IEEE's for local experiments)
/// out of `iface` in namespace `ns`, and returns its bytes. It stays on the lab's own wire.
fn send_marker(ns: &str, iface: &str) -> Vec<u8> {
    let mut frame = vec![0xff; 6];
    frame.extend([0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5]);
    frame.extend(format!("cnilab test marker {}", std::process::id()).as_bytes());
    frame.resize(60, 0);
    let sent = cnilab::sys::netns::in_netns(ns, || -> nix::Result<usize> {
        let index = nix::net::if_::if_nametoindex(iface)?;
        let socket = cnilab::sys::packet_socket::unbound()?;
        let to = cnilab::sys::packet_socket::link_addr(index);
        nix::sys::socket::sendto(
            std::os::fd::AsRawFd::as_raw_fd(&socket),
            &frame,
            &to,
            nix::sys::socket::MsgFlags::empty(),
        )
    });
    match sent {
        Ok(Ok(_)) => frame,
        other => panic!("cannot send a marker frame on {ns} {iface}: {other:?}"),
    }
}

/// The frames of a pcap file that tcpdump is still writing: up to the first one not yet
/// written whole, and none before its header is there.
fn read_pcap_so_far(path: &Path) -> Vec<(Duration, Vec<u8>)> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let Ok(mut r) = pcap_file::pcap::PcapReader::new(file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while let Some(Ok(p)) = r.next_packet() {
        out.push((p.timestamp, p.data.into_owned()));
    }
    out
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
/// many were compared, and fails on the first more than `limit` apart. Identical frames (an
/// ARP request sent again) pair by occurrence: the nth such frame of ours with tcpdump's nth.
pub fn assert_same_times(
    ours: &[(Duration, Vec<u8>)],
    theirs: &[(Duration, Vec<u8>)],
    limit: Duration,
    what: &str,
) -> usize {
    let mut seen: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    let mut compared = 0;
    for (ts, data) in ours {
        let nth = seen.entry(data.as_slice()).or_default();
        let twin = theirs.iter().filter(|(_, d)| d == data).nth(*nth);
        *nth += 1;
        let Some((their_ts, _)) = twin else {
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
