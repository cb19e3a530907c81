//! Where an unanswered probe stopped. The captures show every point the probe passed; the last
//! of them, by the time the kernel stamped each frame, is where it died, or the last place
//! before it that verify watches. A routed lab that drops a prefix shows it at a router's leg,
//! and the router's own table then says why (see `pair_judge`).

use super::judge::{Outcome, PairPlan, ProbeResult};
use super::reason::{Direction, ProbeName, Reason};

/// The last point that saw `result`'s probe in the direction that never arrived, for a probe
/// that got no answer. A probe that reached the receiving host's underlay and not its pod is
/// told by `dropped_at_host` already, and one seen nowhere by `not_seen`.
pub fn last_seen(plan: &PairPlan, result: &ProbeResult, probe: ProbeName) -> Option<Reason> {
    if matches!(result.outcome, Outcome::Reply { .. }) {
        return None;
    }
    let request_arrived = result
        .seen
        .iter()
        .any(|s| !s.reply && s.point == plan.dst_pod_point);
    let reply = request_arrived;
    let (receiving_host, receiving_pod) = match reply {
        false => (&plan.dst_point, &plan.dst_pod_point),
        true => (&plan.src_point, &plan.src_pod_point),
    };
    let last = result
        .seen
        .iter()
        .filter(|s| s.reply == reply)
        .max_by_key(|s| s.ts)?;
    if &last.point == receiving_pod || &last.point == receiving_host {
        return None;
    }
    Some(Reason::LastSeen {
        probe,
        direction: Direction::of(reply),
        point: last.point.clone(),
        cause: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::point::{PointId, Role};
    use crate::verify::judge::Seen;
    use crate::wire::dissect::build::plain;
    use crate::wire::dissect::{dissect, Tag};
    use std::time::Duration;

    fn plan() -> PairPlan {
        PairPlan {
            encap: crate::lab::Encap::Plain,
            family: crate::family::Family::Ipv4,
            src_pod: "10.0.1.2".parse().unwrap(),
            dst_pod: "10.0.2.2".parse().unwrap(),
            src_host: "10.1.1.2".parse().unwrap(),
            dst_host: "10.1.2.2".parse().unwrap(),
            src_point: PointId::with_role("host1", "eth1", Role::HostUnderlay),
            dst_point: PointId::with_role("host2", "eth1", Role::HostUnderlay),
            src_pod_point: PointId::with_role("pod1", "eth1", Role::Pod),
            dst_pod_point: PointId::with_role("pod2", "eth1", Role::Pod),
            siblings: vec![],
            mtu: 1500,
            max_loss: 0.0,
            flood: Default::default(),
            host_macs: Default::default(),
            host_names: ("host1".into(), "host2".into()),
        }
    }

    fn at(node: &str, iface: &str, role: Role, reply: bool, micros: u64) -> Seen {
        let tag = Tag {
            run: 1,
            probe: 0,
            attempt: 0,
        };
        let frame = match reply {
            false => plain("10.0.1.2", "10.0.2.2", false, Some(tag)),
            true => plain("10.0.2.2", "10.0.1.2", true, Some(tag)),
        };
        Seen {
            point: PointId::with_role(node, iface, role),
            dst_mac: [0; 6],
            reply,
            wire: dissect(&frame, &[4789]).unwrap(),
            copies: 1,
            ts: Duration::from_micros(micros),
        }
    }

    fn lost(seen: Vec<Seen>) -> ProbeResult {
        ProbeResult {
            outcome: Outcome::NoReply { attempts: 3 },
            seen,
        }
    }

    #[test]
    fn a_request_dropped_in_a_router_is_last_seen_on_the_leg_it_came_in_by() {
        let r = lost(vec![
            at("pod1", "eth1", Role::Pod, false, 10),
            at("gw1", "eth2", Role::Router, false, 40),
            at("host1", "eth1", Role::HostUnderlay, false, 20),
            at("gw1", "eth1", Role::Router, false, 30),
        ]);
        let why = last_seen(&plan(), &r, ProbeName::Ping).unwrap();
        assert_eq!(
            why.to_string(),
            "ping request last seen on gw1-eth2 (router)"
        );
        let Reason::LastSeen { point, .. } = &why else {
            panic!("{why:?}")
        };
        assert_eq!(point.node, "gw1");
    }

    #[test]
    fn a_lost_reply_is_followed_back_and_what_other_reasons_tell_is_left_to_them() {
        let reply_lost = lost(vec![
            at("pod1", "eth1", Role::Pod, false, 10),
            at("pod2", "eth1", Role::Pod, false, 50),
            at("pod2", "eth1", Role::Pod, true, 60),
            at("gw2", "eth1", Role::Router, true, 70),
        ]);
        let why = last_seen(&plan(), &reply_lost, ProbeName::Ping).unwrap();
        assert_eq!(why.to_string(), "ping reply last seen on gw2-eth1 (router)");
        // Reached the receiving host and no further: dropped_at_host says so.
        let at_host = lost(vec![at("host2", "eth1", Role::HostUnderlay, false, 10)]);
        assert_eq!(last_seen(&plan(), &at_host, ProbeName::Ping), None);
        let mut answered = reply_lost.clone();
        answered.outcome = Outcome::Reply {
            rtt: Duration::from_micros(1),
            attempts: 1,
        };
        assert_eq!(last_seen(&plan(), &answered, ProbeName::Ping), None);
    }
}
