//! What verify keeps of each captured frame. Frames are dissected on the capture threads as
//! they arrive, so that only what judging needs outlives them: which probe a frame belongs to,
//! its dissected wire and next hop, and when the kernel captured it. The raw bytes are kept
//! only when pcap files are to be written. Memory then grows with probes, not with frames.
//!
//! Nor is every sighting of a probe kept: one that tells the judge nothing new at its point
//! (see `likeness`) is counted instead. Judging asks of a probe's sightings only which
//! shapes were seen where, with which next hop (each misfit is named once, with its points;
//! presence is "seen there at all"), so a repeat changes no verdict. The 13 steady-state pings
//! of a pair are alike but for their number: one of them proves the shape at each point, and
//! a frame of a different shape (a ping that leaks out of the tunnel) is kept, and fails the
//! pair. With `--pcap` every frame is kept, each with its own comment.

use super::id::{ProbeId, ProbeKind};
use super::judge::{Mac, Seen};
use super::transport::{self, Flow};
use crate::lab::point::PointId;
use crate::wire::dissect::{self, Wire, L4};
use rustc_hash::{FxHashMap, FxHasher};
use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// How one capture point's frames are read; one per point, handed to its capture thread.
#[derive(Debug, Clone)]
pub struct Observer {
    /// This run's id, which tells its probes from any other.
    pub run: u32,
    /// Pairs in the run: a tag naming a pair past this is not one of this run's probes.
    pub pairs: usize,
    /// The UDP ports read as VXLAN.
    pub vxlan_ports: Vec<u16>,
    /// Whether the point is a pod's own interface, where pods talk in plain: nothing there
    /// but probes is of interest.
    pub pod_point: bool,
    /// Keep every frame's bytes, for `--pcap`.
    pub keep_raw: bool,
    /// Skip what the point receives: a host's underlay in an IPsec lab, where the kernel hands
    /// each packet it decrypted in tunnel mode to the interface's taps a second time, in the
    /// clear, after the ESP it came in. A real leak still shows where it leaves its sender.
    pub outgoing_only: bool,
}

/// One frame as kept.
#[derive(Debug, Clone)]
pub struct Kept {
    /// When the kernel captured the frame.
    pub ts: Duration,
    /// What judging needs of it; `None` for a frame kept only for the pcap files.
    pub sighting: Option<Sighting>,
    /// The frame's bytes, with `--pcap`.
    pub raw: Option<Box<[u8]>>,
    /// How many times the point saw exactly this frame. A probe frame passes each point once,
    /// so a second copy is news: something on the way duplicated it.
    pub copies: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sighting {
    pub owner: Owner,
    /// The Ethernet destination as captured: the next hop the frame was sent to.
    pub dst_mac: Mac,
    pub wire: Wire,
}

/// Whose a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// An attempt of one of this run's probes, by its tag; and whether it is the reply.
    Probe { id: ProbeId, reply: bool },
    /// An untagged TCP segment (handshake, teardown) of a probe connection: its flow is
    /// matched to the probe once probing is done.
    Segment { flow: Flow, reply: bool },
    /// Pod traffic on the wire between nodes that no probe claims: kept for the leak check.
    Unclaimed,
}

/// Everything one point kept.
#[derive(Debug, Default)]
pub struct Observed {
    pub kept: Vec<Kept>,
    /// Frames the kernel copied to user space.
    pub copied: usize,
    pub undissectable: usize,
    /// Sightings counted rather than kept: each was like one kept at this point already.
    pub repeats: usize,
    /// Each kept sighting by the hash of its [`likeness`]: where to look for its twin.
    pub(super) kept_like: FxHashMap<u64, u32>,
}

impl Observed {
    /// Lets go of what only finding repeats needed, once no frame is to come.
    pub fn done(&mut self) {
        self.kept_like = FxHashMap::default();
    }

    /// Takes out what was kept of frames the kernel stamped at `ts` or later. Call it only
    /// once [`Observed::done`]: what finds repeats would point at the wrong frames after.
    /// Both parts are of their exact size: the capture grew the vector by doubling, and a
    /// batch's sightings, every point's slack with them, are held while the batch is judged.
    pub fn split_off_from(&mut self, ts: Duration) -> Vec<Kept> {
        debug_assert!(self.kept_like.is_empty(), "split before done");
        let all = std::mem::take(&mut self.kept);
        let later_count = all.iter().filter(|k| k.ts >= ts).count();
        let mut earlier = Vec::with_capacity(all.len() - later_count);
        let mut later = Vec::with_capacity(later_count);
        for kept in all {
            match kept.ts >= ts {
                true => later.push(kept),
                false => earlier.push(kept),
            }
        }
        self.kept = earlier;
        later
    }

    /// Keeps `sighting`, unless one like it is kept already: then it is only counted.
    fn keep(&mut self, ts: Duration, sighting: Sighting) {
        let (hash, twin) = {
            let like = likeness(&sighting);
            let mut hasher = FxHasher::default();
            like.hash(&mut hasher);
            let hash = hasher.finish();
            let twin = self.kept_like.get(&hash).and_then(|&i| {
                let kept = self.kept.get(i as usize)?.sighting.as_ref()?;
                (likeness(kept) == like).then_some((i as usize, *kept == sighting))
            });
            (hash, twin)
        };
        if let Some((i, exact)) = twin {
            self.repeats += 1;
            if exact {
                self.kept[i].copies += 1;
            }
            return;
        }
        // A hash shared by two unlike sightings keeps both; the later is the one found.
        self.kept_like.insert(hash, self.kept.len() as u32);
        self.kept.push(Kept {
            ts,
            sighting: Some(sighting),
            raw: None,
            copies: 1,
        });
    }
}

/// What the judge can learn from a sighting, for telling a repeat from news: the sighting
/// itself, except that a steady-state ping is any of its pair's steady pings (their number
/// is in the owner, the tag and the echo's identifier and sequence, and nowhere else). Only
/// those are copied: every captured frame is asked this.
fn likeness(s: &Sighting) -> Cow<'_, Sighting> {
    let Owner::Probe { id, reply } = s.owner else {
        return Cow::Borrowed(s);
    };
    if !matches!(id.kind, ProbeKind::Steady(_)) {
        return Cow::Borrowed(s);
    }
    let mut like = s.clone();
    like.owner = Owner::Probe {
        id: ProbeId::new(id.pair, ProbeKind::Steady(0)),
        reply,
    };
    // The outer UDP source port is the sending VTEP's hash of the inner flow, which the
    // echo's identifier is part of.
    if let Wire::Vxlan { src_port, .. } = &mut like.wire {
        *src_port = 0;
    }
    if let Some(L4::Echo { id, seq, tag, .. }) = innermost_l4(&mut like.wire) {
        (*id, *seq) = (0, 0);
        if let Some(tag) = tag {
            (tag.probe, tag.attempt) = (0, 0);
        }
    }
    Cow::Owned(like)
}

fn innermost_l4(wire: &mut Wire) -> Option<&mut L4> {
    match wire {
        Wire::Plain(ip) | Wire::Ipip { inner: ip, .. } => Some(&mut ip.l4),
        Wire::Vxlan { inner, .. } => inner.as_mut().map(|ip| &mut ip.l4),
        Wire::Arp(_) | Wire::Ndp(_) | Wire::Other(_) => None,
    }
}

impl Observer {
    /// Reads one frame and keeps what is needed of it.
    pub fn observe(&self, ts: Duration, data: &[u8], into: &mut Observed) {
        self.observe_cut(ts, data, 0, into)
    }

    /// Reads one frame of which the capture left out the last `cut` bytes (its snap length).
    pub fn observe_cut(&self, ts: Duration, data: &[u8], cut: usize, into: &mut Observed) {
        into.copied += 1;
        let sighting = match dissect::dissect_cut(data, cut, &self.vxlan_ports) {
            Ok(wire) => self.sighting(data, wire),
            Err(_) => {
                into.undissectable += 1;
                None
            }
        };
        if !self.keep_raw {
            if let Some(sighting) = sighting {
                into.keep(ts, sighting);
            }
            return;
        }
        let raw = Some(data.into());
        into.kept.push(Kept {
            ts,
            sighting,
            raw,
            copies: 1,
        });
    }

    fn sighting(&self, data: &[u8], wire: Wire) -> Option<Sighting> {
        let owner = match wire.tag() {
            Some((tag, reply)) => Owner::Probe {
                // Another run's probe is nobody's here.
                id: ProbeId::from_tag(tag, self.run).filter(|id| id.pair < self.pairs)?,
                reply,
            },
            None => match transport::segment_flow(&wire) {
                Some((flow, reply)) => Owner::Segment { flow, reply },
                // Pods talk in plain on their own interfaces: only the wire between nodes
                // is checked for leaks.
                None if !self.pod_point && matches!(wire, Wire::Plain(_) | Wire::Vxlan { .. }) => {
                    Owner::Unclaimed
                }
                None => return None,
            },
        };
        Some(Sighting {
            owner,
            dst_mac: data[..6].try_into().ok()?,
            wire,
        })
    }
}

/// Every probe's sightings, handed out probe by probe as judging asks for them: each
/// [`Seen`] is built from the frame the capture thread kept only then, so the run never holds
/// a second copy of every sighting.
pub struct Sightings {
    /// Each capture point's name and what it kept.
    points: Vec<(PointId, Observed)>,
    /// Per probe, where its sightings are: (point, frame) indices, in capture order.
    index: FxHashMap<ProbeId, Vec<(u32, u32)>>,
}

impl Sightings {
    /// Indexes every kept sighting under the probe `owner` names; returns also where the
    /// sightings that no probe owns are.
    pub fn new(
        points: Vec<(PointId, Observed)>,
        owner: impl Fn(&Sighting) -> Option<ProbeId>,
    ) -> (Sightings, Vec<(usize, usize)>) {
        let mut index: FxHashMap<ProbeId, Vec<(u32, u32)>> = FxHashMap::default();
        let mut unowned = Vec::new();
        for (p, (_, observed)) in points.iter().enumerate() {
            for (i, kept) in observed.kept.iter().enumerate() {
                let Some(s) = &kept.sighting else { continue };
                match owner(s) {
                    Some(id) => index.entry(id).or_default().push((p as u32, i as u32)),
                    None => unowned.push((p, i)),
                }
            }
        }
        (Sightings { points, index }, unowned)
    }

    /// Takes frame `frame` of point `point` out, with its point's name.
    pub fn take_frame(&mut self, point: usize, frame: usize) -> Option<(&PointId, Sighting)> {
        let (name, observed) = self.points.get_mut(point)?;
        let sighting = observed.kept.get_mut(frame)?.sighting.take()?;
        Some((&*name, sighting))
    }

    /// As [`Sightings::take_frame`], as the judge sees it: with when it was captured and how
    /// many copies of it came.
    fn take_seen(&mut self, point: usize, frame: usize) -> Option<Seen> {
        let (name, observed) = self.points.get_mut(point)?;
        let kept = observed.kept.get_mut(frame)?;
        let (ts, copies) = (kept.ts, kept.copies);
        let s = kept.sighting.take()?;
        let reply = match s.owner {
            Owner::Probe { reply, .. } | Owner::Segment { reply, .. } => reply,
            Owner::Unclaimed => return None,
        };
        Some(Seen {
            point: name.clone(),
            dst_mac: s.dst_mac,
            reply,
            wire: s.wire,
            copies,
            ts,
        })
    }

    /// Every sighting of probe `id`, taken out: a second call returns none.
    pub fn take(&mut self, id: &ProbeId) -> Vec<Seen> {
        let Some(at) = self.index.remove(id) else {
            return Vec::new();
        };
        // At most one sighting per index entry: sized once, where a filtered collect starts
        // from no capacity and grows by doubling.
        let mut seen = Vec::with_capacity(at.len());
        seen.extend(
            at.into_iter()
                .filter_map(|(point, frame)| self.take_seen(point as usize, frame as usize)),
        );
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::id::ProbeKind;
    use crate::wire::dissect::build::{plain, vxlan_frame};
    use crate::wire::dissect::Tag;

    const RUN: u32 = 0x1234_5678;

    fn observer(pod_point: bool, keep_raw: bool) -> Observer {
        Observer {
            run: RUN,
            pairs: 4,
            vxlan_ports: vec![8472, 4789],
            pod_point,
            keep_raw,
            outgoing_only: false,
        }
    }

    fn tag(id: ProbeId, run: u32) -> Tag {
        Tag {
            run,
            probe: id.emit(),
            attempt: id.attempt,
        }
    }

    #[test]
    fn a_probe_is_kept_as_its_id_and_wire_without_its_bytes() {
        let id = ProbeId::new(3, ProbeKind::FullSize).at(1);
        let frame = plain("172.16.0.2", "172.16.1.2", false, Some(tag(id, RUN)));
        let mut seen = Observed::default();
        observer(false, false).observe(Duration::from_nanos(7), &frame, &mut seen);
        assert_eq!(
            (seen.copied, seen.undissectable, seen.kept.len()),
            (1, 0, 1)
        );
        let kept = &seen.kept[0];
        assert_eq!(kept.ts, Duration::from_nanos(7));
        assert!(kept.raw.is_none());
        let s = kept.sighting.as_ref().unwrap();
        assert_eq!(s.owner, Owner::Probe { id, reply: false });
        assert_eq!(s.dst_mac, <[u8; 6]>::try_from(&frame[..6]).unwrap());
        assert_eq!(s.wire, dissect::dissect(&frame, &[8472]).unwrap());
    }

    #[test]
    fn another_run_s_probes_and_unknown_pairs_are_dropped_unless_pcap_wants_them() {
        let other_run = plain(
            "172.16.0.2",
            "172.16.1.2",
            false,
            Some(tag(ProbeId::new(0, ProbeKind::Ping), RUN ^ 1)),
        );
        let past_the_pairs = plain(
            "172.16.0.2",
            "172.16.1.2",
            false,
            Some(tag(ProbeId::new(4, ProbeKind::Ping), RUN)),
        );
        let mut seen = Observed::default();
        for frame in [&other_run, &past_the_pairs] {
            observer(false, false).observe(Duration::ZERO, frame, &mut seen);
        }
        assert_eq!((seen.copied, seen.kept.len()), (2, 0));
        observer(false, true).observe(Duration::ZERO, &other_run, &mut seen);
        assert_eq!(seen.kept.len(), 1);
        assert!(seen.kept[0].sighting.is_none());
        assert_eq!(seen.kept[0].raw.as_deref(), Some(&other_run[..]));
    }

    #[test]
    fn untagged_pod_traffic_is_kept_for_the_leak_check_only_between_nodes() {
        let leak = vxlan_frame(
            ("10.0.1.2", "10.0.2.2"),
            8472,
            1,
            ("172.16.0.2", "172.16.1.2"),
            false,
            None,
        );
        let mut seen = Observed::default();
        observer(true, false).observe(Duration::ZERO, &leak, &mut seen);
        assert!(seen.kept.is_empty());
        observer(false, false).observe(Duration::ZERO, &leak, &mut seen);
        assert_eq!(
            seen.kept[0].sighting.as_ref().unwrap().owner,
            Owner::Unclaimed
        );
    }

    #[test]
    fn a_frame_that_does_not_dissect_is_counted() {
        let mut seen = Observed::default();
        observer(false, false).observe(Duration::ZERO, &[0u8; 10], &mut seen);
        assert_eq!(
            (seen.copied, seen.undissectable, seen.kept.len()),
            (1, 1, 0)
        );
    }

    /// A steady ping `n` of pair 1 (or its reply), as the probe sends it: its number in the
    /// tag and in the echo's identifier and sequence; in VXLAN, or in plain when it leaks.
    fn steady_ping(n: u8, reply: bool, leak: bool) -> Vec<u8> {
        use crate::wire::dissect::build::{echo, ether, in_vxlan, ip, ipv4};
        let id = ProbeId::new(1, ProbeKind::Steady(n));
        let number = id.emit();
        let icmp = echo(
            reply,
            (number >> 16) as u16,
            number as u16,
            Some(tag(id, RUN)),
        );
        let (s, d) = match reply {
            false => ("172.16.0.2", "172.16.1.2"),
            true => ("172.16.1.2", "172.16.0.2"),
        };
        let inner = ipv4(ip(s), ip(d), 1, &icmp);
        match (leak, reply) {
            (true, _) => ether(0x0800, &inner),
            (false, false) => in_vxlan(("10.0.1.2", "10.0.2.2"), &inner),
            (false, true) => in_vxlan(("10.0.2.2", "10.0.1.2"), &inner),
        }
    }

    #[test]
    fn alike_steady_pings_are_counted_and_one_of_another_shape_is_kept() {
        let o = observer(false, false);
        let mut seen = Observed::default();
        for n in 0..13 {
            for reply in [false, true] {
                o.observe(Duration::ZERO, &steady_ping(n, reply, n == 7), &mut seen);
            }
        }
        // The request and the reply in VXLAN, and each in plain from ping 7.
        assert_eq!((seen.copied, seen.kept.len(), seen.repeats), (26, 4, 22));
        let plain_kept = seen
            .kept
            .iter()
            .filter_map(|k| k.sighting.as_ref())
            .filter(|s| matches!(s.wire, Wire::Plain(_)))
            .count();
        assert_eq!(plain_kept, 2);
        // Another pair's pings, or a first contact, are not the same news.
        let other_pair = plain(
            "172.16.0.2",
            "172.16.1.2",
            false,
            Some(tag(ProbeId::new(2, ProbeKind::Steady(0)), RUN)),
        );
        o.observe(Duration::ZERO, &other_pair, &mut seen);
        assert_eq!(seen.kept.len(), 5);
        // Exactly the same frame again tells nothing new, whatever probe it is.
        o.observe(Duration::ZERO, &other_pair, &mut seen);
        assert_eq!((seen.kept.len(), seen.repeats), (5, 23));
    }

    #[test]
    fn with_pcap_every_frame_is_kept() {
        let mut seen = Observed::default();
        for n in 0..13 {
            observer(false, true).observe(Duration::ZERO, &steady_ping(n, false, false), &mut seen);
        }
        assert_eq!((seen.kept.len(), seen.repeats), (13, 0));
        assert!(seen
            .kept
            .iter()
            .all(|k| k.raw.is_some() && k.sighting.is_some()));
    }

    /// The pair's verdict from its steady pings as the capture kept them.
    fn judged(frames: &[(&str, Vec<u8>)], keep_raw: bool) -> crate::verify::judge::PairVerdict {
        use crate::lab::{Encap, VxlanParams};
        use crate::verify::judge::{judge_pair, Outcome, PairPlan, ProbeResult};
        let o = observer(false, keep_raw);
        let mut points: Vec<(PointId, Observed)> = Vec::new();
        for (point, frame) in frames {
            let point = PointId::from(*point);
            let at = match points.iter().position(|(p, _)| *p == point) {
                Some(at) => at,
                None => {
                    points.push((point, Observed::default()));
                    points.len() - 1
                }
            };
            o.observe(Duration::ZERO, frame, &mut points[at].1);
        }
        let (mut seen, _) = Sightings::new(points, |s| match s.owner {
            Owner::Probe { id, .. } => Some(id.probe()),
            _ => None,
        });
        let reply = Outcome::Reply {
            rtt: Duration::from_micros(80),
            attempts: 1,
        };
        let steady: Vec<ProbeResult> = (0..13)
            .map(|n| ProbeResult {
                outcome: reply.clone(),
                seen: seen.take(&ProbeId::new(1, ProbeKind::Steady(n))),
            })
            .collect();
        let plan = PairPlan {
            encap: Encap::Vxlan(VxlanParams { vni: 1, port: 4789 }),
            family: crate::family::Family::Ipv4,
            src_pod: "172.16.0.2".parse().unwrap(),
            dst_pod: "172.16.1.2".parse().unwrap(),
            src_host: "10.0.1.2".parse().unwrap(),
            dst_host: "10.0.2.2".parse().unwrap(),
            src_point: "host1-eth1".into(),
            dst_point: "host2-eth1".into(),
            src_pod_point: "pod1-eth1".into(),
            dst_pod_point: "pod2-eth1".into(),
            siblings: vec![],
            mtu: 1450,
            max_loss: 0.0,
            flood: Default::default(),
            host_macs: Default::default(),
            host_names: ("host1".into(), "host2".into()),
        };
        // The first contacts are not what this is about: the steady pings stand in for them.
        let first = ProbeResult {
            outcome: reply,
            seen: steady.iter().flat_map(|r| r.seen.clone()).collect(),
        };
        judge_pair(&plan, &first, &first, &steady)
    }

    #[test]
    fn counting_repeats_changes_no_verdict() {
        let frames = |leaking: Option<u8>| -> Vec<(&str, Vec<u8>)> {
            (0..13)
                .flat_map(|n| {
                    let leak = leaking == Some(n);
                    [
                        ("pod1-eth1", steady_ping(n, false, true)),
                        ("host1-eth1", steady_ping(n, false, leak)),
                        ("host2-eth1", steady_ping(n, false, leak)),
                        ("pod2-eth1", steady_ping(n, false, true)),
                        ("pod2-eth1", steady_ping(n, true, true)),
                        ("host2-eth1", steady_ping(n, true, leak)),
                        ("host1-eth1", steady_ping(n, true, leak)),
                        ("pod1-eth1", steady_ping(n, true, true)),
                    ]
                })
                .collect()
        };
        for leaking in [None, Some(0), Some(5), Some(12)] {
            let (all, counted) = (
                judged(&frames(leaking), true),
                judged(&frames(leaking), false),
            );
            assert_eq!(counted.passed(), leaking.is_none(), "{:?}", counted.texts());
            assert_eq!(
                (all.passed(), &all.texts(), &all.wire),
                (counted.passed(), &counted.texts(), &counted.wire)
            );
        }
    }

    #[test]
    fn sightings_are_handed_out_once_per_probe_in_capture_order() {
        let ping = ProbeId::new(1, ProbeKind::Ping);
        let frame =
            |reply, id: ProbeId| plain("172.16.0.2", "172.16.1.2", reply, Some(tag(id, RUN)));
        let mut host = Observed::default();
        let mut pod = Observed::default();
        let o = observer(false, false);
        o.observe(Duration::ZERO, &frame(false, ping.at(1)), &mut host);
        o.observe(Duration::ZERO, &frame(true, ping.at(1)), &mut pod);
        o.observe(
            Duration::ZERO,
            &frame(false, ProbeId::new(2, ProbeKind::Ping)),
            &mut host,
        );
        let points = vec![
            (PointId::from("host1-eth1"), host),
            (PointId::from("pod2-eth1"), pod),
        ];
        let owner = |s: &Sighting| match s.owner {
            Owner::Probe { id, .. } if id.pair == 1 => Some(id.probe()),
            _ => None,
        };
        let (mut seen, unowned) = Sightings::new(points, owner);
        assert_eq!(unowned, [(0, 1)]);
        let got = seen.take(&ping);
        let at: Vec<(String, bool)> = got.iter().map(|s| (s.point.to_string(), s.reply)).collect();
        assert_eq!(
            at,
            [("host1-eth1".into(), false), ("pod2-eth1".into(), true)]
        );
        assert!(seen.take(&ping).is_empty());
        assert!(seen.take_frame(0, 1).is_some());
        assert!(seen.take_frame(0, 1).is_none());
    }

    /// Every sighting a batch keeps is as large as the largest frame shape the dissector
    /// knows, and a 254-host run keeps millions: the rare shapes (ICMP errors' quotes, ARP
    /// and NDP inside VXLAN, the raw bytes of --pcap) are boxed so that they do not set it.
    #[test]
    fn a_kept_frame_stays_within_216_bytes() {
        assert!(
            std::mem::size_of::<Kept>() <= 216,
            "a kept frame takes {} bytes",
            std::mem::size_of::<Kept>()
        );
    }
}
