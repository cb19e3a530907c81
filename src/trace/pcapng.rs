//! The frames as one pcapng (see [`crate::pcapng`]), with a comment on each frame of the walk
//! saying what it is.

use super::capture::{Frame, Point};
use super::walk::Step;
use super::TraceError;
use crate::pcapng::{Interface, Packet};
use pcap_file::DataLink;
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
    let interfaces: Vec<Interface> = points
        .iter()
        .enumerate()
        .map(|(i, p)| Interface {
            name: p.label(),
            linktype: match frames.iter().any(|f| f.point == i && !f.ethernet) {
                true => DataLink::RAW,
                false => DataLink::ETHERNET,
            },
        })
        .collect();
    let mut comments: HashMap<usize, String> =
        steps.iter().map(|s| (s.frame, comment(s))).collect();
    let packets = frames
        .iter()
        .enumerate()
        .map(|(i, f)| Packet {
            interface: f.point as u32,
            ts: f.ts,
            data: &f.data,
            comment: comments.remove(&i),
        })
        .collect();
    crate::pcapng::write(&path, None, &interfaces, packets).map_err(err)?;
    Ok(path)
}

fn comment(s: &Step) -> String {
    let mut c = format!(
        "cnilab trace {:?} {} {}: {}",
        s.leg, s.direction, s.iface, s.decision
    );
    if let Some(crate::wire::Encap::Vxlan(crate::wire::VxlanParams { port, .. })) =
        s.encap.map(|t| t.encap)
    {
        if let Some(how) = crate::pcapng::decode_as_vxlan(port) {
            c += &format!(" ({how})");
        }
    }
    c
}
