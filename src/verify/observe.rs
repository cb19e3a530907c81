//! What verify keeps of each captured frame. Frames are dissected on the capture threads as
//! they arrive, so that only what judging needs outlives them: which probe a frame belongs to,
//! its dissected wire and next hop, and when the kernel captured it. The raw bytes are kept
//! only when pcap files are to be written. Memory then grows with probes, not with frames.

use super::dissect::{self, Wire};
use super::id::ProbeId;
use super::judge::{Mac, Seen};
use super::transport::{self, Flow};
use std::collections::HashMap;
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
}

/// One frame as kept.
#[derive(Debug, Clone)]
pub struct Kept {
    /// When the kernel captured the frame.
    pub ts: Duration,
    /// What judging needs of it; `None` for a frame kept only for the pcap files.
    pub sighting: Option<Sighting>,
    /// The frame's bytes, with `--pcap`.
    pub raw: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Sighting {
    pub owner: Owner,
    /// The Ethernet destination as captured: the next hop the frame was sent to.
    pub dst_mac: Mac,
    pub wire: Wire,
}

/// Whose a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl Observer {
    /// Reads one frame and keeps what is needed of it.
    pub fn observe(&self, ts: Duration, data: &[u8], into: &mut Observed) {
        into.copied += 1;
        let sighting = match dissect::dissect(data, &self.vxlan_ports) {
            Ok(wire) => self.sighting(data, wire),
            Err(_) => {
                into.undissectable += 1;
                None
            }
        };
        let raw = self.keep_raw.then(|| data.to_vec());
        if sighting.is_some() || raw.is_some() {
            into.kept.push(Kept { ts, sighting, raw });
        }
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
    points: Vec<(String, Observed)>,
    /// Per probe, where its sightings are: (point, frame) indices, in capture order.
    index: HashMap<ProbeId, Vec<(u32, u32)>>,
}

impl Sightings {
    /// Indexes every kept sighting under the probe `owner` names; returns also where the
    /// sightings that no probe owns are.
    pub fn new(
        points: Vec<(String, Observed)>,
        owner: impl Fn(&Sighting) -> Option<ProbeId>,
    ) -> (Sightings, Vec<(usize, usize)>) {
        let mut index: HashMap<ProbeId, Vec<(u32, u32)>> = HashMap::new();
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
    pub fn take_frame(&mut self, point: usize, frame: usize) -> Option<(&str, Sighting)> {
        let (name, observed) = self.points.get_mut(point)?;
        let sighting = observed.kept.get_mut(frame)?.sighting.take()?;
        Some((name.as_str(), sighting))
    }

    /// Every sighting of probe `id`, taken out: a second call returns none.
    pub fn take(&mut self, id: &ProbeId) -> Vec<Seen> {
        let Some(at) = self.index.remove(id) else {
            return Vec::new();
        };
        at.into_iter()
            .filter_map(|(point, frame)| {
                let (name, s) = self.take_frame(point as usize, frame as usize)?;
                let reply = match s.owner {
                    Owner::Probe { reply, .. } | Owner::Segment { reply, .. } => reply,
                    Owner::Unclaimed => return None,
                };
                Some(Seen {
                    point: name.to_string(),
                    dst_mac: s.dst_mac,
                    reply,
                    wire: s.wire,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::dissect::build::{plain, vxlan_frame};
    use crate::verify::dissect::Tag;
    use crate::verify::id::ProbeKind;

    const RUN: u32 = 0x1234_5678;

    fn observer(pod_point: bool, keep_raw: bool) -> Observer {
        Observer {
            run: RUN,
            pairs: 4,
            vxlan_ports: vec![8472, 4789],
            pod_point,
            keep_raw,
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
            ("host1-eth1".to_string(), host),
            ("pod2-eth1".to_string(), pod),
        ];
        let owner = |s: &Sighting| match s.owner {
            Owner::Probe { id, .. } if id.pair == 1 => Some(id.probe()),
            _ => None,
        };
        let (mut seen, unowned) = Sightings::new(points, owner);
        assert_eq!(unowned, [(0, 1)]);
        let got = seen.take(&ping);
        let at: Vec<(&str, bool)> = got.iter().map(|s| (s.point.as_str(), s.reply)).collect();
        assert_eq!(at, [("host1-eth1", false), ("pod2-eth1", true)]);
        assert!(seen.take(&ping).is_empty());
        assert!(seen.take_frame(0, 1).is_some());
        assert!(seen.take_frame(0, 1).is_none());
    }
}
