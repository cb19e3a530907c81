//! Bytes on the wire per payload byte, from a short capture on the sending host's underlay
//! interface: the encapsulation each packet carries, the MSS the pods negotiated, and what
//! the two make of a stream once it is cut into MTU-sized segments.
//!
//! A sealed lab hides the stream on the underlay, so there the capture reads two points at
//! once: the sending pod's interface, where the stream is in the clear (its MSS, its segments),
//! and the underlay, where each WireGuard transport datagram or ESP packet shows what sealing
//! adds. ESP hides the length of what it seals, so its header is the full-size ESP packet's
//! length less the full-size pod packet's and the padding ESP gives that length.

use super::BenchError;
use crate::sys::packet_socket::{self, RingSize};
use crate::verify::capture::CapturePoint;
use crate::wire::dissect::{dissect, L4};
use crate::wire::sealed::{WgMessage, WG_TAG_LEN};
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::tcp::{TcpOptionNumbers, TcpPacket};
use pnet_packet::Packet;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

const ETHERNET_HEADER: usize = 14;
/// After the traffic, the capture drains what is queued, but not for longer than this.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overhead {
    /// Wire frame length minus the pod's own Ethernet frame: VXLAN 50 over IPv4 and 70 over
    /// IPv6, IPIP 20, host-gw 0;
    /// in a sealed lab, what a WireGuard datagram adds to the pod's packet, padding aside (60
    /// over IPv4), the padding being counted in the bytes per payload byte.
    pub encap_bytes_per_packet: usize,
    /// The MSS in the SYN the sender put on the wire.
    pub mss: u16,
    /// Wire bytes per TCP payload byte, counting each captured packet as the MTU-sized
    /// segments a NIC would send (veths hand GSO super-packets over uncut).
    pub wire_bytes_per_payload_byte: f64,
    /// Data packets of the flow that the capture saw.
    pub data_packets: usize,
    /// Whether any captured packet was a GSO super-packet, larger than one segment.
    pub gso_seen: bool,
}

/// How a sealed lab carries pod packets across its underlay.
#[derive(Debug, Clone, Copy)]
pub enum SealedBy {
    /// WireGuard transport data to this UDP port.
    Wireguard { port: u16 },
    /// ESP in tunnel mode, sent from this underlay address.
    Esp { from: Ipv4Addr },
}

/// The inner addresses of the stream to look for, both of one family.
#[derive(Debug, Clone, Copy)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
}

/// Captures on `point` while `traffic` runs, and measures the flow in what was seen.
pub fn capture_during<T>(
    point: &CapturePoint,
    flow: Flow,
    vxlan_ports: &[u16],
    traffic: impl FnOnce() -> Result<T, BenchError>,
) -> Result<Overhead, BenchError> {
    let mut seen = capture_at(&[point], traffic)?;
    let frames = seen.remove(0);
    measure(&frames, flow, vxlan_ports).ok_or_else(|| no_data(flow, &frames, point))
}

/// The same for a sealed lab: the stream in the clear on `pod`, and sealed on `underlay` as
/// `by` seals it.
pub fn capture_sealed_during<T>(
    pod: &CapturePoint,
    underlay: &CapturePoint,
    flow: Flow,
    by: SealedBy,
    traffic: impl FnOnce() -> Result<T, BenchError>,
) -> Result<Overhead, BenchError> {
    let seen = capture_at(&[pod, underlay], traffic)?;
    let (clear, sealed) = (&seen[0], &seen[1]);
    let pod_stream = measure(clear, flow, &[]).ok_or_else(|| no_data(flow, clear, pod))?;
    let (header, padding): (Option<usize>, fn(usize) -> usize) = match by {
        SealedBy::Wireguard { port } => (
            most_common(sealed.iter().filter_map(|f| seal_header(f, port))),
            wireguard_padding,
        ),
        SealedBy::Esp { from } => (esp_header(clear, sealed, flow, from), esp_padding),
    };
    let header = header.ok_or_else(|| no_seal(by, sealed.len(), underlay))?;
    measure_sealed(clear, flow, header, padding)
        .ok_or_else(|| no_data(flow, clear, pod))
        .map(|o| Overhead {
            gso_seen: pod_stream.gso_seen,
            ..o
        })
}

fn no_seal(by: SealedBy, frames: usize, underlay: &CapturePoint) -> BenchError {
    let wanted = match by {
        SealedBy::Wireguard { port } => format!("WireGuard data to UDP {port}"),
        SealedBy::Esp { from } => format!("full-size ESP from {from}"),
    };
    BenchError::Capture(format!(
        "no {wanted} among {frames} frames captured on {}",
        underlay.id
    ))
}

/// Every frame seen on each of `points` while `traffic` ran, point by point.
fn capture_at<T>(
    points: &[&CapturePoint],
    traffic: impl FnOnce() -> Result<T, BenchError>,
) -> Result<Vec<Vec<Vec<u8>>>, BenchError> {
    let fail = |point: &CapturePoint, e: &dyn std::fmt::Display| {
        BenchError::Capture(format!("{}: {e}", point.id))
    };
    // Unfiltered: the flow is ordinary TCP, which verify's probe filter would drop.
    let sockets = points
        .iter()
        .map(|p| {
            packet_socket::open(&p.namespace, &p.id.iface, None, RingSize::BULK)
                .map_err(|e| fail(p, &e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let running = packet_socket::start(sockets, |_, socket, stop| {
        let mut frames = Vec::new();
        let _ = socket.read_until(stop, DRAIN_LIMIT, |f| frames.push(f.data.to_vec()));
        frames
    })
    .map_err(|e| fail(points[0], &e))?;
    let ran = traffic();
    let frames = running.stop();
    ran?;
    Ok(frames)
}

fn no_data(flow: Flow, frames: &[Vec<u8>], point: &CapturePoint) -> BenchError {
    BenchError::Capture(format!(
        "no TCP data from {} to {} among {} frames captured on {}",
        flow.src,
        flow.dst,
        frames.len(),
        point.id
    ))
}

/// What a WireGuard transport datagram to `port` adds to the packet it seals, padding aside:
/// the outer IPv4 header, UDP, WireGuard's 16-byte header and its 16-byte tag.
fn seal_header(frame: &[u8], port: u16) -> Option<usize> {
    let sealed = crate::wire::sealed::sealed(frame)?;
    if !sealed.wireguard_data_to(port) {
        return None;
    }
    let crate::wire::sealed::Seal::Wireguard {
        message: WgMessage::Transport { sealed_len, .. },
        ..
    } = sealed.seal
    else {
        return None;
    };
    let outer = frame.len().checked_sub(ETHERNET_HEADER + sealed_len)?;
    Some(outer + WG_TAG_LEN)
}

/// WireGuard pads each packet it seals to a multiple of 16 bytes.
fn wireguard_padding(packet_len: usize) -> usize {
    (16 - packet_len % 16) % 16
}

/// One packet of the flow, read down to its TCP header.
struct Seen {
    wire_len: usize,
    encap: usize,
    headers: usize,
    tcp_options: usize,
    payload: usize,
    syn_mss: Option<u16>,
}

fn read_packet(frame: &[u8], flow: Flow, vxlan_ports: &[u16]) -> Option<Seen> {
    let wire = dissect(frame, vxlan_ports).ok()?;
    let inner = wire.innermost()?;
    if (inner.src, inner.dst) != (flow.src, flow.dst) || !matches!(inner.l4, L4::Tcp { .. }) {
        return None;
    }
    // The pod's packet is the frame's tail: everything before it is Ethernet plus tunnel.
    let inner_start = frame.len().checked_sub(inner.len as usize)?;
    let packet = &frame[inner_start..];
    let ip_header = ip_header_len(packet)?;
    let tcp = TcpPacket::new(packet.get(ip_header..)?)?;
    let tcp_header = tcp.get_data_offset() as usize * 4;
    let syn_mss = tcp
        .get_options_iter()
        .find(|o| o.get_number() == TcpOptionNumbers::MSS)
        .and_then(|o| <[u8; 2]>::try_from(o.payload()).ok())
        .map(u16::from_be_bytes);
    Some(Seen {
        wire_len: frame.len(),
        encap: inner_start.checked_sub(ETHERNET_HEADER)?,
        headers: ip_header + tcp_header,
        tcp_options: tcp_header - 20,
        payload: (inner.len as usize).saturating_sub(ip_header + tcp_header),
        syn_mss,
    })
}

/// The IP header's length of the pod packet `packet` starts with: IPv4's own count, or IPv6's
/// fixed 40 bytes (the dissector read its next header as TCP, so no extension header follows).
fn ip_header_len(packet: &[u8]) -> Option<usize> {
    match packet.first()? >> 4 {
        4 => Some(Ipv4Packet::new(packet)?.get_header_length() as usize * 4),
        6 => Some(crate::family::Family::Ipv6.ip_header_len()),
        _ => None,
    }
}

/// Measures the flow's overhead in `frames`; `None` if it carried no data or had no SYN.
pub fn measure(frames: &[Vec<u8>], flow: Flow, vxlan_ports: &[u16]) -> Option<Overhead> {
    let seen = read_flow(frames, flow, vxlan_ports);
    let encap = most_common(seen.iter().filter(|s| s.payload > 0).map(|s| s.encap))?;
    totals(&seen, encap, |_| 0)
}

/// The flow seen in the clear in `pod_frames`, as it crosses sealed with `header` bytes on
/// each packet and the `padding` each packet's length takes.
fn measure_sealed(
    pod_frames: &[Vec<u8>],
    flow: Flow,
    header: usize,
    padding: fn(usize) -> usize,
) -> Option<Overhead> {
    let seen = read_flow(pod_frames, flow, &[]);
    totals(&seen, header, padding)
}

/// What ESP adds to a full-size pod packet, padding aside: the most common ESP packet from
/// `from` (the stream's full segments) less the full segment's pod packet and its padding.
fn esp_header(
    pod_frames: &[Vec<u8>],
    sealed: &[Vec<u8>],
    flow: Flow,
    from: Ipv4Addr,
) -> Option<usize> {
    let seen = read_flow(pod_frames, flow, &[]);
    let mss = usize::from(seen.iter().find_map(|s| s.syn_mss)?);
    let data = seen.iter().filter(|s| s.payload > 0);
    let full = most_common(data.map(|s| s.headers + mss.saturating_sub(s.tcp_options)))?;
    let esp_len = |f: &Vec<u8>| {
        let s = crate::wire::sealed::sealed(f)?;
        let ours = s.src == from && matches!(s.seal, crate::wire::sealed::Seal::Esp { .. });
        ours.then(|| f.len().checked_sub(ETHERNET_HEADER)).flatten()
    };
    let outer = most_common(sealed.iter().filter_map(esp_len))?;
    outer.checked_sub(full + esp_padding(full))
}

/// ESP pads what it seals, with its 2-byte trailer, to a multiple of 4 (RFC 4303 §2.4; the
/// 1-byte block of rfc4106(gcm(aes)) leaves the 4-byte alignment as the only rule).
fn esp_padding(packet_len: usize) -> usize {
    (4 - (packet_len + 2) % 4) % 4
}

fn read_flow(frames: &[Vec<u8>], flow: Flow, vxlan_ports: &[u16]) -> Vec<Seen> {
    frames
        .iter()
        .filter_map(|f| read_packet(f, flow, vxlan_ports))
        .collect()
}

/// The flow's wire bytes, each packet cut into MSS-sized segments that carry `encap` bytes
/// and `padding(segment length)` more.
fn totals(seen: &[Seen], encap: usize, padding: impl Fn(usize) -> usize) -> Option<Overhead> {
    let mss = seen.iter().find_map(|s| s.syn_mss)?;
    let data: Vec<&Seen> = seen.iter().filter(|s| s.payload > 0).collect();
    if data.is_empty() {
        return None;
    }
    let (mut wire, mut payload, mut gso_seen) = (0usize, 0usize, false);
    for s in &data {
        // Options ride in every segment, so each carries MSS minus them.
        let per_segment = (mss as usize).saturating_sub(s.tcp_options).max(1);
        let segments = s.payload.div_ceil(per_segment);
        let (full, rest) = (s.payload / per_segment, s.payload % per_segment);
        let pads = full * padding(s.headers + per_segment)
            + if rest > 0 {
                padding(s.headers + rest)
            } else {
                0
            };
        gso_seen |=
            segments > 1 || s.wire_len > ETHERNET_HEADER + s.encap + s.headers + per_segment;
        wire += s.payload + segments * (ETHERNET_HEADER + encap + s.headers) + pads;
        payload += s.payload;
    }
    Some(Overhead {
        encap_bytes_per_packet: encap,
        mss,
        wire_bytes_per_payload_byte: wire as f64 / payload as f64,
        data_packets: data.len(),
        gso_seen,
    })
}

fn most_common(values: impl Iterator<Item = usize>) -> Option<usize> {
    let mut counts = std::collections::BTreeMap::new();
    for v in values {
        *counts.entry(v).or_insert(0usize) += 1;
    }
    counts.into_iter().max_by_key(|&(_, n)| n).map(|(v, _)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dissect::build;

    const SRC: &str = "172.16.0.2";
    const DST: &str = "172.16.1.2";

    /// A TCP segment with a timestamp option (12 bytes), and the MSS option on a SYN.
    fn tcp(payload: usize, mss: Option<u16>) -> Vec<u8> {
        let mut options = vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
        if let Some(mss) = mss {
            options = [vec![2, 4], mss.to_be_bytes().to_vec(), options].concat();
        }
        let offset = (20 + options.len()) / 4;
        let mut header = vec![0u8; 20];
        header[12] = (offset as u8) << 4;
        header[13] = if mss.is_some() { 0x02 } else { 0x10 };
        [header, options, vec![0xab; payload]].concat()
    }

    const TCP_PROTOCOL: u8 = 6;

    fn inner(payload: usize, mss: Option<u16>) -> Vec<u8> {
        build::ipv4(
            build::ip(SRC),
            build::ip(DST),
            TCP_PROTOCOL,
            &tcp(payload, mss),
        )
    }

    fn flow() -> Flow {
        Flow {
            src: build::ip(SRC).into(),
            dst: build::ip(DST).into(),
        }
    }

    const SRC6: &str = "fd00:172:16::2";
    const DST6: &str = "fd00:172:16:1::2";

    fn inner6(payload: usize, mss: Option<u16>) -> Vec<u8> {
        use crate::wire::ipv6::build::{ip6, packet6};
        packet6(ip6(SRC6), ip6(DST6), TCP_PROTOCOL, &tcp(payload, mss))
    }

    fn flow6() -> Flow {
        use crate::wire::ipv6::build::ip6;
        Flow {
            src: ip6(SRC6).into(),
            dst: ip6(DST6).into(),
        }
    }

    /// `inner` (an IPv6 pod packet) in VXLAN over an IPv6 underlay, as flannel-v6.1 sends it.
    fn over_ipv6(inner: &[u8]) -> Vec<u8> {
        use crate::wire::ipv6::{build, ETHERTYPE_IPV6};
        let pod_frame = crate::wire::dissect::build::ether(ETHERTYPE_IPV6, inner);
        build::over_ipv6(("fd00:10:0:1::2", "fd00:10:0:2::2"), 4789, 1, &pod_frame)
    }

    #[test]
    fn vxlan_over_ipv6_costs_seventy_bytes_a_packet() {
        // A 1430-byte pod MTU: MSS 1370 (IPv6 40, TCP 20), 12 bytes of options a segment.
        let frames: Vec<Vec<u8>> = [
            inner6(0, Some(1370)),
            inner6(1358, None),
            inner6(1358, None),
        ]
        .iter()
        .map(|ip| over_ipv6(ip))
        .collect();
        // Outer IPv6 40, UDP 8, VXLAN 8, the pod's Ethernet 14.
        assert_eq!(frames[1].len() - 14 - inner6(1358, None).len(), 70);
        let o = measure(&frames, flow6(), &[4789]).unwrap();
        assert_eq!((o.encap_bytes_per_packet, o.mss), (70, 1370));
        assert_eq!(o.data_packets, 2);
        assert!(!o.gso_seen);
        // 1358 payload bytes in a 1430-byte pod packet, a 1514-byte frame on the wire.
        assert!((o.wire_bytes_per_payload_byte - 1514.0 / 1358.0).abs() < 1e-9);
        // The same frames hold no IPv4 flow, and are not VXLAN on another port.
        assert_eq!(measure(&frames, flow(), &[4789]), None);
        let on_8472 = measure(&frames, flow6(), &[8472]);
        assert_eq!(on_8472, None, "plain UDP to 4789 carries no TCP flow");
    }

    #[test]
    fn plain_ipv6_costs_nothing_and_counts_its_forty_byte_header() {
        use crate::wire::ipv6::ETHERTYPE_IPV6;
        let frames = vec![
            build::ether(ETHERTYPE_IPV6, &inner6(0, Some(1440))),
            build::ether(ETHERTYPE_IPV6, &inner6(2 * 1428, None)),
        ];
        let o = measure(&frames, flow6(), &[4789]).unwrap();
        assert_eq!((o.encap_bytes_per_packet, o.mss), (0, 1440));
        assert!(o.gso_seen, "two segments in one packet");
        // Each segment: Ethernet 14, IPv6 40, TCP 32, 1428 payload bytes.
        assert!((o.wire_bytes_per_payload_byte - 1514.0 / 1428.0).abs() < 1e-9);
    }

    #[test]
    fn vxlan_costs_fifty_bytes_a_packet_and_its_mss_shows() {
        let frames: Vec<Vec<u8>> = [inner(0, Some(1410)), inner(1398, None), inner(1398, None)]
            .iter()
            .map(|ip| {
                let pod_frame = build::ether(0x0800, ip);
                let udp = build::udp(40000, 4789, &build::vxlan(1, &pod_frame));
                build::ether(
                    0x0800,
                    &build::ipv4(build::ip("10.0.1.2"), build::ip("10.0.2.2"), 17, &udp),
                )
            })
            .collect();
        let o = measure(&frames, flow(), &[4789]).unwrap();
        assert_eq!(o.encap_bytes_per_packet, 50);
        assert_eq!(o.mss, 1410);
        assert_eq!(o.data_packets, 2);
        assert!(!o.gso_seen);
        // 1398 payload bytes in a 1450-byte pod packet, a 1514-byte frame on the wire.
        assert!((o.wire_bytes_per_payload_byte - 1514.0 / 1398.0).abs() < 1e-9);
    }

    #[test]
    fn a_plain_super_packet_counts_as_the_segments_it_becomes() {
        let frames = vec![
            build::ether(0x0800, &inner(0, Some(1460))),
            build::ether(0x0800, &inner(3 * 1448, None)),
        ];
        let o = measure(&frames, flow(), &[4789]).unwrap();
        assert_eq!(o.encap_bytes_per_packet, 0);
        assert_eq!(o.mss, 1460);
        assert!(o.gso_seen);
        assert!((o.wire_bytes_per_payload_byte - 1514.0 / 1448.0).abs() < 1e-9);
    }

    #[test]
    fn other_flows_and_a_missing_syn_give_nothing() {
        let data_only = vec![build::ether(0x0800, &inner(100, None))];
        assert_eq!(measure(&data_only, flow(), &[4789]), None);
        let reverse = Flow {
            src: flow().dst,
            dst: flow().src,
        };
        let frames = vec![
            build::ether(0x0800, &inner(0, Some(1460))),
            build::ether(0x0800, &inner(100, None)),
        ];
        assert_eq!(measure(&frames, reverse, &[4789]), None);
    }

    /// A WireGuard transport datagram from host to host sealing `packet_len` bytes.
    fn sealed_frame(packet_len: usize) -> Vec<u8> {
        let mut message = vec![4, 0, 0, 0, 1, 0, 0, 0];
        message.extend(7u64.to_le_bytes());
        message.extend(vec![
            0x5a;
            packet_len + wireguard_padding(packet_len) + WG_TAG_LEN
        ]);
        let udp = build::udp(51820, 51820, &message);
        let host = |h| build::ip(h);
        build::ether(
            0x0800,
            &build::ipv4(host("192.168.0.1"), host("192.168.0.2"), 17, &udp),
        )
    }

    #[test]
    fn wireguard_adds_sixty_bytes_and_its_padding_to_each_packet() {
        assert_eq!(seal_header(&sealed_frame(1420), 51820), Some(60));
        assert_eq!(
            seal_header(&sealed_frame(1420), 51871),
            None,
            "another port"
        );
        assert_eq!((wireguard_padding(1420), wireguard_padding(1424)), (4, 0));
        // A 1420-byte pod MTU: MSS 1380, 12 bytes of options, so 1368 bytes a segment in a
        // 1420-byte packet that WireGuard pads to 1424.
        let clear = vec![
            build::ether(0x0800, &inner(0, Some(1380))),
            build::ether(0x0800, &inner(1368, None)),
            build::ether(0x0800, &inner(1368, None)),
        ];
        let o = measure_sealed(&clear, flow(), 60, wireguard_padding).unwrap();
        assert_eq!(
            (o.encap_bytes_per_packet, o.mss, o.data_packets),
            (60, 1380, 2)
        );
        let per_segment = 14 + 60 + 1420 + 4;
        assert!((o.wire_bytes_per_payload_byte - per_segment as f64 / 1368.0).abs() < 1e-9);
    }

    /// An ESP packet from host1 in tunnel mode sealing `packet_len` bytes with rfc4106's 8-byte
    /// IV and 16-byte ICV.
    fn esp_frame(from: &str, packet_len: usize) -> Vec<u8> {
        let mut body = vec![0, 0, 1, 3, 0, 0, 0, 9];
        body.extend(vec![
            0x5a;
            8 + packet_len + esp_padding(packet_len) + 2 + 16
        ]);
        let esp = crate::wire::sealed::PROTO_ESP;
        build::ether(
            0x0800,
            &build::ipv4(build::ip(from), build::ip("192.168.0.2"), esp, &body),
        )
    }

    #[test]
    fn esp_adds_fifty_four_bytes_and_its_padding_to_each_packet() {
        assert_eq!(
            (esp_padding(1440), esp_padding(1441), esp_padding(1438)),
            (2, 1, 0)
        );
        // A 1440-byte pod MTU: MSS 1400, 12 bytes of options, 1388 bytes a segment.
        let clear = vec![
            build::ether(0x0800, &inner(0, Some(1400))),
            build::ether(0x0800, &inner(1388, None)),
            build::ether(0x0800, &inner(1388, None)),
            build::ether(0x0800, &inner(200, None)),
        ];
        let ours = "192.168.0.1";
        let sealed = vec![
            esp_frame(ours, 1440),
            esp_frame(ours, 1440),
            esp_frame(ours, 252),
            // The receiver's acknowledgements, sealed the other way.
            esp_frame("192.168.0.2", 52),
            esp_frame("192.168.0.2", 52),
            esp_frame("192.168.0.2", 52),
        ];
        let header = esp_header(&clear, &sealed, flow(), build::ip(ours));
        assert_eq!(header, Some(20 + 8 + 8 + 2 + 16));
        let o = measure_sealed(&clear, flow(), 54, esp_padding).unwrap();
        assert_eq!((o.encap_bytes_per_packet, o.data_packets), (54, 3));
        let wire = 2 * (14 + 54 + 1440 + 2) + (14 + 54 + 252 + 2);
        let want = wire as f64 / (2 * 1388 + 200) as f64;
        assert!((o.wire_bytes_per_payload_byte - want).abs() < 1e-9);
    }

    #[test]
    fn no_esp_from_the_sender_gives_no_header() {
        let clear = vec![
            build::ether(0x0800, &inner(0, Some(1400))),
            build::ether(0x0800, &inner(1388, None)),
        ];
        let theirs = vec![esp_frame("192.168.0.2", 1440)];
        let from = build::ip("192.168.0.1");
        assert_eq!(esp_header(&clear, &theirs, flow(), from), None);
        assert_eq!(esp_header(&clear, &[], flow(), from), None);
    }
}
