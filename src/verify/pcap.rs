//! verify's capture files, for tcpdump and Wireshark, every frame with the kernel's
//! nanosecond capture time: one classic pcap file per capture point, and one `lab.pcapng`
//! with every point as an interface named `node:interface` and a comment on each probe frame
//! naming its pair and whether it is the request or the reply.

use super::capture::CapturePoint;
use super::id::{ProbeId, ProbeKind, STEADY_PINGS};
use super::observe::{Observed, Owner, Sighting};
use crate::pcapng::{Interface, Packet};
use crate::wire::dissect::Wire;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

/// The merged file's name in the `--pcap` directory.
pub const LAB_FILE: &str = "lab.pcapng";

/// Writes `frames` (time, bytes) to `path` in the classic pcap format.
pub fn write<'a>(
    path: &Path,
    frames: impl IntoIterator<Item = (Duration, &'a [u8])>,
) -> io::Result<()> {
    let file = BufWriter::new(File::create(path)?);
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        // tcpdump's own default; the default 65535 is one byte short of the largest frame
        // the capture reads, and pcap-file refuses frames longer than the snap length.
        snaplen: 262_144,
        ts_resolution: TsResolution::NanoSecond,
        ..Default::default()
    };
    let mut writer = PcapWriter::with_header(file, header).map_err(to_io)?;
    for (ts, data) in frames {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        writer
            .write_packet(&PcapPacket::new(ts, len, data))
            .map_err(to_io)?;
    }
    writer.into_writer().flush()
}

fn to_io(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// Writes every point's kept frames into one pcapng at `path`, in time order; `comment`
/// says what a frame is, `section` what the file is.
pub fn write_lab(
    path: &Path,
    section: &str,
    points: &[CapturePoint],
    observed: &[Observed],
    comment: impl Fn(&Sighting) -> Option<String>,
) -> io::Result<()> {
    let interfaces: Vec<Interface> = points
        .iter()
        .map(|p| Interface {
            name: format!("{}:{}", p.id.node, p.id.iface),
            linktype: DataLink::ETHERNET,
        })
        .collect();
    let packets = observed
        .iter()
        .enumerate()
        .flat_map(|(i, o)| o.kept.iter().map(move |k| (i, k)))
        .filter_map(|(i, k)| {
            Some(Packet {
                interface: i as u32,
                ts: k.ts,
                data: k.raw.as_deref()?,
                comment: k.sighting.as_ref().and_then(&comment),
            })
        })
        .collect();
    crate::pcapng::write(path, Some(section), &interfaces, packets)
}

/// A probe frame in words: `cnilab verify: pod1 -> pod2, full-size ping reply (attempt 2)`,
/// and how to decode VXLAN on a port Wireshark does not know. `who` names a pair's pods.
pub fn comment(
    sighting: &Sighting,
    probe: Option<ProbeId>,
    who: impl Fn(usize) -> (String, String),
) -> Option<String> {
    let (id, reply) = match (sighting.owner, probe) {
        (Owner::Probe { id, reply }, _) => (id, reply),
        (Owner::Segment { reply, .. }, Some(id)) => (id, reply),
        _ => return None,
    };
    let (from, to) = who(id.pair);
    let what = match id.kind {
        ProbeKind::Ping => "ping".to_string(),
        ProbeKind::FullSize => "full-size ping (DF)".to_string(),
        ProbeKind::Steady(n) => format!("steady ping {}/{STEADY_PINGS}", n + 1),
        ProbeKind::Transport(p) if matches!(sighting.owner, Owner::Segment { .. }) => {
            format!("{} probe connection segment", p.name())
        }
        ProbeKind::Transport(p) => format!("{} probe", p.name()),
    };
    let way = if reply { "reply" } else { "request" };
    let mut c = format!("cnilab verify: {from} -> {to}, {what} {way}");
    if id.attempt > 0 {
        c += &format!(" (attempt {})", id.attempt + 1);
    }
    if let Wire::Vxlan { port, .. } = sighting.wire {
        if let Some(how) = crate::pcapng::decode_as_vxlan(port) {
            c += &format!("; {how}");
        }
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::observe::Kept;
    use crate::verify::transport::Proto;
    use crate::wire::dissect::build::{plain, vxlan_frame};
    use crate::wire::dissect::dissect;
    use pcap_file::pcap::PcapReader;
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
    use pcap_file::pcapng::{Block, PcapNgReader};

    #[test]
    fn frames_round_trip_with_their_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host1-eth1.pcap");
        let frames = [
            (Duration::new(1_700_000_000, 123_456), vec![1; 60]),
            (Duration::new(1_700_000_001, 0), vec![2; 1514]),
            (Duration::new(1_700_000_002, 0), vec![3; 65536]),
        ];
        write(&path, frames.iter().map(|(ts, d)| (*ts, &d[..]))).unwrap();
        let mut reader = PcapReader::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.header().datalink, DataLink::ETHERNET);
        let first = reader.next_packet().unwrap().unwrap();
        assert_eq!(first.timestamp, frames[0].0);
        assert_eq!(first.data.as_ref(), &frames[0].1[..]);
        let second = reader.next_packet().unwrap().unwrap();
        assert_eq!(second.orig_len, 1514);
        assert_eq!(reader.next_packet().unwrap().unwrap().data.len(), 65536);
        assert!(reader.next_packet().is_none());
    }

    fn sighting(frame: &[u8], owner: Owner) -> Sighting {
        Sighting {
            owner,
            dst_mac: [0; 6],
            wire: dissect(frame, &[8472]).unwrap(),
        }
    }

    fn pods(pair: usize) -> (String, String) {
        (format!("pod{}", pair + 1), format!("pod{}", pair + 2))
    }

    #[test]
    fn a_probe_frame_names_its_pair_kind_and_direction() {
        let frame = plain("172.16.0.2", "172.16.1.2", true, None);
        let id = ProbeId::new(0, ProbeKind::FullSize).at(1);
        let s = sighting(&frame, Owner::Probe { id, reply: true });
        assert_eq!(
            comment(&s, None, pods).unwrap(),
            "cnilab verify: pod1 -> pod2, full-size ping (DF) reply (attempt 2)"
        );
        let flow = (
            frame_ip("172.16.0.2").into(),
            40000,
            frame_ip("172.16.1.2").into(),
        );
        let segment = sighting(&frame, Owner::Segment { flow, reply: false });
        let tcp = ProbeId::new(2, ProbeKind::Transport(Proto::Tcp));
        assert_eq!(
            comment(&segment, Some(tcp), pods).unwrap(),
            "cnilab verify: pod3 -> pod4, TCP probe connection segment request"
        );
        assert_eq!(comment(&segment, None, pods), None);
        assert_eq!(
            comment(&sighting(&frame, Owner::Unclaimed), None, pods),
            None
        );
    }

    fn frame_ip(s: &str) -> std::net::Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn vxlan_on_8472_says_how_to_decode_it() {
        let frame = vxlan_frame(
            ("10.0.1.2", "10.0.2.2"),
            8472,
            1,
            ("172.16.0.2", "172.16.1.2"),
            false,
            None,
        );
        let id = ProbeId::new(0, ProbeKind::Ping);
        let s = sighting(&frame, Owner::Probe { id, reply: false });
        let c = comment(&s, None, pods).unwrap();
        assert!(
            c.starts_with("cnilab verify: pod1 -> pod2, ping request; "),
            "{c}"
        );
        assert!(
            c.contains("Decode As") && c.contains("UDP port 8472 -> VXLAN"),
            "{c}"
        );
    }

    #[test]
    fn the_lab_file_holds_every_point_in_time_order_with_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LAB_FILE);
        let point = |node: &str| CapturePoint {
            id: crate::lab::point::PointId::new(node, "eth1"),
            namespace: String::new(),
            host: 0,
        };
        let request = plain("172.16.0.2", "172.16.1.2", false, None);
        let id = ProbeId::new(0, ProbeKind::Ping);
        let kept = |nanos, frame: &[u8], sighting| Kept {
            ts: Duration::new(1_700_000_000, nanos),
            sighting,
            raw: Some(frame.into()),
            copies: 1,
        };
        let observed = [
            Observed {
                kept: vec![kept(
                    500,
                    &request,
                    Some(sighting(&request, Owner::Probe { id, reply: false })),
                )],
                ..Default::default()
            },
            Observed {
                kept: vec![kept(100, &[9; 60], None)],
                ..Default::default()
            },
        ];
        let comment = |s: &Sighting| super::comment(s, None, pods);
        write_lab(
            &path,
            "section",
            &[point("host1"), point("gw1")],
            &observed,
            comment,
        )
        .unwrap();
        let mut r = PcapNgReader::new(File::open(&path).unwrap()).unwrap();
        let (mut names, mut packets) = (Vec::new(), Vec::new());
        while let Some(block) = r.next_block() {
            match block.unwrap() {
                Block::InterfaceDescription(i) => names.push(format!("{:?}", i.options[0])),
                Block::EnhancedPacket(p) => packets.push((
                    p.interface_id,
                    p.timestamp.subsec_nanos(),
                    p.options.iter().find_map(|o| match o {
                        EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                        _ => None,
                    }),
                )),
                _ => {}
            }
        }
        assert!(names[0].contains("host1:eth1") && names[1].contains("gw1:eth1"));
        assert_eq!(
            packets,
            [
                (1, 100, None),
                (
                    0,
                    500,
                    Some("cnilab verify: pod1 -> pod2, ping request".to_string())
                )
            ]
        );
    }
}
