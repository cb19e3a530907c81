//! How many copies of a probe frame went where. A probe frame reaches its receiver once; a
//! second copy there means something on the way duplicated it (iputils ping's "+1
//! duplicates"), which verify names with the place the copy was made. A copy at a pod that is
//! not of the pair is the pod bridge flooding a unicast frame whose destination MAC it has not
//! learnt (or has aged out): the bridge's design, and harmless as long as that pod neither
//! forwards nor answers it.

use super::judge::{PairPlan, ProbeResult, Seen};
use super::reason::{Direction, ProbeName, Reason};
use crate::lab::point::{PointId, Role};
use crate::wire::dissect::Tag;
use std::collections::BTreeMap;

/// A reason for each direction of each probe whose receiver got a frame more than once.
pub fn duplicates(plan: &PairPlan, probes: &[(&ProbeResult, ProbeName)]) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for &(result, probe) in probes {
        for reply in [false, true] {
            let receiver = receiving_pod(plan, reply);
            let counts = counts_by_point(result, reply);
            let at_receiver = counts.get(receiver).map_or(0, |c| c.copies);
            if at_receiver < 2 {
                continue;
            }
            reasons.push(Reason::Duplicated {
                probe,
                direction: Direction::of(reply),
                point: receiver.clone(),
                copies: at_receiver,
                made_at: first_doubled(&counts),
            });
        }
    }
    reasons
}

/// Whether `seen` is a copy that a pod bridge flooded to a pod of the pair's hosts that is not
/// of the pair: at such a pod, and exactly the frame (shape and next hop) that the pair's own
/// receiver got. A frame that pod forwards or answers differs from it, and stays a fault.
pub fn flooded_to_sibling(plan: &PairPlan, seen: &Seen, reply: bool, result: &ProbeResult) -> bool {
    if !plan.siblings.contains(&seen.point) {
        return false;
    }
    let receiver = receiving_pod(plan, reply);
    result.seen.iter().any(|s| {
        s.reply == reply && &s.point == receiver && s.wire == seen.wire && s.dst_mac == seen.dst_mac
    })
}

/// A frame at a pod that is not of the pair and that no bridge flooded there: that pod was
/// sent it, forwarded it or answered it.
pub fn stray(plan: &PairPlan, seen: &Seen, reply: bool) -> Option<Reason> {
    let pair_pod = seen.point == plan.src_pod_point || seen.point == plan.dst_pod_point;
    if pair_pod || seen.point.role != Some(Role::Pod) {
        return None;
    }
    Some(Reason::Stray {
        direction: Direction::of(reply),
        point: seen.point.clone(),
        saw: seen.wire.to_string(),
        receiver: receiving_pod(plan, reply).clone(),
    })
}

fn receiving_pod(plan: &PairPlan, reply: bool) -> &PointId {
    if reply {
        &plan.src_pod_point
    } else {
        &plan.dst_pod_point
    }
}

/// At one point, the most copies of any one frame of the probe, and when the first came.
#[derive(Debug, Clone, Copy)]
struct Count {
    copies: u32,
    first: std::time::Duration,
}

/// Per point, the copies of each of the probe's frames (one tag, one direction), counted over
/// sightings: a capture that keeps every frame (`--pcap`) has a sighting per copy. TCP is left
/// out: the kernel retransmits a segment whose ACK it missed, which is no duplication.
fn counts_by_point(result: &ProbeResult, reply: bool) -> BTreeMap<&PointId, Count> {
    let mut per_frame: BTreeMap<(&PointId, Tag), Count> = BTreeMap::new();
    let frames = result.seen.iter().filter(|s| s.reply == reply);
    for s in frames.filter(|s| matches!(s.wire.transport(), Some("ICMP" | "UDP"))) {
        let Some((tag, _)) = s.wire.tag() else {
            continue;
        };
        let c = per_frame.entry((&s.point, tag)).or_insert(Count {
            copies: 0,
            first: s.ts,
        });
        c.copies += s.copies;
        c.first = c.first.min(s.ts);
    }
    let mut out: BTreeMap<&PointId, Count> = BTreeMap::new();
    for ((point, _), c) in per_frame {
        let best = out.entry(point).or_insert(c);
        if c.copies > best.copies {
            *best = c;
        }
    }
    out
}

/// The point that first saw two copies: where the duplicate was made, or the first place the
/// captures show it.
fn first_doubled(counts: &BTreeMap<&PointId, Count>) -> Option<PointId> {
    counts
        .iter()
        .filter(|(_, c)| c.copies > 1)
        .min_by_key(|(_, c)| c.first)
        .map(|(p, _)| (*p).clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::judge::Outcome;
    use crate::wire::dissect::build::plain;
    use crate::wire::dissect::dissect;
    use std::time::Duration;

    const TAG: Tag = Tag {
        run: 3,
        probe: 0,
        attempt: 0,
    };

    fn plan() -> PairPlan {
        PairPlan {
            encap: crate::lab::Encap::Plain,
            family: crate::family::Family::Ipv4,
            src_pod: "10.0.1.2".parse().unwrap(),
            dst_pod: "10.0.2.2".parse().unwrap(),
            src_host: "192.168.0.100".parse().unwrap(),
            dst_host: "192.168.0.200".parse().unwrap(),
            src_point: PointId::with_role("host1", "eth1", Role::HostUnderlay),
            dst_point: PointId::with_role("host2", "eth1", Role::HostUnderlay),
            src_pod_point: PointId::with_role("pod1-1", "eth1", Role::Pod),
            dst_pod_point: PointId::with_role("pod2-1", "eth1", Role::Pod),
            siblings: vec![PointId::with_role("pod2-2", "eth1", Role::Pod)],
            mtu: 1500,
            max_loss: 0.0,
            flood: Default::default(),
            host_macs: Default::default(),
            host_names: ("host1".into(), "host2".into()),
        }
    }

    fn seen(point: &str, reply: bool, copies: u32, ts: u64, mac: u8) -> Seen {
        let (s, d) = match reply {
            false => ("10.0.1.2", "10.0.2.2"),
            true => ("10.0.2.2", "10.0.1.2"),
        };
        let frame = plain(s, d, reply, Some(TAG));
        let (node, iface) = point.rsplit_once('-').unwrap();
        let role = if node.starts_with("pod") {
            Role::Pod
        } else {
            Role::HostUnderlay
        };
        Seen {
            point: PointId::with_role(node, iface, role),
            dst_mac: [2, 0, 0, 0, 0, mac],
            reply,
            wire: dissect(&frame, &[4789]).unwrap(),
            copies,
            ts: Duration::from_micros(ts),
        }
    }

    fn answered(seen: Vec<Seen>) -> ProbeResult {
        ProbeResult {
            outcome: Outcome::Reply {
                rtt: Duration::from_micros(80),
                attempts: 1,
            },
            seen,
        }
    }

    #[test]
    fn a_request_delivered_twice_is_named_with_where_the_copy_was_made() {
        let p = plan();
        let r = answered(vec![
            seen("pod1-1-eth1", false, 1, 10, 1),
            seen("host1-eth1", false, 2, 20, 2),
            seen("host2-eth1", false, 2, 30, 2),
            seen("pod2-1-eth1", false, 2, 40, 3),
            seen("pod2-1-eth1", true, 1, 50, 4),
        ]);
        let reasons = duplicates(&p, &[(&r, ProbeName::Ping)]);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert_eq!(
            reasons[0].to_string(),
            "ping request reached pod2-1-eth1 (pod) 2 times: something on the way duplicated it (first seen twice on host1-eth1 (host underlay))"
        );
        assert_eq!(reasons[0].kind(), "duplicated");
    }

    #[test]
    fn copies_kept_one_by_one_count_as_well_and_a_single_copy_is_no_fault() {
        let p = plan();
        let twice = answered(vec![
            seen("pod2-1-eth1", true, 1, 10, 4),
            seen("pod1-1-eth1", true, 1, 20, 4),
            seen("pod1-1-eth1", true, 1, 21, 4),
        ]);
        let reasons = duplicates(&p, &[(&twice, ProbeName::Ping)]);
        assert_eq!(reasons.len(), 1);
        assert!(matches!(
            &reasons[0],
            Reason::Duplicated {
                direction: Direction::Reply,
                copies: 2,
                ..
            }
        ));
        let once = answered(vec![seen("pod2-1-eth1", false, 1, 10, 3)]);
        assert!(duplicates(&p, &[(&once, ProbeName::Ping)]).is_empty());
    }

    #[test]
    fn a_flooded_copy_at_a_sibling_pod_is_the_bridge_s_design_but_not_one_it_forwards() {
        let p = plan();
        let r = answered(vec![
            seen("pod2-1-eth1", false, 1, 40, 3),
            seen("pod2-2-eth1", false, 1, 40, 3),
        ]);
        assert!(flooded_to_sibling(&p, &r.seen[1], false, &r));
        // Sent on with another next hop: the sibling forwarded it.
        let forwarded = seen("pod2-2-eth1", false, 1, 41, 9);
        assert!(!flooded_to_sibling(&p, &forwarded, false, &r));
        let why = stray(&p, &forwarded, false).unwrap();
        assert_eq!(why.kind(), "stray");
        assert!(
            why.to_string()
                .contains("pod2-2-eth1 (pod), a pod not of the pair"),
            "{why}"
        );
        // The pair's own pods and the underlay are judged elsewhere.
        assert!(stray(&p, &r.seen[0], false).is_none());
        assert!(stray(&p, &seen("host2-eth1", false, 1, 1, 1), false).is_none());
    }
}
