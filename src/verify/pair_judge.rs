//! One pair's row: its probes' outcomes and sightings judged against its plan, then what the
//! lab declares (expected failures) and what learning hid (flood gaps) put first.

use super::*;

/// What judging a pair needs beyond its own probes.
pub(super) struct PairJudge<'a> {
    pub(super) lab: &'a Lab,
    pub(super) probes: &'a ProbePlan,
    pub(super) fdbs: &'a [learned::HostFdb],
    pub(super) host_macs: &'a [(String, judge::Mac)],
    pub(super) max_loss: f64,
    pub(super) gaps: Vec<learned::FloodGap>,
}

impl<'a> PairJudge<'a> {
    pub(super) fn new(prepared: &'a Prepared, max_loss: f64) -> PairJudge<'a> {
        let lab = &prepared.lab;
        PairJudge {
            lab,
            probes: &prepared.probes,
            fdbs: &prepared.fdbs,
            host_macs: &prepared.host_macs,
            max_loss,
            gaps: gaps(lab, &prepared.fdbs),
        }
    }

    /// Pair `k`'s row, its outcomes and sightings taken out of `outcomes` and `seen`.
    pub(super) fn row(
        &self,
        k: usize,
        outcomes: &mut Outcomes,
        seen: &mut observe::Sightings,
    ) -> PairRow {
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
        let (a, b) = self.probes.pairs[k];
        let plan = self.plan(k);
        let mut verdict = judge::judge_probes(&plan, &ping, &mtu, &steady, &transport);
        self.apply_gaps_and_expectations(a, b, &ping, &mut verdict);
        let lab = self.lab;
        PairRow {
            from: lab.pods[a].node.clone(),
            to: lab.pods[b].node.clone(),
            from_ip: lab.pods[a].ip,
            to_ip: lab.pods[b].ip,
            verdict,
        }
    }

    /// What pair `k`'s probes should show.
    pub(super) fn plan(&self, k: usize) -> PairPlan {
        let (lab, (a, b)) = (self.lab, self.probes.pairs[k]);
        let mut plan = pair_plan(lab, a, b);
        plan.mtu = self.probes.full_size[k];
        plan.max_loss = self.max_loss;
        plan.host_macs = self.host_macs.to_vec();
        if host_of(lab, a).rack != host_of(lab, b).rack {
            // Across racks a host's next hop is its router, not the peer: no host MAC to check.
            plan.host_macs.clear();
        }
        plan.flood = (
            learned::flood_list(self.fdbs, &host_of(lab, a).node),
            learned::flood_list(self.fdbs, &host_of(lab, b).node),
        );
        plan
    }

    /// Puts first what learning hid (a missing flood entry), and holds a pair the lab
    /// declares broken to that declaration.
    pub(super) fn apply_gaps_and_expectations(
        &self,
        a: usize,
        b: usize,
        ping: &ProbeResult,
        verdict: &mut judge::PairVerdict,
    ) {
        let lab = self.lab;
        let (src_host, dst_host) = (host_of(lab, a), host_of(lab, b));
        for gap in self
            .gaps
            .iter()
            .filter(|g| g.node == src_host.node && g.peer == dst_host.underlay_ip)
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
            let dst = lab.pods[b].ip;
            let routed =
                matches!(held, expect::Held::Yes { .. }) && expect::has_route_at(e, lab, dst);
            let held = expect::for_want_of_a_route(held, e, dst, routed);
            expect::apply(e, held, verdict);
        }
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
