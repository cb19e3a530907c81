//! Captured frames sorted to the probes they belong to, and how each capture point reads its
//! frames.

use super::*;

/// Every captured frame, dissected once and sorted to its probe; the rest kept for lab-wide
/// checks.
pub(super) struct Collected {
    pub(super) seen: observe::Sightings,
    pub(super) unclaimed: Vec<(PointId, crate::wire::Wire)>,
    pub(super) undissectable: usize,
}

pub(super) fn collect(
    lab: &Lab,
    flows: &Flows,
    points: &[CapturePoint],
    observed: Vec<Observed>,
) -> Collected {
    let pod_nodes: BTreeSet<&str> = lab.pods.iter().map(|p| p.node.as_str()).collect();
    let between_nodes: Vec<bool> = points
        .iter()
        .map(|p| !pod_nodes.contains(p.id.node.as_str()))
        .collect();
    let undissectable = observed.iter().map(|o| o.undissectable).sum();
    let named = points.iter().map(|p| p.id.clone()).zip(observed).collect();
    let (mut seen, others) = observe::Sightings::new(named, |s| match s.owner {
        Owner::Probe { id, .. } => Some(id.probe()),
        Owner::Segment { flow, .. } => flows.get(&flow).copied(),
        Owner::Unclaimed => None,
    });
    let mut unclaimed = Vec::new();
    for (p, i) in others {
        // Taken out either way: what is not checked for leaks is of no further use.
        let Some((name, s)) = seen.take_frame(p, i) else {
            continue;
        };
        if between_nodes[p]
            && matches!(
                s.wire,
                crate::wire::Wire::Plain(_) | crate::wire::Wire::Vxlan { .. }
            )
        {
            unclaimed.push((name.clone(), s.wire));
        }
    }
    Collected {
        seen,
        unclaimed,
        undissectable,
    }
}

/// How each point's capture thread reads its frames, point by point.
pub(super) fn observers(
    lab: &Lab,
    points: &[CapturePoint],
    probes: &ProbePlan,
    keep_raw: bool,
) -> Vec<observe::Observer> {
    let pod_nodes: BTreeSet<&str> = lab.pods.iter().map(|p| p.node.as_str()).collect();
    points
        .iter()
        .map(|p| observe::Observer {
            run: probes.run,
            pairs: probes.pairs.len(),
            vxlan_ports: vxlan_ports(lab),
            pod_point: pod_nodes.contains(p.id.node.as_str()),
            keep_raw,
            outgoing_only: decrypts_in_place(lab, &p.id),
        })
        .collect()
}

/// Whether `point` is a host's underlay in an IPsec lab, whose taps see each decrypted packet
/// again in the clear (see [`observe::Observer::outgoing_only`]).
pub(super) fn decrypts_in_place(lab: &Lab, point: &crate::lab::point::PointId) -> bool {
    let ipsec = lab.ipsec();
    ipsec && point.role == Some(crate::lab::point::Role::HostUnderlay)
}

/// The UDP ports whose datagrams are read as VXLAN: the lab's own, then the well-known ones
/// (a VTEP configured with another port shows up there).
pub(super) fn vxlan_ports(lab: &Lab) -> Vec<u16> {
    let mut ports = vec![crate::plan::VXLAN_PORT, 8472];
    if let Some(v) = lab.vxlan() {
        ports.insert(0, v.port);
    }
    ports
}
