//! Pods on one host talk over that host's bridge or veths: their packets must never reach the
//! underlay, encapsulated or not. A same-host pair is judged on that alone, with the pods'
//! own interfaces as the proof that the probe travelled at all.

use super::judge::{Outcome, PairPlan, ProbeResult, Seen};

/// Why a same-host pair fails: a probe seen anywhere but on the two pods' interfaces, a probe
/// that never reached the other pod, or one that was not answered.
pub fn reasons(plan: &PairPlan, results: &[&ProbeResult]) -> Vec<String> {
    let host = &plan.host_names.0;
    let mut reasons: Vec<String> = Vec::new();
    for result in results {
        for s in result
            .seen
            .iter()
            .filter(|s| is_probe(s) && off_host(plan, s))
        {
            let what = if is_reply(s) { "reply" } else { "request" };
            let reason = format!(
                "{what} seen on {}: pods on the same host must talk over {host}'s bridge or veths, never the underlay",
                s.point
            );
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
                let what = if reply { "reply" } else { "request" };
                reasons.push(format!("ping {what} not seen on {point}"));
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
