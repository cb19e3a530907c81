//! Proof that an encrypted lab's pod traffic crosses hosts sealed, pair by pair:
//! - no leak: no frame on an underlay or router interface carries a pair's pod addresses in a
//!   header, outer or inner, nor a probe's tag in clear bytes (every probe, every attempt,
//!   both directions);
//! - the tunnel: while the pair's probes ran, WireGuard transport data went between its two
//!   hosts on the planned port, both ways, seen at both hosts' underlay interfaces;
//! - plaintext at both ends: the tag in the clear on both pods (the ordinary presence check,
//!   which stays for pod points while the underlay's is dropped).
//!
//! The leak and tunnel checks read a capture of their own on the underlay and router points,
//! [`Watch`], that keeps every IPv4 frame: the probe filter ([`super::bpf`]) passes only
//! tagged frames, and a sealed packet carries no tag. Judging is pure; [`Watch`] and
//! [`super::wg_state`] do the I/O.

use super::capture::{CaptureError, CapturePoint};
use super::judge::{PairPlan, ProbeResult, Seen};
use super::reason::{Direction, LeakSign, ProbeName, Reason};
use crate::lab::point::{PointId, Role};
use crate::lab::wireguard::LabWireguard;
use crate::lab::LabHost;
use crate::sys::packet_ring::RingSize;
use crate::sys::packet_socket::{self, PacketSocket, Readers};
use crate::wire::sealed::Seal;
use std::net::Ipv4Addr;
use std::time::Duration;

/// How much of each frame the watch keeps: every header down to an inner transport header
/// in IPIP or VXLAN, and a WireGuard data header.
const SNAP: usize = 160;
const DRAIN_LIMIT: Duration = Duration::from_millis(300);

/// Whether a point is between nodes, where an encrypted lab's pod traffic must be sealed.
pub fn between_nodes(point: &PointId) -> bool {
    matches!(point.role, Some(Role::HostUnderlay | Role::Router))
}

/// A frame the watch kept: its point (an index into [`Watched::points`]), time and bytes.
#[derive(Debug, Clone)]
pub struct Frame {
    pub point: usize,
    pub ts: Duration,
    pub data: Vec<u8>,
}

/// What the watch saw, once stopped.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    pub points: Vec<PointId>,
    pub frames: Vec<Frame>,
}

/// The capture on every point between nodes, running until [`Watch::stop`].
pub struct Watch {
    points: Vec<PointId>,
    readers: Readers<Vec<Frame>>,
}

impl Watch {
    /// `in_place(point)`: whether the point's taps see each packet the host decrypted again in
    /// the clear (IPsec in tunnel mode): there, what comes in is kept only sealed.
    pub fn start(
        points: &[CapturePoint],
        in_place: impl Fn(&PointId) -> bool,
    ) -> Result<Watch, CaptureError> {
        let between: Vec<&CapturePoint> = points.iter().filter(|p| between_nodes(&p.id)).collect();
        let in_place: Vec<bool> = between.iter().map(|p| in_place(&p.id)).collect();
        let filter = ipv4_only(SNAP as u32);
        let sockets = packet_socket::open_all(&between, |p| {
            super::capture::open_filtered(p, &filter, RingSize::PROBES)
        })?;
        let readers = packet_socket::start(sockets, move |i, socket: PacketSocket, stop| {
            let mut frames = Vec::new();
            let decrypted = |f: &packet_socket::Frame| {
                in_place[i] && !f.outgoing && crate::wire::sealed(f.data).is_none()
            };
            // A socket that fails ends its own reading; what it kept so far is judged.
            let _ = socket.read_until(stop, DRAIN_LIMIT, |f| {
                if decrypted(&f) {
                    return;
                }
                let data = f.data[..f.data.len().min(SNAP)].to_vec();
                frames.push(Frame {
                    point: i,
                    ts: f.ts,
                    data,
                });
            });
            frames
        })
        .map_err(CaptureError::Start)?;
        Ok(Watch {
            points: between.iter().map(|p| p.id.clone()).collect(),
            readers,
        })
    }

    pub fn stop(self) -> Watched {
        let mut frames: Vec<Frame> = self.readers.stop().into_iter().flatten().collect();
        frames.sort_by_key(|f| f.ts);
        Watched {
            points: self.points,
            frames,
        }
    }
}

/// A classic BPF program that keeps the first `snap` bytes of every IPv4 frame (ldh [12];
/// jeq #0x800; ret #snap; ret #0).
fn ipv4_only(snap: u32) -> Vec<libc::sock_filter> {
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    vec![
        op(0x28, 0, 0, 12),
        op(0x15, 0, 1, 0x0800),
        op(0x06, 0, 0, snap),
        op(0x06, 0, 0, 0),
    ]
}

/// How long after its last unanswered request a pair's sealed frames are looked for.
const UNANSWERED: Duration = Duration::from_secs(1);

/// When a pair's probes were out: from its first request to its last reply (or a while after
/// its last request, where none was answered), as the sending pod saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Duration,
    pub to: Duration,
}

pub fn window<'a>(
    plan: &PairPlan,
    probes: impl Iterator<Item = &'a ProbeResult>,
) -> Option<Window> {
    let at_sender: Vec<&Seen> = probes
        .flat_map(|p| &p.seen)
        .filter(|s| s.point == plan.src_pod_point)
        .collect();
    let requests = at_sender.iter().filter(|s| !s.reply).map(|s| s.ts);
    let from = requests.clone().min()?;
    // Unanswered, the requests still crossed (or not) sealed: a one-way fault, such as a
    // receiver that cannot decrypt, is judged on them.
    let to = match at_sender.iter().filter(|s| s.reply).map(|s| s.ts).max() {
        Some(to) => to,
        None => requests.max()? + UNANSWERED,
    };
    (from <= to).then_some(Window { from, to })
}

/// The main judge's reasons, made right for a sealed lab: a tagged frame between nodes is a
/// leak, and a frame missing there is what sealing means.
pub fn rejudge(names: (&str, &str), probes: &[&ProbeResult], reasons: &mut Vec<Reason>) {
    reasons.retain(|r| !matches!(r, Reason::NotSeen { point, .. } if between_nodes(point)));
    for seen in probes.iter().flat_map(|p| &p.seen) {
        if between_nodes(&seen.point) {
            push_leak(reasons, names, seen.reply, &seen.point, LeakSign::Tag);
        }
    }
}

/// One leak reason per direction and point.
fn push_leak(
    reasons: &mut Vec<Reason>,
    (a, b): (&str, &str),
    reply: bool,
    point: &PointId,
    sign: LeakSign,
) {
    let (sender, receiver) = if reply { (b, a) } else { (a, b) };
    let known = reasons.iter().any(
        |r| matches!(r, Reason::Leak { sender: s, point: p, .. } if s == sender && p == point),
    );
    if !known {
        reasons.push(Reason::Leak {
            sender: sender.to_string(),
            receiver: receiver.to_string(),
            point: point.clone(),
            sign,
        });
    }
}

/// Frames between nodes with the pair's pod addresses in a header, outer or inner.
pub fn address_leaks(plan: &PairPlan, names: (&str, &str), watched: &Watched) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for frame in &watched.frames {
        let Some((src, dst)) = pod_addresses(&frame.data) else {
            continue;
        };
        let reply = match (src, dst) {
            (s, d) if (s.into(), d.into()) == (plan.src_pod, plan.dst_pod) => false,
            (s, d) if (s.into(), d.into()) == (plan.dst_pod, plan.src_pod) => true,
            _ => continue,
        };
        let point = &watched.points[frame.point];
        push_leak(
            &mut reasons,
            names,
            reply,
            point,
            LeakSign::Addresses { src, dst },
        );
    }
    reasons
}

/// The innermost IPv4 addresses of a frame, whatever wraps them (plain, IPIP, VXLAN on the
/// usual ports).
fn pod_addresses(frame: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let ports = [
        crate::wire::encap::VXLAN_PORT,
        crate::plan::FLANNEL_VXLAN_PORT,
    ];
    let wire = crate::wire::dissect(frame, &ports).ok()?;
    let ip = wire.innermost()?;
    // An encrypted lab carries IPv4 only: an IPv6 packet is not this pair's.
    match (ip.src, ip.dst) {
        (std::net::IpAddr::V4(src), std::net::IpAddr::V4(dst)) => Some((src, dst)),
        _ => None,
    }
}

/// Where a pair's sealed frames cross: its two hosts' underlay interfaces and addresses,
/// the sender's first. The pair's plan may judge the mode's shape elsewhere (inside the tunnel,
/// [`crate::lab::Lab::shape_point`]); the seal is always on the underlay.
#[derive(Debug, Clone)]
pub struct Ends {
    pub points: (PointId, PointId),
    pub hosts: (Ipv4Addr, Ipv4Addr),
}

impl Ends {
    /// The two hosts' ends, where both have IPv4 (every encrypted lab's hosts do: the loader
    /// refuses one without).
    pub fn of(a: &LabHost, b: &LabHost) -> Option<Ends> {
        let point = |h: &LabHost| PointId::with_role(&h.node, &h.underlay_if, Role::HostUnderlay);
        Some(Ends {
            points: (point(a), point(b)),
            hosts: (a.underlay_ip?, b.underlay_ip?),
        })
    }
}

/// The pair's probes crossed as WireGuard transport data between its hosts, or as ESP with the
/// SPI each host sends (`esp`: the request's and the reply's, in an IPsec lab), both ways, at
/// both hosts' underlay interfaces (`ends`), while they were out.
pub fn tunnel_reasons(
    plan: &PairPlan,
    ends: &Ends,
    wg: &LabWireguard,
    esp: Option<(u32, u32)>,
    window: Window,
    watched: &Watched,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for reply in [false, true] {
        let (from, to) = if reply {
            (ends.hosts.1, ends.hosts.0)
        } else {
            ends.hosts
        };
        let (from_name, to_name) = if reply {
            (&plan.host_names.1, &plan.host_names.0)
        } else {
            (&plan.host_names.0, &plan.host_names.1)
        };
        for point in [&ends.points.0, &ends.points.1] {
            let seals = seals_at(watched, point, (from, to), window);
            let names = (from_name, to_name);
            let spi = esp.map(|(request, back)| if reply { back } else { request });
            reasons.extend(seal_reason(&seals, (wg.port, spi), point, names, reply));
        }
    }
    if let Some(r) = esp.and_then(|(spi, _)| unanswered(plan, spi, &reasons)) {
        reasons.insert(0, r);
    }
    reasons
}

/// In an IPsec lab, where the only reasons are the reply's, unsealed at both points: the
/// request reached the receiver as planned ESP (`spi`), and nothing came back.
fn unanswered(plan: &PairPlan, spi: u32, reasons: &[Reason]) -> Option<Reason> {
    let reply_unsealed = |r: &Reason| matches!(r, Reason::NotSealed { direction, .. } if *direction == Direction::Reply);
    (reasons.len() == 2 && reasons.iter().all(reply_unsealed)).then(|| {
        let (from_host, to_host) = plan.host_names.clone();
        Reason::EspUnanswered {
            from_host,
            to_host,
            spi,
        }
    })
}

/// What is wrong with the seals seen one way at a point: none is the planned one.
fn seal_reason(
    seals: &[Seal],
    (port, esp_spi): (u16, Option<u32>),
    point: &PointId,
    (from_host, to_host): (&String, &String),
    reply: bool,
) -> Option<Reason> {
    let planned = |s: &Seal| match (esp_spi, s) {
        (Some(want), Seal::Esp { spi, .. }) => *spi == want,
        (
            None,
            Seal::Wireguard {
                dst_port, message, ..
            },
        ) => *dst_port == port && message.is_transport(),
        _ => false,
    };
    if seals.iter().any(planned) {
        return None;
    }
    let wrong_spi = seals.iter().find_map(|s| match s {
        Seal::Esp { spi, .. } => Some(*spi),
        _ => None,
    });
    if let (Some(planned), Some(seen)) = (esp_spi, wrong_spi) {
        return Some(Reason::WrongSpi {
            from_host: from_host.clone(),
            to_host: to_host.clone(),
            point: point.clone(),
            seen,
            planned,
        });
    }
    Some(Reason::NotSealed {
        probe: ProbeName::Ping,
        direction: Direction::of(reply),
        from_host: from_host.clone(),
        to_host: to_host.clone(),
        point: point.clone(),
        port,
        esp_spi,
    })
}

/// The seals of the packets from `from` to `to` at `point` while the probes were out.
fn seals_at(
    watched: &Watched,
    point: &PointId,
    (from, to): (Ipv4Addr, Ipv4Addr),
    window: Window,
) -> Vec<Seal> {
    let Some(at) = watched.points.iter().position(|p| p == point) else {
        return Vec::new();
    };
    watched
        .frames
        .iter()
        .filter(|f| f.point == at && f.ts >= window.from && f.ts <= window.to)
        .filter_map(|f| crate::wire::sealed(&f.data))
        .filter(|s| (s.src, s.dst) == (from, to))
        .map(|s| s.seal)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::judge::Outcome;
    use crate::wire::dissect::build::{ether, ipv4, plain, udp};
    use crate::wire::dissect::{dissect, Tag};

    fn v4(ip: std::net::IpAddr) -> std::net::Ipv4Addr {
        crate::wire::v4(ip).expect("an IPv4 lab")
    }

    fn ends(p: &PairPlan) -> Ends {
        Ends {
            points: (p.src_point.clone(), p.dst_point.clone()),
            hosts: (v4(p.src_host), v4(p.dst_host)),
        }
    }

    fn plan() -> PairPlan {
        PairPlan {
            encap: crate::lab::Encap::Plain,
            family: crate::family::Family::Ipv4,
            src_pod: "10.0.1.2".parse().unwrap(),
            dst_pod: "10.0.2.2".parse().unwrap(),
            src_host: "192.168.0.50".parse().unwrap(),
            dst_host: "192.168.0.100".parse().unwrap(),
            src_point: PointId::with_role("host1", "eth1", Role::HostUnderlay),
            dst_point: PointId::with_role("host2", "eth1", Role::HostUnderlay),
            src_pod_point: PointId::with_role("pod1", "eth1", Role::Pod),
            dst_pod_point: PointId::with_role("pod2", "eth1", Role::Pod),
            siblings: vec![],
            mtu: 1420,
            max_loss: 0.0,
            flood: Default::default(),
            host_macs: Default::default(),
            host_names: ("host1".into(), "host2".into()),
        }
    }

    const TAG: Tag = Tag {
        run: 9,
        probe: 0,
        attempt: 0,
    };

    fn seen(point: &PointId, reply: bool, ms: u64) -> Seen {
        let (s, d) = if reply {
            ("10.0.2.2", "10.0.1.2")
        } else {
            ("10.0.1.2", "10.0.2.2")
        };
        Seen {
            point: point.clone(),
            dst_mac: [0; 6],
            reply,
            wire: dissect(&plain(s, d, reply, Some(TAG)), &[]).unwrap(),
            copies: 1,
            ts: Duration::from_millis(ms),
        }
    }

    fn wg_data(from: &str, to: &str) -> Vec<u8> {
        let mut msg = vec![0u8; 16 + 112];
        msg[0] = 4;
        let (a, b) = (from.parse().unwrap(), to.parse().unwrap());
        ether(0x0800, &ipv4(a, b, 17, &udp(51820, 51820, &msg)))
    }

    fn wg() -> LabWireguard {
        LabWireguard {
            ipsec_key: None,
            dev: "flannel-wg".into(),
            port: 51820,
            route: None,
            table: None,
        }
    }

    fn watched(frames: Vec<(usize, u64, Vec<u8>)>) -> Watched {
        let p = plan();
        Watched {
            points: vec![p.src_point.clone(), p.dst_point.clone()],
            frames: frames
                .into_iter()
                .map(|(point, ms, data)| Frame {
                    point,
                    ts: Duration::from_millis(ms),
                    data,
                })
                .collect(),
        }
    }

    fn ping(seen: Vec<Seen>) -> ProbeResult {
        ProbeResult {
            outcome: Outcome::NoReply { attempts: 1 },
            seen,
        }
    }

    #[test]
    fn a_tagged_frame_on_an_underlay_is_a_leak_and_underlay_absence_is_no_fault() {
        let p = plan();
        let probe = ping(vec![
            seen(&p.src_pod_point, false, 1),
            seen(&p.src_point, false, 2),
        ]);
        let mut reasons = vec![Reason::NotSeen {
            probe: ProbeName::Ping,
            direction: Direction::Reply,
            point: p.dst_point.clone(),
        }];
        rejudge(("pod1", "pod2"), &[&probe], &mut reasons);
        let texts: Vec<String> = reasons.iter().map(Reason::to_string).collect();
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(
            texts[0].starts_with("leak: pod1 → pod2 crossed host1-eth1"),
            "{}",
            texts[0]
        );
    }

    #[test]
    fn the_window_runs_from_the_first_request_to_the_last_reply_at_the_sender() {
        let p = plan();
        let probe = ping(vec![
            seen(&p.src_pod_point, false, 10),
            seen(&p.dst_pod_point, false, 11),
            seen(&p.src_pod_point, true, 14),
        ]);
        assert_eq!(
            window(&p, [&probe].into_iter()),
            Some(Window {
                from: Duration::from_millis(10),
                to: Duration::from_millis(14)
            })
        );
        assert_eq!(window(&p, [&ping(vec![])].into_iter()), None);
    }

    #[test]
    fn wireguard_data_both_ways_at_both_hosts_proves_the_tunnel() {
        let (p, w) = (
            plan(),
            Window {
                from: Duration::from_millis(10),
                to: Duration::from_millis(20),
            },
        );
        let (a, b) = ("192.168.0.50", "192.168.0.100");
        let all = watched(vec![
            (0, 11, wg_data(a, b)),
            (1, 12, wg_data(a, b)),
            (1, 13, wg_data(b, a)),
            (0, 14, wg_data(b, a)),
        ]);
        assert!(tunnel_reasons(&p, &ends(&p), &wg(), None, w, &all).is_empty());
        // The reply, outside the window, proves nothing: the request alone crossed sealed.
        let late = watched(vec![
            (0, 11, wg_data(a, b)),
            (1, 12, wg_data(a, b)),
            (1, 30, wg_data(b, a)),
            (0, 31, wg_data(b, a)),
        ]);
        let reasons = tunnel_reasons(&p, &ends(&p), &wg(), None, w, &late);
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].to_string().contains(
            "reply from host2 to host1 not seen as WireGuard transport data on UDP 51820"
        ));
    }

    fn esp(from: &str, to: &str, spi: u32) -> Vec<u8> {
        let mut body = vec![0u8; 8 + 64];
        body[..4].copy_from_slice(&spi.to_be_bytes());
        body[7] = 1;
        let (a, b) = (from.parse().unwrap(), to.parse().unwrap());
        ether(0x0800, &ipv4(a, b, crate::wire::sealed::PROTO_ESP, &body))
    }

    #[test]
    fn esp_with_the_planned_spi_proves_the_tunnel_and_another_spi_is_named() {
        let (p, w) = (
            plan(),
            Window {
                from: Duration::from_millis(10),
                to: Duration::from_millis(20),
            },
        );
        let ipsec = LabWireguard {
            ipsec_key: Some(3),
            dev: String::new(),
            port: 0,
            route: None,
            table: None,
        };
        let (a, b) = ("192.168.0.50", "192.168.0.100");
        let frames = |spi_back: u32| {
            watched(vec![
                (0, 11, esp(a, b, 0x103)),
                (1, 12, esp(a, b, 0x103)),
                (1, 13, esp(b, a, spi_back)),
                (0, 14, esp(b, a, spi_back)),
            ])
        };
        let both = Some((0x103, 0x203));
        assert!(tunnel_reasons(&p, &ends(&p), &ipsec, both, w, &frames(0x203)).is_empty());
        let texts: Vec<String> = tunnel_reasons(&p, &ends(&p), &ipsec, both, w, &frames(0x103))
            .iter()
            .map(Reason::to_string)
            .collect();
        assert_eq!(
            texts,
            [
                "ESP SPI 0x103 not the planned 0x203 from host2 to host1 at host1-eth1 (host underlay)",
                "ESP SPI 0x103 not the planned 0x203 from host2 to host1 at host2-eth1 (host underlay)",
            ]
        );
        // The request crossed as planned and nothing came back: the receiver is named.
        let one_way = watched(vec![(0, 11, esp(a, b, 0x103)), (1, 12, esp(a, b, 0x103))]);
        let reasons = tunnel_reasons(&p, &ends(&p), &ipsec, both, w, &one_way);
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0]
            .to_string()
            .starts_with("host2 got host1's ESP (SPI 0x103) and sent nothing back sealed"));
        // WireGuard where ESP is planned is not the tunnel either.
        let wrong_kind = watched(vec![(0, 11, wg_data(a, b))]);
        let reasons = tunnel_reasons(&p, &ends(&p), &ipsec, Some((0x103, 0x203)), w, &wrong_kind);
        assert!(reasons[0]
            .to_string()
            .starts_with("ping request from host1 to host2 not seen as ESP with SPI 0x103"));
    }

    #[test]
    fn pod_addresses_between_nodes_are_a_leak_and_sealed_frames_are_not() {
        let p = plan();
        let clear = ether(
            0x0800,
            &ipv4(
                "10.0.2.2".parse().unwrap(),
                "10.0.1.2".parse().unwrap(),
                1,
                &[8, 0, 0, 0, 0, 0, 0, 0],
            ),
        );
        let w = watched(vec![
            (1, 5, clear),
            (0, 6, wg_data("192.168.0.50", "192.168.0.100")),
        ]);
        let reasons = address_leaks(&p, ("pod1", "pod2"), &w);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0]
            .to_string()
            .starts_with("leak: pod2 → pod1 crossed host2-eth1"));
    }
}
