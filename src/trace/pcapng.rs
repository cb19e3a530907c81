//! The frames as one pcapng: one interface block per capture point named `node:interface`,
//! nanosecond kernel timestamps, and a comment on each frame of the walk saying what it is.

use super::capture::{Frame, Point};
use super::walk::Step;
use super::TraceError;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const FILE: &str = "trace.pcapng";

/// Writes `DIR/trace.pcapng` with every frame captured during the walk, in time order.
pub fn write(
    dir: &Path,
    points: &[Point],
    frames: &[Frame],
    steps: &[Step],
) -> Result<PathBuf, TraceError> {
    let path = dir.join(FILE);
    let err = |e: std::io::Error| TraceError::Pcap {
        path: path.display().to_string(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let file = std::fs::File::create(&path).map_err(err)?;
    let pcap_err = |e: pcap_file::PcapError| err(std::io::Error::other(e.to_string()));
    let mut w = PcapNgWriter::new(std::io::BufWriter::new(file)).map_err(pcap_err)?;
    for (i, p) in points.iter().enumerate() {
        let bare_ip = frames.iter().any(|f| f.point == i && !f.ethernet);
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: if bare_ip {
                DataLink::RAW
            } else {
                DataLink::ETHERNET
            },
            snaplen: 65535,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Owned(p.label())),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        })
        .map_err(pcap_err)?;
    }
    let comments: HashMap<usize, String> = steps.iter().map(|s| (s.frame, comment(s))).collect();
    let mut order: Vec<usize> = (0..frames.len()).collect();
    order.sort_by_key(|&i| frames[i].ts);
    for i in order {
        let f = &frames[i];
        let options = comments
            .get(&i)
            .map(|c| vec![EnhancedPacketOption::Comment(Cow::Owned(c.clone()))])
            .unwrap_or_default();
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: f.point as u32,
            timestamp: f.ts,
            original_len: f.data.len() as u32,
            data: Cow::Borrowed(&f.data),
            options,
        })
        .map_err(pcap_err)?;
    }
    Ok(path)
}

fn comment(s: &Step) -> String {
    let mut c = format!(
        "cnilab trace {:?} {} {}: {}",
        s.leg, s.direction, s.iface, s.decision
    );
    if let Some(super::packet::Encap::Vxlan { port, .. }) = s.encap {
        if port != 4789 {
            c += &format!(" (Wireshark: Decode As UDP port {port} -> VXLAN)");
        }
    }
    c
}
