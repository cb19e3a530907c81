//! An encrypted lab's rows completed once every pair is judged: the leak and tunnel checks
//! of [`super::sealed`] on the capture between nodes, and each host's WireGuard state
//! ([`super::wg_state`]) read back after the probes.

use super::*;
use crate::lab::wireguard::LabWireguard;

/// A problem of host `.0`'s peer for host `.1`.
type PeerProblem = (usize, usize, Reason);

impl Prepared {
    /// An encrypted lab's proof per pair: no pod address between nodes, the tunnel between
    /// its hosts while its probes were out, and each host's WireGuard peers as planned. The
    /// peers' problems go first: they name what to fix.
    pub(super) fn seal_rows(&self, judged: &mut Judged, watched: &sealed::Watched, max_loss: f64) {
        let Some(wg) = &self.lab.encryption else {
            return;
        };
        let judge = PairJudge::new(self, max_loss);
        let peers = self.peer_problems();
        for (k, row) in judged.rows.iter_mut().enumerate() {
            let Some(row) = row else { continue };
            let (a, b) = self.probes.pairs[k].pods();
            let hosts = (self.lab.pods[a].host, self.lab.pods[b].host);
            let between = |(x, y, _): &&PeerProblem| (*x, *y) == hosts || (*y, *x) == hosts;
            let first = peers.iter().filter(between).map(|(_, _, r)| r.clone());
            row.verdict.reasons.splice(0..0, first);
            let window = judged.windows[k].filter(|_| hosts.0 != hosts.1);
            let plan = judge.plan(k);
            let esp = (wg.ipsec_key).map(|key| {
                let spi = |host| crate::plan::encryption::ipsec::esp_spi(key, host);
                (spi(hosts.0), spi(hosts.1))
            });
            for r in pair_reasons(&plan, row, (wg, esp), window, watched) {
                if !already_said(&row.verdict.reasons, &r) {
                    row.verdict.reasons.push(r);
                }
            }
        }
    }

    /// Every host's WireGuard peers read back now, and what is wrong with them.
    fn peer_problems(&self) -> Vec<PeerProblem> {
        let lab = &self.lab;
        if lab.ipsec() {
            return Vec::new();
        }
        let states: Vec<_> = (lab.hosts.iter())
            .map(|h| (h.index, wg_state::read(lab, &self.lab_dir, h)))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        wg_state::problems(lab, &states, now)
    }
}

/// Whether `reasons` say `r` already: a leak is one per sender and point, whatever gave it
/// away (the tag, or the addresses).
fn already_said(reasons: &[Reason], r: &Reason) -> bool {
    reasons.iter().any(|old| match (old, r) {
        (
            Reason::Leak { sender, point, .. },
            Reason::Leak {
                sender: s,
                point: p,
                ..
            },
        ) => sender == s && point == p,
        _ => old == r,
    })
}

/// A pair's leaks and, between two hosts, the tunnel; where the tunnel is proven, the row's
/// wire says so.
fn pair_reasons(
    plan: &judge::PairPlan,
    row: &mut PairRow,
    (wg, esp): (&LabWireguard, Option<(u32, u32)>),
    window: Option<sealed::Window>,
    watched: &sealed::Watched,
) -> Vec<Reason> {
    let names = (row.from.as_str(), row.to.as_str());
    let mut reasons = sealed::address_leaks(plan, names, watched);
    let Some(window) = window else {
        return reasons;
    };
    let missing = sealed::tunnel_reasons(plan, wg, esp, window, watched);
    if missing.is_empty() {
        let seal = match esp {
            Some((request, reply)) => format!("IPsec ESP SPI {request:#x}/{reply:#x}"),
            None => wg.to_string(),
        };
        row.verdict.wire = format!(
            "{seal} between {} and {} (pods {} > {})",
            plan.src_host, plan.dst_host, plan.src_pod, plan.dst_pod
        );
    }
    reasons.extend(missing);
    reasons
}
