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
            let host = |i| self.lab.host(i).expect("Lab checks every pod has its host");
            let Some(ends) = sealed::Ends::of(host(hosts.0), host(hosts.1)) else {
                continue;
            };
            for r in pair_reasons((&plan, &ends), row, (wg, esp), window, watched) {
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
    (plan, ends): (&judge::PairPlan, &sealed::Ends),
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
    let missing = sealed::tunnel_reasons(plan, ends, wg, esp, window, watched);
    if missing.is_empty() {
        let seal = match esp {
            Some((request, reply)) => format!("IPsec ESP SPI {request:#x}/{reply:#x}"),
            None => wg.to_string(),
        };
        row.verdict.wire = format!(
            "{seal} between {} and {} (pods {} > {})",
            ends.hosts.0, ends.hosts.1, plan.src_pod, plan.dst_pod
        );
    }
    reasons.extend(missing);
    reasons
}

#[cfg(test)]
mod tests {
    use crate::lab::point::Role;
    use crate::lab::Lab;
    use crate::plan::encryption::Encryption;
    use crate::verify::judge::Seen;
    use crate::wire::dissect::{build::vxlan_frame, dissect, Tag};

    /// The article's vxlan lab inside cnilab's own tunnel, at 3 hosts.
    fn lab() -> Lab {
        let text = crate::gen::generate(&crate::gen::GenRequest {
            mode: crate::plan::Mode::Vxlan,
            flavor: crate::plan::Flavor::Article,
            hosts: 3,
            pods_per_host: 1,
            lab: Some("wgvx"),
            underlay: None,
            routing: crate::routing::Routing::Static,
            direct_routing: false,
            cross_subnet: false,
            encryption: Encryption::Wireguard,
            ip_family: Default::default(),
            templates: None,
            services: Default::default(),
        })
        .unwrap();
        Lab::from_topology(&crate::topology::Topology::parse(&text).unwrap()).unwrap()
    }

    #[test]
    fn the_mode_s_shape_is_judged_inside_the_tunnel_and_the_seal_on_the_underlay() {
        let lab = lab();
        let pair = crate::verify::targets::ProbePair {
            from: 0,
            to: 1,
            family: crate::family::Family::Ipv4,
        };
        let plan = crate::verify::targets::pair_plan(&lab, pair);
        assert_eq!(plan.src_point.role, Some(Role::HostWireguard));
        assert_eq!(plan.src_point.to_string(), "host1-cnilab-wg");
        assert_eq!(plan.src_host.to_string(), "100.64.0.1");
        let ends = super::sealed::Ends::of(&lab.hosts[0], &lab.hosts[1]).unwrap();
        assert_eq!(ends.points.1.to_string(), "host2-eth1");
        assert_eq!(ends.hosts.1.to_string(), "10.0.2.2");
        let points = crate::verify::targets::capture_points(&lab);
        let inside = points
            .iter()
            .filter(|p| p.id.role == Some(Role::HostWireguard));
        assert_eq!(inside.count(), 3, "each host's cnilab-wg is listened on");
        let tag = Tag {
            run: 1,
            probe: 0,
            attempt: 0,
        };
        let seen = |outer: (&str, &str)| {
            let frame = vxlan_frame(
                outer,
                4789,
                1,
                ("172.16.0.2", "172.16.1.2"),
                false,
                Some(tag),
            );
            Seen {
                point: plan.src_point.clone(),
                dst_mac: [0; 6],
                reply: false,
                wire: dissect(&frame, &[4789]).unwrap(),
                copies: 1,
                ts: std::time::Duration::ZERO,
            }
        };
        assert_eq!(
            plan.misfit(&seen(("100.64.0.1", "100.64.0.2")), false),
            None
        );
        let outside = plan.misfit(&seen(("10.0.1.2", "10.0.2.2")), false).unwrap();
        assert!(
            outside
                .to_string()
                .contains("expected UDP/4789 VXLAN vni 1 between 100.64.0.1 and 100.64.0.2"),
            "{outside}"
        );
    }
}
