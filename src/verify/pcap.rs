//! One pcap file per capture point (Ethernet link type, the kernel's nanosecond timestamps),
//! for tcpdump and Wireshark.

use super::capture::Frame;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, TsResolution};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `frames` to `path` in the classic pcap format.
pub fn write(path: &Path, frames: &[Frame]) -> io::Result<()> {
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
    for frame in frames {
        let len = u32::try_from(frame.data.len()).unwrap_or(u32::MAX);
        writer
            .write_packet(&PcapPacket::new(frame.ts, len, &frame.data))
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

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcap::PcapReader;
    use std::time::Duration;

    #[test]
    fn frames_round_trip_with_their_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host1-eth1.pcap");
        let frames = vec![
            Frame {
                ts: Duration::new(1_700_000_000, 123_456),
                data: vec![1; 60],
            },
            Frame {
                ts: Duration::new(1_700_000_001, 0),
                data: vec![2; 1514],
            },
            Frame {
                ts: Duration::new(1_700_000_002, 0),
                data: vec![3; 65536],
            },
        ];
        write(&path, &frames).unwrap();
        let mut reader = PcapReader::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.header().datalink, DataLink::ETHERNET);
        let first = reader.next_packet().unwrap().unwrap();
        assert_eq!(first.timestamp, frames[0].ts);
        assert_eq!(first.data.as_ref(), &frames[0].data[..]);
        let second = reader.next_packet().unwrap().unwrap();
        assert_eq!(second.orig_len, 1514);
        assert_eq!(reader.next_packet().unwrap().unwrap().data.len(), 65536);
        assert!(reader.next_packet().is_none());
    }
}
