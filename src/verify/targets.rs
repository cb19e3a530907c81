//! What verify probes and where it looks: the ordered pairs, the probe plan and its phases,
//! the capture points, and the shape each pair must show.

use super::*;
use crate::family::Family;
use crate::lab::point::Role;
use std::net::IpAddr;

/// One ordered pod pair in one family: what verify probes and judges as one row. A dual-stack
/// lab has each pod pair twice, once per family; each has its own probe identifiers, since
/// the pair's number is in them ([`ProbeId`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbePair {
    pub from: usize,
    pub to: usize,
    pub family: Family,
}

impl ProbePair {
    /// The source and destination pods.
    pub fn pods(self) -> (usize, usize) {
        (self.from, self.to)
    }

    /// The source and destination pods' addresses in the pair's family.
    pub fn addrs(self, lab: &Lab) -> (IpAddr, IpAddr) {
        (
            lab.pod_ip(self.from, self.family),
            lab.pod_ip(self.to, self.family),
        )
    }
}

/// `pods` in each of `families`: every pod pair of the first family, then of the next, so a
/// pair's row is found at the same place in each family's run of rows.
pub fn in_families(pods: &[(usize, usize)], families: &[Family]) -> Vec<ProbePair> {
    families
        .iter()
        .flat_map(|&family| {
            pods.iter()
                .map(move |&(from, to)| ProbePair { from, to, family })
        })
        .collect()
}

/// Every probe of the run: the ordered pod pairs, the phases they are probed in, and the size
/// of each pair's full-size probe.
#[derive(Debug, Clone)]
pub struct ProbePlan {
    /// Tells this run's probes from any other ICMP on the wire, an earlier run's included.
    pub run: u32,
    pub pairs: Vec<ProbePair>,
    pub phases: Vec<schedule::Phase>,
    /// Per pair: the planned MTU, or the pod's real one when that is larger (a pod left at
    /// 1500 in an overlay sends 1500-byte packets, and the path must carry them).
    pub full_size: Vec<u16>,
    /// The TCP and UDP probes each pair gets.
    pub transports: Vec<transport::Proto>,
}

impl ProbePlan {
    pub fn new(lab: &Lab, pod_mtus: &[Option<u32>], opts: &VerifyOptions) -> ProbePlan {
        let pods = match opts.pairs {
            PairChoice::All => ordered_pairs(lab.pods.len()),
            PairChoice::PerHostPair => per_host_pairs(lab),
        };
        let pairs = in_families(&pods, &lab.families());
        let phases = if opts.warm {
            schedule::warm_phase(pairs.len())
        } else {
            let hosts: Vec<(usize, usize)> = pairs
                .iter()
                .map(|p| (lab.pods[p.from].host, lab.pods[p.to].host))
                .collect();
            schedule::cold_phases(&hosts)
        };
        let full_size = pairs
            .iter()
            .map(|&ProbePair { from: a, .. }| {
                let real = pod_mtus.get(a).copied().flatten().unwrap_or(0);
                lab.pods[a].mtu.max(u16::try_from(real).unwrap_or(u16::MAX))
            })
            .collect();
        ProbePlan {
            run: run_id(),
            pairs,
            phases,
            full_size,
            transports: opts.transports.clone(),
        }
    }

    /// A batch's TCP and UDP probes, grouped by sending pod. They go in the same phase as the
    /// pair's pings, so the cold-start schedule holds for them too.
    pub(super) fn transport(
        &self,
        lab: &Lab,
        pairs: &[usize],
    ) -> Vec<Vec<transport::TransportSpec>> {
        let mut per_pod = vec![Vec::new(); lab.pods.len()];
        for &pair in pairs {
            let (a, dst) = (self.pairs[pair].from, self.pairs[pair].addrs(lab).1);
            for &proto in &self.transports {
                let kind = ProbeKind::Transport(proto);
                per_pod[a].push(transport::TransportSpec {
                    id: ProbeId::new(pair, kind),
                    dst,
                    proto,
                });
            }
        }
        per_pod
    }

    /// A batch's first contacts, grouped by sending pod: the ping and the full-size probe.
    pub(super) fn first_contact(&self, lab: &Lab, pairs: &[usize]) -> Vec<Vec<ProbeSpec>> {
        let attempts = probe::ATTEMPT_TIMEOUTS.len() as u8;
        self.group(
            lab,
            pairs.iter().flat_map(|&pair| {
                [
                    (ProbeId::new(pair, ProbeKind::Ping), probe::SMALL, attempts),
                    (
                        ProbeId::new(pair, ProbeKind::FullSize),
                        self.full_size[pair],
                        attempts,
                    ),
                ]
            }),
        )
    }

    /// A batch's steady-state pings, for the pairs whose first contact was answered.
    pub(super) fn steady(
        &self,
        lab: &Lab,
        pairs: &[usize],
        done: &Outcomes,
    ) -> Vec<Vec<ProbeSpec>> {
        let answered = |&pair: &usize| {
            matches!(
                done.get(&ProbeId::new(pair, ProbeKind::Ping)),
                Some(Outcome::Reply { .. })
            )
        };
        self.group(
            lab,
            pairs.iter().filter(|p| answered(p)).flat_map(|&pair| {
                (0..STEADY_PINGS)
                    .map(move |n| (ProbeId::new(pair, ProbeKind::Steady(n)), probe::SMALL, 1))
            }),
        )
    }

    pub(super) fn group(
        &self,
        lab: &Lab,
        probes: impl Iterator<Item = (ProbeId, u16, u8)>,
    ) -> Vec<Vec<ProbeSpec>> {
        let mut per_pod: Vec<Vec<ProbeSpec>> = vec![Vec::new(); lab.pods.len()];
        for (id, size, attempts) in probes {
            let pair = self.pairs[id.pair];
            per_pod[pair.from].push(ProbeSpec {
                id,
                dst: pair.addrs(lab).1,
                size,
                attempts,
            });
        }
        per_pod
    }
}

/// Each host's underlay interface, then each router's capture interfaces, then each host's
/// WireGuard device where the mode runs inside it, then each pod's own
/// interface (where a packet arrives, after everything its host did to it). A router's legs
/// belong with its host where each host has a router, and with the hosts in turn where routers
/// are shared.
pub fn capture_points(lab: &Lab) -> Vec<CapturePoint> {
    let point = |node: &str, namespace: &str, iface: &str, host: usize, role| CapturePoint {
        id: PointId::with_role(node, iface, role),
        namespace: namespace.to_string(),
        host,
    };
    let nth_host = |k: usize| lab.hosts[k % lab.hosts.len()].index;
    let per_host = lab.routers.len() == lab.hosts.len();
    lab.hosts
        .iter()
        .map(|h| {
            let role = Role::HostUnderlay;
            point(&h.node, &h.namespace, &h.underlay_if, h.index, role)
        })
        .chain(lab.routers.iter().enumerate().flat_map(|(j, r)| {
            r.capture.iter().enumerate().map(move |(m, iface)| {
                let host = nth_host(if per_host { j } else { m });
                point(&r.node, &r.namespace, iface, host, Role::Router)
            })
        }))
        .chain(
            lab.hosts
                .iter()
                .filter(|h| h.tunnel_ip().is_some())
                .map(|h| {
                    let inside = lab.shape_point(h);
                    let role = Role::HostWireguard;
                    point(&h.node, &h.namespace, &inside.iface, h.index, role)
                }),
        )
        .chain(
            lab.pods
                .iter()
                .map(|p| point(&p.node, &p.namespace, &p.pod_if, p.host, Role::Pod)),
        )
        .collect()
}

/// One ordered pair per ordered pair of hosts (their first pods), and per host with several
/// pods its first pod to its second.
pub fn per_host_pairs(lab: &Lab) -> Vec<(usize, usize)> {
    let first_of = |host: usize| lab.pods.iter().position(|p| p.host == host);
    let mut pairs = Vec::new();
    for a in &lab.hosts {
        for b in &lab.hosts {
            let (Some(pa), Some(pb)) = (first_of(a.index), first_of(b.index)) else {
                continue;
            };
            if a.index != b.index {
                pairs.push((pa, pb));
            } else if let Some(second) =
                (pa + 1..lab.pods.len()).find(|&i| lab.pods[i].host == a.index)
            {
                pairs.push((pa, second));
            }
        }
    }
    pairs
}

/// Every ordered pair of pod indices, N·(N−1).
pub fn ordered_pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
        .collect()
}

pub(super) fn pair_plan(lab: &Lab, pair: ProbePair) -> PairPlan {
    let (a, b) = pair.pods();
    let (pa, pb) = (&lab.pods[a], &lab.pods[b]);
    let (src_pod, dst_pod) = pair.addrs(lab);
    let host = |i| lab.host(i).expect("Lab checks every pod has its host");
    let (ha, hb) = (host(pa.host), host(pb.host));
    PairPlan {
        encap: lab.encap_between(pa.host, pb.host, pair.family),
        family: pair.family,
        src_pod,
        dst_pod,
        src_host: lab.outer_ip(ha, pair.family),
        dst_host: lab.outer_ip(hb, pair.family),
        src_point: lab.shape_point(ha),
        dst_point: lab.shape_point(hb),
        src_pod_point: pod_point(pa),
        dst_pod_point: pod_point(pb),
        siblings: lab
            .pods
            .iter()
            .enumerate()
            .filter(|&(i, p)| i != a && i != b && (p.host == pa.host || p.host == pb.host))
            .map(|(_, p)| pod_point(p))
            .collect(),
        mtu: pa.mtu,
        max_loss: 0.0,
        flood: Default::default(),
        host_macs: Default::default(),
        host_names: (ha.node.clone(), hb.node.clone()),
    }
}

/// A pod's own interface, as a capture point.
fn pod_point(pod: &crate::lab::LabPod) -> PointId {
    PointId::with_role(&pod.node, &pod.pod_if, Role::Pod)
}

/// Tells this run's probes from any other ICMP on the wire, an earlier run's included.
pub(super) fn run_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    nanos ^ std::process::id().rotate_left(16)
}

pub(super) fn host_of(lab: &Lab, pod: usize) -> &crate::lab::LabHost {
    lab.host(lab.pods[pod].host)
        .expect("Lab checks every pod has its host")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each pod pair once per family, the families in turn; each is a pair of its own, so no
    /// probe of one family shares an echo identifier or tag with a probe of the other.
    #[test]
    fn every_pod_pair_is_probed_in_each_family_under_identifiers_of_its_own() {
        let pods = ordered_pairs(3);
        let pairs = in_families(&pods, &[Family::Ipv4, Family::Ipv6]);
        assert_eq!(pairs.len(), 12);
        assert!(pairs[..6].iter().all(|p| p.family == Family::Ipv4));
        assert!(pairs[6..].iter().all(|p| p.family == Family::Ipv6));
        assert_eq!(
            pairs[..6].iter().map(|p| p.pods()).collect::<Vec<_>>(),
            pairs[6..].iter().map(|p| p.pods()).collect::<Vec<_>>()
        );
        let run = 0x5eed;
        let kinds = [ProbeKind::Ping, ProbeKind::FullSize, ProbeKind::Steady(3)];
        let ids = |range: std::ops::Range<usize>| -> std::collections::HashSet<(u16, u16)> {
            range
                .flat_map(|k| kinds.map(|kind| ProbeId::new(k, kind).echo_fields(run)))
                .collect()
        };
        assert!(ids(0..6).is_disjoint(&ids(6..12)));
        assert_eq!(in_families(&pods, &[Family::Ipv4]).len(), 6);
    }

    #[test]
    fn a_pair_s_plan_is_in_its_family() {
        let spec = crate::plan::LabSpec {
            ip_family: crate::family::IpFamily::Dual,
            ..crate::plan::LabSpec::article(crate::plan::Mode::Vxlan, 3, None)
        };
        let l = crate::lab::tests::lab_of_spec(&spec);
        let pair = ProbePair {
            from: 0,
            to: 1,
            family: Family::Ipv6,
        };
        let p = pair_plan(&l, pair);
        assert_eq!(p.src_pod.to_string(), "fd00:172:16::2");
        assert_eq!(p.dst_host.to_string(), "fd00:10:0:2::2");
        assert_eq!(
            p.expected(true),
            "UDP/4789 VXLAN vni 1 between fd00:10:0:2::2 and fd00:10:0:1::2"
        );
        let four = pair_plan(
            &l,
            ProbePair {
                family: Family::Ipv4,
                ..pair
            },
        );
        assert_eq!(four.dst_host.to_string(), "10.0.2.2");
    }

    /// Cilium's dual stack tunnels IPv6 pods over the IPv4 underlay: an IPv6 pair expects its
    /// VXLAN between the hosts' IPv4 addresses, and the lab says IPv4 is the outer family.
    #[test]
    fn a_cilium_ipv6_pair_expects_vxlan_over_the_ipv4_underlay() {
        let spec = crate::plan::LabSpec {
            flavor: crate::plan::Flavor::Cilium,
            ip_family: crate::family::IpFamily::Dual,
            ..crate::plan::LabSpec::article(crate::plan::Mode::Vxlan, 3, None)
        };
        let l = crate::lab::tests::lab_of_spec(&spec);
        assert_eq!(l.underlay_protocol, Some(Family::Ipv4));
        assert_eq!(l.outer_family(Family::Ipv6), Family::Ipv4);
        let six = ProbePair {
            from: 1,
            to: 0,
            family: Family::Ipv6,
        };
        let p = pair_plan(&l, six);
        assert_eq!(p.src_pod.to_string(), "fd00:172:16:1::2");
        assert_eq!(
            p.expected(false),
            "UDP/8472 VXLAN vni 256 between 10.0.2.2 and 10.0.1.2"
        );
        // Without the label, each family tunnels over its own underlay, as flannel's does.
        let flannel = crate::lab::tests::lab_of_spec(&crate::plan::LabSpec {
            flavor: crate::plan::Flavor::Flannel,
            ..spec
        });
        assert_eq!(flannel.outer_family(Family::Ipv6), Family::Ipv6);
    }

    /// A dual ipip lab expects each family in its own shape: IPv4 in IPIP between the hosts'
    /// IPv4 underlay addresses, IPv6 in Calico's IPv6 VXLAN between their IPv6 ones.
    #[test]
    fn a_dual_ipip_pair_expects_ipip_in_ipv4_and_vxlan_in_ipv6() {
        for flavor in [crate::plan::Flavor::Article, crate::plan::Flavor::Calico] {
            let spec = crate::plan::LabSpec {
                flavor,
                ip_family: crate::family::IpFamily::Dual,
                ..crate::plan::LabSpec::article(crate::plan::Mode::Ipip, 3, None)
            };
            let l = crate::lab::tests::lab_of_spec(&spec);
            let six = ProbePair {
                from: 0,
                to: 2,
                family: Family::Ipv6,
            };
            assert_eq!(
                pair_plan(&l, six).expected(false),
                "UDP/4789 VXLAN vni 4096 between fd00:10:0:1::2 and fd00:10:0:3::2",
                "{flavor}"
            );
            let four = pair_plan(
                &l,
                ProbePair {
                    family: Family::Ipv4,
                    ..six
                },
            );
            assert_eq!(
                four.expected(false),
                "IPIP (protocol 4) between 10.0.1.2 and 10.0.3.2"
            );
        }
    }
}
