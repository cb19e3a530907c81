//! One pcapng file for many capture points, as Wireshark opens a whole lab at once: one
//! interface block per point named `node:interface` (as containerlab names its captures),
//! every frame in time order with the kernel's nanosecond timestamp, and a comment where
//! there is something to say about a frame or the file.

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use std::borrow::Cow;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

/// tcpdump's own default snap length: no frame cnilab reads is longer.
const SNAPLEN: u32 = 262_144;

/// A capture point: its interface block.
pub struct Interface {
    /// `node:interface`.
    pub name: String,
    /// Ethernet, or RAW for a bare IP device such as an ipip tunnel.
    pub linktype: DataLink,
}

/// One frame of one interface (an index into the interfaces).
pub struct Packet<'a> {
    pub interface: u32,
    pub ts: Duration,
    pub data: &'a [u8],
    pub comment: Option<String>,
}

/// Writes `path`: the section (with `comment`, if any), the interfaces, then `packets`
/// sorted by time (frames of equal time keep their order).
pub fn write(
    path: &Path,
    comment: Option<&str>,
    interfaces: &[Interface],
    mut packets: Vec<Packet<'_>>,
) -> io::Result<()> {
    let file = io::BufWriter::new(std::fs::File::create(path)?);
    let mut options = vec![SectionHeaderOption::UserApplication(Cow::Borrowed(
        "cnilab",
    ))];
    options.extend(comment.map(|c| SectionHeaderOption::Comment(Cow::Owned(c.to_string()))));
    let section = SectionHeaderBlock {
        options,
        ..Default::default()
    };
    let mut w = PcapNgWriter::with_section_header(file, section).map_err(to_io)?;
    for i in interfaces {
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: i.linktype,
            snaplen: SNAPLEN,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Owned(i.name.clone())),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        })
        .map_err(to_io)?;
    }
    packets.sort_by_key(|p| p.ts);
    for p in packets {
        let len = u32::try_from(p.data.len()).unwrap_or(u32::MAX);
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: p.interface,
            timestamp: p.ts,
            original_len: len,
            data: Cow::Borrowed(p.data),
            options: p
                .comment
                .map(|c| vec![EnhancedPacketOption::Comment(Cow::Owned(c))])
                .unwrap_or_default(),
        })
        .map_err(to_io)?;
    }
    w.into_inner().flush()
}

/// What to tell Wireshark so that it reads VXLAN on `port`: it decodes only 4789 by itself.
pub fn decode_as_vxlan(port: u16) -> Option<String> {
    (port != crate::wire::encap::VXLAN_PORT).then(|| {
        format!(
            "VXLAN on UDP port {port}: in Wireshark, Analyze > Decode As..., UDP port {port} -> VXLAN"
        )
    })
}

fn to_io(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::{Block, PcapNgReader};

    #[test]
    fn interfaces_comments_and_time_order_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.pcapng");
        let interfaces = [
            Interface {
                name: "host1:eth1".into(),
                linktype: DataLink::ETHERNET,
            },
            Interface {
                name: "gw1:eth2".into(),
                linktype: DataLink::ETHERNET,
            },
        ];
        let packet = |interface, nanos, byte, comment: Option<&str>| Packet {
            interface,
            ts: Duration::new(1_700_000_000, nanos),
            data: match byte {
                1 => &[1; 60],
                _ => &[2; 1514],
            },
            comment: comment.map(str::to_string),
        };
        let packets = vec![
            packet(1, 2_345, 2, None),
            packet(0, 1_234, 1, Some("pod1 -> pod2 ping request")),
        ];
        write(&path, Some("the section"), &interfaces, packets).unwrap();

        let mut r = PcapNgReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert!(r
            .section()
            .options
            .contains(&SectionHeaderOption::Comment("the section".into())));
        let mut names = Vec::new();
        let mut seen = Vec::new();
        while let Some(block) = r.next_block() {
            match block.unwrap() {
                Block::InterfaceDescription(i) => {
                    names.extend(i.options.iter().filter_map(|o| match o {
                        InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                        _ => None,
                    }))
                }
                Block::EnhancedPacket(p) => seen.push((
                    p.interface_id,
                    p.timestamp.subsec_nanos(),
                    p.data.len(),
                    p.options.first().map(|o| format!("{o:?}")),
                )),
                _ => {}
            }
        }
        assert_eq!(names, ["host1:eth1", "gw1:eth2"]);
        assert_eq!((seen[0].0, seen[0].1, seen[0].2), (0, 1_234, 60));
        assert!(seen[0]
            .3
            .as_ref()
            .unwrap()
            .contains("pod1 -> pod2 ping request"));
        assert_eq!(
            (seen[1].0, seen[1].1, seen[1].2, &seen[1].3),
            (1, 2_345, 1514, &None)
        );
    }

    #[test]
    fn only_a_port_other_than_4789_needs_decode_as() {
        assert_eq!(decode_as_vxlan(4789), None);
        assert!(decode_as_vxlan(8472)
            .unwrap()
            .contains("UDP port 8472 -> VXLAN"));
    }
}
