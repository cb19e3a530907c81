//! Pods on one host talk over that host's bridge or veths: their packets must never reach the
//! underlay, encapsulated or not. A same-host pair is judged on that alone, with the pods'
//! own interfaces as the proof that the probe travelled at all.

use super::judge::{Outcome, PairPlan, ProbeResult, Seen};
use super::reason::{Direction, ProbeName, Reason};

/// Why a same-host pair fails: a probe seen anywhere but on the two pods' interfaces, a probe
/// that never reached the other pod, or one that was not answered.
pub fn reasons(plan: &PairPlan, results: &[&ProbeResult]) -> Vec<Reason> {
    let host = &plan.host_names.0;
    let mut reasons: Vec<Reason> = Vec::new();
    for result in results {
        for s in result.seen.iter().filter(|s| {
            is_probe(s)
                && off_host(plan, s)
                && !super::copies::flooded_to_sibling(plan, s, is_reply(s), result)
        }) {
            let reason = Reason::LeftTheHost {
                direction: Direction::of(is_reply(s)),
                point: s.point.clone(),
                host: host.clone(),
            };
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
    }
    let first = results[0];
    if let Outcome::Reply { .. } = first.outcome {
        for (reply, point) in [(false, &plan.dst_pod_point), (true, &plan.src_pod_point)] {
            let arrived = first
                .seen
                .iter()
                .any(|s| is_probe(s) && is_reply(s) == reply && &s.point == point);
            if !arrived {
                reasons.push(Reason::NotSeen {
                    probe: ProbeName::Ping,
                    direction: Direction::of(reply),
                    point: point.clone(),
                });
            }
        }
    }
    reasons
}

fn is_probe(s: &Seen) -> bool {
    s.wire.tag().is_some()
}

fn is_reply(s: &Seen) -> bool {
    s.wire.tag().is_some_and(|(_, r)| r)
}

fn off_host(plan: &PairPlan, s: &Seen) -> bool {
    s.point != plan.src_pod_point && s.point != plan.dst_pod_point
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::point::PointId;
    use crate::lab::{Encap, VxlanParams};
    use crate::wire::dissect::build::{plain, vxlan_frame};
    use crate::wire::dissect::{dissect, Tag};
    use std::time::Duration;

    const TAG: Tag = Tag {
        run: 9,
        probe: 0,
        attempt: 0,
    };

    fn plan() -> PairPlan {
        PairPlan {
            encap: Encap::Vxlan(VxlanParams { vni: 1, port: 4789 }),
            family: crate::family::Family::Ipv4,
            src_pod: "172.16.0.2".parse().unwrap(),
            dst_pod: "172.16.0.3".parse().unwrap(),
            src_host: "10.0.1.2".parse().unwrap(),
            dst_host: "10.0.1.2".parse().unwrap(),
            src_point: "host1-eth1".into(),
            dst_point: "host1-eth1".into(),
            src_pod_point: "pod1-1-eth1".into(),
            dst_pod_point: "pod1-2-eth1".into(),
            siblings: vec![],
            mtu: 1450,
            max_loss: 0.0,
            flood: Default::default(),
            host_macs: Default::default(),
            host_names: ("host1".into(), "host1".into()),
        }
    }

    fn seen(point: &str, frame: Vec<u8>) -> Seen {
        let wire = dissect(&frame, &[4789, 8472]).unwrap();
        Seen {
            point: point.into(),
            dst_mac: frame[..6].try_into().unwrap(),
            reply: wire.tag().is_some_and(|(_, reply)| reply),
            wire,
            copies: 1,
            ts: Duration::ZERO,
        }
    }

    fn answered(seen: Vec<Seen>) -> ProbeResult {
        ProbeResult {
            outcome: Outcome::Reply {
                rtt: Duration::from_micros(50),
                attempts: 1,
            },
            seen,
        }
    }

    fn on_the_pods() -> Vec<Seen> {
        let req = plain("172.16.0.2", "172.16.0.3", false, Some(TAG));
        let rep = plain("172.16.0.3", "172.16.0.2", true, Some(TAG));
        vec![
            seen("pod1-1-eth1", req.clone()),
            seen("pod1-2-eth1", req),
            seen("pod1-2-eth1", rep.clone()),
            seen("pod1-1-eth1", rep),
        ]
    }

    #[test]
    fn a_pair_seen_only_on_its_pods_passes() {
        assert_eq!(
            reasons(&plan(), &[&answered(on_the_pods())]),
            Vec::<Reason>::new()
        );
    }

    #[test]
    fn a_sighting_on_the_underlay_fails_it_encapsulated_or_not() {
        let mut frames = on_the_pods();
        frames.push(seen(
            "host1-eth1",
            vxlan_frame(
                ("10.0.1.2", "10.0.2.2"),
                8472,
                1,
                ("172.16.0.2", "172.16.0.3"),
                false,
                Some(TAG),
            ),
        ));
        frames.push(seen(
            "gw1-eth1",
            plain("172.16.0.3", "172.16.0.2", true, Some(TAG)),
        ));
        let r = reasons(&plan(), &[&answered(frames)]);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0]
            .to_string()
            .starts_with("request seen on host1-eth1: pods on the same host"));
        assert!(r[1].to_string().starts_with("reply seen on gw1-eth1"));
        assert!(r.iter().all(|r| r.kind() == "left_the_host"));
    }

    #[test]
    fn an_answer_that_never_reached_the_other_pod_is_named() {
        let frames = on_the_pods()
            .into_iter()
            .filter(|s| s.point != PointId::new("pod1-2", "eth1"))
            .collect();
        let r = reasons(&plan(), &[&answered(frames)]);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].to_string(), "ping request not seen on pod1-2-eth1");
        assert!(matches!(&r[0], Reason::NotSeen { point, .. } if point.node == "pod1-2"));
    }
}
