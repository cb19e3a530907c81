//! Each host's WireGuard state read back after the probes, and what is wrong with it: a peer
//! missing, without a handshake, stale, at the wrong endpoint, or without the peer's pod
//! subnet (its tunnel address, where the mode runs inside the tunnel) in its allowed-ips.
//!
//! Where wireguard-go runs the device (a kernel without WireGuard), its control socket is in
//! the host's WireGuard folder beside the topology (bound at /var/run/wireguard in the node),
//! and is asked directly; otherwise `wg show DEV dump` in the host's namespace asks the kernel.

use super::reason::{Reason, WgProblem};
use crate::lab::{Lab, LabHost};
use crate::sys::wireguard::WgState;
use std::net::SocketAddrV4;
use std::path::Path;

/// How long WireGuard keeps a session (REJECT_AFTER_TIME): a handshake older than this,
/// right after traffic, is stale.
pub const SESSION_SECS: u64 = 180;

/// The host's device state, from wireguard-go's control socket or the kernel.
pub fn read(lab: &Lab, lab_dir: &Path, host: &LabHost) -> Result<WgState, String> {
    let (Some(wg), Some(own)) = (&lab.encryption, &host.wg) else {
        return Err("the lab states no WireGuard for this host".into());
    };
    crate::sys::wireguard::read(&lab_dir.join(&own.dir), &host.namespace, &wg.dev)
}

/// Every problem of every host's peers, as (host, peer host, reason); `now` in seconds since
/// the epoch.
pub fn problems(
    lab: &Lab,
    states: &[(usize, Result<WgState, String>)],
    now: u64,
) -> Vec<(usize, usize, Reason)> {
    let mut out = Vec::new();
    // IPsec has no peers to read back: its states are static, and the wire shows their SPI.
    let Some(wg) = lab.encryption.as_ref().filter(|wg| wg.ipsec_key.is_none()) else {
        return out;
    };
    for (index, state) in states {
        let Some(h) = lab.host(*index) else { continue };
        for p in lab.hosts.iter().filter(|p| p.index != h.index) {
            let problem = match state {
                Err(why) => Some(WgProblem::Unreadable { why: why.clone() }),
                Ok(state) => peer_problem(state, p, wg.port, now),
            };
            out.extend(problem.map(|problem| {
                let reason = Reason::WgPeer {
                    node: h.node.clone(),
                    peer: p.node.clone(),
                    problem,
                };
                (h.index, p.index, reason)
            }));
        }
    }
    out
}

/// What is wrong with `state`'s peer for host `p`, the first thing only: a peer at the wrong
/// endpoint has no handshake either, and the endpoint is what to fix.
fn peer_problem(state: &WgState, p: &LabHost, port: u16, now: u64) -> Option<WgProblem> {
    let key = p.wg.as_ref()?.public_key.clone();
    let Some(peer) = state.peer(&key) else {
        return Some(WgProblem::Missing { public_key: key });
    };
    // An encrypted lab has IPv4 (the loader refuses one without it).
    let planned = SocketAddrV4::new(p.underlay_ip?, port);
    if peer.endpoint != Some(planned) {
        return Some(WgProblem::Endpoint {
            saw: peer.endpoint,
            planned,
        });
    }
    let carried = carried_for(p)?;
    if !peer.allowed_ips.iter().any(|n| n.contains(&carried)) {
        return Some(WgProblem::AllowedIps { missing: carried });
    }
    match peer.latest_handshake {
        0 => Some(WgProblem::NoHandshake),
        t if now.saturating_sub(t) > SESSION_SECS => Some(WgProblem::Stale { age_secs: now - t }),
        _ => None,
    }
}

/// What the tunnel carries for host `p`, which its peer's allowed-ips must hold: its pod
/// subnet, or where the mode's encapsulation runs inside the tunnel, its tunnel address.
fn carried_for(p: &LabHost) -> Option<ipnet::Ipv4Net> {
    p.tunnel_ip().map(ipnet::Ipv4Net::from).or(p.pod_subnet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::encryption::Encryption;
    use crate::sys::wireguard::WgPeer;

    fn lab() -> Lab {
        let text = crate::gen::generate(&crate::gen::GenRequest {
            mode: crate::plan::Mode::HostGw,
            flavor: crate::plan::Flavor::Flannel,
            hosts: 3,
            pods_per_host: 1,
            lab: Some("wgs"),
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

    /// Host `i`'s state as planned, every handshake at `hs`.
    fn healthy(lab: &Lab, i: usize, hs: u64) -> WgState {
        WgState {
            public_key: None,
            listen_port: Some(51820),
            peers: (lab.hosts.iter().filter(|p| p.index != i))
                .map(|p| WgPeer {
                    public_key: p.wg.as_ref().unwrap().public_key.clone(),
                    endpoint: Some(SocketAddrV4::new(p.v4_underlay(), 51820)),
                    allowed_ips: p.pod_subnet.into_iter().collect(),
                    latest_handshake: hs,
                    rx_bytes: 1,
                    tx_bytes: 1,
                })
                .collect(),
        }
    }

    fn texts(lab: &Lab, states: Vec<(usize, Result<WgState, String>)>) -> Vec<String> {
        problems(lab, &states, 1000)
            .into_iter()
            .map(|(_, _, r)| r.to_string())
            .collect()
    }

    #[test]
    fn a_healthy_lab_has_no_problem() {
        let lab = lab();
        let states = (1..=3).map(|i| (i, Ok(healthy(&lab, i, 990)))).collect();
        assert_eq!(texts(&lab, states), Vec::<String>::new());
    }

    #[test]
    fn each_fault_is_named_with_what_to_check() {
        let lab = lab();
        let mut one = healthy(&lab, 1, 990);
        one.peers[0].latest_handshake = 0;
        one.peers[1].allowed_ips.clear();
        let mut two = healthy(&lab, 2, 700);
        two.peers.remove(0);
        let states = vec![(1, Ok(one)), (2, Ok(two)), (3, Err("gone".into()))];
        let t = texts(&lab, states);
        assert!(
            t.contains(
                &"no WireGuard handshake answer from host2 (check its peer key for host1)"
                    .to_string()
            ),
            "{t:?}"
        );
        assert!(
            t.iter()
                .any(|s| s.starts_with("host1's WireGuard peer host3 lacks 10.0.3.0/24")),
            "{t:?}"
        );
        assert!(
            t.iter()
                .any(|s| s.starts_with("host2 has no WireGuard peer with host1's public key")),
            "{t:?}"
        );
        assert!(
            t.iter().any(
                |s| s.starts_with("host2's latest WireGuard handshake with host3 is 300 s old")
            ),
            "{t:?}"
        );
        assert_eq!(
            t.iter()
                .filter(|s| s.starts_with("cannot read host3's"))
                .count(),
            2
        );
    }
}
