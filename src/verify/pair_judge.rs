//! One pair's row: its probes' outcomes and sightings judged against its plan, then what the
//! lab declares (expected failures) and what learning hid (flood gaps) put first.

use super::stopped::{self, RoutedTo};
use super::*;
use crate::family::Family;
use std::sync::Arc;

/// What judging a pair needs beyond its own probes.
pub(super) struct PairJudge<'a> {
    pub(super) lab: &'a Lab,
    pub(super) probes: &'a ProbePlan,
    pub(super) floods: &'a learned::FloodLists,
    pub(super) host_macs: &'a Arc<[(String, judge::Mac)]>,
    pub(super) max_loss: f64,
    pub(super) gaps: &'a [learned::FloodGap],
    /// Per host, what its exec lines say about forwarding.
    pub(super) hints: &'a std::collections::BTreeMap<String, String>,
}

impl<'a> PairJudge<'a> {
    pub(super) fn new(prepared: &'a Prepared, max_loss: f64) -> PairJudge<'a> {
        let lab = &prepared.lab;
        PairJudge {
            lab,
            probes: &prepared.probes,
            floods: &prepared.floods,
            host_macs: &prepared.host_macs,
            max_loss,
            gaps: &prepared.flood_gaps,
            hints: &prepared.forwarding_hints,
        }
    }

    /// Pair `k`'s row, its outcomes and sightings taken out of `outcomes` and `seen`, and
    /// when its probes were out.
    pub(super) fn row(
        &self,
        k: usize,
        outcomes: &mut Outcomes,
        seen: &mut observe::Sightings,
    ) -> (PairRow, Option<sealed::Window>) {
        let mut result = |kind| {
            let id = ProbeId::new(k, kind);
            ProbeResult {
                outcome: outcomes
                    .remove(&id)
                    .unwrap_or(Outcome::NoReply { attempts: 0 }),
                seen: seen.take(&id),
            }
        };
        let (ping, mtu) = (result(ProbeKind::Ping), result(ProbeKind::FullSize));
        let steady: Vec<ProbeResult> = (0..STEADY_PINGS)
            .map(|n| result(ProbeKind::Steady(n)))
            .filter(|r| r.outcome != Outcome::NoReply { attempts: 0 })
            .collect();
        let transport: Vec<_> = self
            .probes
            .transports
            .iter()
            .map(|&p| (p, result(ProbeKind::Transport(p))))
            .collect();
        let pair = self.probes.pairs[k];
        let (a, b) = pair.pods();
        let plan = self.plan(k);
        let mut verdict = judge::judge_probes(&plan, &ping, &mtu, &steady, &transport);
        let lab = self.lab;
        let mut probes = vec![&ping, &mtu];
        probes.extend(steady.iter().chain(transport.iter().map(|(_, r)| r)));
        if lab.encryption.is_some() {
            let names = (lab.pods[a].node.as_str(), lab.pods[b].node.as_str());
            sealed::rejudge(names, &probes, &mut verdict.reasons);
        }
        let window = sealed::window(&plan, std::iter::once(&ping).chain(&steady));
        self.explain_last_seen(pair, &mut verdict);
        self.explain_unsent(pair, &ping, &mut verdict);
        self.apply_gaps_and_expectations(pair, &ping, &mut verdict);
        let row = PairRow {
            from: lab.pods[a].node.clone(),
            to: lab.pods[b].node.clone(),
            family: pair.family,
            from_ip: plan.src_pod,
            to_ip: plan.dst_pod,
            verdict,
        };
        (row, window)
    }

    /// What pair `k`'s probes should show.
    pub(super) fn plan(&self, k: usize) -> PairPlan {
        let (lab, pair) = (self.lab, self.probes.pairs[k]);
        let (a, b) = pair.pods();
        let mut plan = pair_plan(lab, pair);
        plan.mtu = self.probes.full_size[k];
        plan.max_loss = self.max_loss;
        plan.host_macs = host_macs_for(lab, (a, b), self.host_macs);
        plan.flood = (
            self.floods.of(&host_of(lab, a).node, pair.family),
            self.floods.of(&host_of(lab, b).node, pair.family),
        );
        plan
    }

    /// Where an unanswered probe was last seen, or reached a host and went no further, what
    /// the node that held it says now: no route to the destination, or no forwarding at all.
    /// Read only for such a pair, so a healthy run reads nothing.
    fn explain_last_seen(&self, pair: ProbePair, verdict: &mut judge::PairVerdict) {
        let (a, b) = pair.pods();
        for reason in &mut verdict.reasons {
            let (direction, node, cause) = match reason {
                Reason::LastSeen {
                    direction,
                    point,
                    cause,
                    ..
                } => (*direction, point.node.clone(), cause),
                Reason::DroppedAtHost {
                    direction,
                    reached,
                    cause,
                    ..
                } => (*direction, reached.node.clone(), cause),
                _ => continue,
            };
            let (from, to) = match direction {
                reason::Direction::Request => (a, b),
                reason::Direction::Reply => (b, a),
            };
            *cause = self.held_by(&node).and_then(|(node, namespace)| {
                stopped::cause(
                    node,
                    namespace,
                    &self.routed_to(from, to, node, pair.family),
                    self.hints.get(node),
                )
            });
        }
    }

    /// A first contact that got no answer and was seen at no capture point never left its pod:
    /// say so, with what the pod's own state tells (no route, an ARP unanswered).
    fn explain_unsent(
        &self,
        pair: ProbePair,
        ping: &ProbeResult,
        verdict: &mut judge::PairVerdict,
    ) {
        let answered = matches!(ping.outcome, Outcome::Reply { .. });
        if answered || ping.seen.iter().any(|s| !s.reply) {
            return;
        }
        let (pod, dst) = (&self.lab.pods[pair.from], pair.addrs(self.lab).1);
        let host = self.lab.host(pod.host);
        let sender = stopped::Sender {
            pod: &pod.node,
            namespace: &pod.namespace,
            host: host
                .zip(pod.host_if.as_deref())
                .map(|(h, i)| (h.node.as_str(), h.namespace.as_str(), i)),
        };
        verdict.reasons.push(Reason::Unsent {
            probe: reason::ProbeName::Ping,
            pod: pod.node.clone(),
            cause: stopped::unsent_cause(&sender, dst),
        });
    }

    /// The node that held a packet last seen on `node`: a router or host itself, or for a
    /// pod, the host it sends through.
    fn held_by(&self, node: &str) -> Option<(&str, &str)> {
        let lab = self.lab;
        if let Some(r) = lab.routers.iter().find(|r| r.node == node) {
            return Some((&r.node, &r.namespace));
        }
        let host = match lab.pods.iter().find(|p| p.node == node) {
            Some(pod) => lab.host(pod.host)?,
            None => lab.hosts.iter().find(|h| h.node == node)?,
        };
        Some((&host.node, &host.namespace))
    }

    /// What `node` on the way from pod `from` to pod `to` must have a route to: the pod itself
    /// where the pair goes plain or `node` is the destination's host, the destination host's
    /// underlay address where it is tunnelled.
    fn routed_to(&self, from: usize, to: usize, node: &str, family: Family) -> RoutedTo {
        let (lab, dst) = (self.lab, host_of(self.lab, to));
        let tunnel = lab.encap_between(lab.pods[from].host, dst.index, family);
        let pod = lab.pod_ip(to, family);
        let subnet = dst
            .pod_subnet_in(family)
            .map_or_else(|| pod.to_string(), |net| net.to_string());
        match tunnel {
            crate::lab::Encap::Plain => RoutedTo {
                ip: pod,
                named: format!("{subnet} (pod {pod})"),
            },
            _ if dst.node == node => RoutedTo {
                ip: pod,
                named: format!("{subnet} (pod {pod})"),
            },
            _ if family == Family::Ipv4 && dst.tunnel_ip().is_some() => {
                let tunnel = lab.outer_ip(dst, family);
                RoutedTo {
                    ip: tunnel,
                    named: format!("{tunnel} ({}'s WireGuard tunnel address)", dst.node),
                }
            }
            _ => {
                let underlay = dst.underlay(lab.outer_family(family));
                RoutedTo {
                    ip: underlay,
                    named: format!("{underlay} ({}'s underlay address)", dst.node),
                }
            }
        }
    }

    /// Puts first what learning hid (a missing flood entry), and holds a pair the lab
    /// declares broken to that declaration.
    pub(super) fn apply_gaps_and_expectations(
        &self,
        pair: ProbePair,
        ping: &ProbeResult,
        verdict: &mut judge::PairVerdict,
    ) {
        let (lab, (a, b)) = (self.lab, pair.pods());
        let (src_host, dst_host) = (host_of(lab, a), host_of(lab, b));
        let peer = lab.outer_ip(dst_host, pair.family);
        for gap in self
            .gaps
            .iter()
            .filter(|g| g.node == src_host.node && g.peer == peer)
        {
            verdict.reasons.insert(0, gap.reason());
        }
        let Some(e) = src_host.expect_fail.as_ref() else {
            return;
        };
        if e.to.contains(dst_host.index) {
            let path = expect::PairPath {
                src_pod: &lab.pods[a].node,
                src_host: &src_host.node,
            };
            let held = expect::check(e, &path, ping);
            let dst = lab.pod_ip(b, pair.family);
            let routed =
                matches!(held, expect::Held::Yes { .. }) && expect::has_route_at(e, lab, dst);
            let held = expect::for_want_of_a_route(held, e, dst, routed);
            expect::apply(e, held, verdict);
        }
    }
}

/// The host MACs the plan of a pair from pod `a` to pod `b` checks next hops against: every
/// host's within a rack (or a lab of one segment), none across racks, where a host's next hop
/// is its router, not the peer.
fn host_macs_for(
    lab: &Lab,
    (a, b): (usize, usize),
    macs: &Arc<[(String, judge::Mac)]>,
) -> Arc<[(String, judge::Mac)]> {
    if host_of(lab, a).rack == host_of(lab, b).rack {
        macs.clone()
    } else {
        Arc::default()
    }
}

/// Hosts that can reach a peer's VTEP only by what they learnt; VXLAN labs only, and only
/// where VTEPs are found by flooding (where the file fixes each VTEP's MAC, [`programmed`]
/// names the missing entry itself).
pub(super) fn gaps(lab: &Lab, fdbs: &[learned::HostFdb]) -> Vec<learned::FloodGap> {
    let flooding = lab.hosts.iter().all(|h| h.vtep_mac.is_none());
    match lab.mode() {
        crate::plan::Mode::Vxlan if flooding => learned::flood_gaps(fdbs),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{LabSpec, Mode};
    use crate::underlay::Underlay;

    #[test]
    fn host_macs_are_checked_within_a_rack_and_not_across_racks() {
        let spec = LabSpec {
            underlay: Some(Underlay::Racks(2)),
            ..LabSpec::article(Mode::HostGw, 4, None)
        };
        let lab = crate::lab::tests::lab_of_spec(&spec);
        let rack = |pod: usize| host_of(&lab, pod).rack;
        let same = (1..lab.pods.len()).find(|&p| rack(p) == rack(0)).unwrap();
        let other = (1..lab.pods.len()).find(|&p| rack(p) != rack(0)).unwrap();
        let macs: Arc<[(String, judge::Mac)]> = Arc::from([("host1".to_string(), [2; 6])]);
        assert_eq!(host_macs_for(&lab, (0, same), &macs).len(), 1);
        assert!(host_macs_for(&lab, (0, other), &macs).is_empty());
        assert!(host_macs_for(&lab, (other, 0), &macs).is_empty());
        let flat = crate::lab::tests::lab_of_spec(&LabSpec::article(Mode::HostGw, 3, None));
        assert_eq!(host_of(&flat, 0).rack, None);
        assert_eq!(host_macs_for(&flat, (0, 2), &macs).len(), 1);
    }
}
