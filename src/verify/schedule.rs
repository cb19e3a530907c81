//! In which order pairs are probed, so that no probe rides on state another probe taught.
//!
//! A host that receives traffic learns from it: the VXLAN device learns the sender's VTEP, ARP
//! learns the sender's address, a bridge learns its MAC. If a host both sends and receives in
//! the same phase, its outgoing probes may work only because of what its incoming ones taught
//! it (a missing flood entry is healed by the peer's ARP request). So a phase has senders and
//! receivers that are disjoint sets of hosts, and learned state is flushed between phases.
//!
//! The schedule splits hosts by the bits of their number: for each bit b, one phase sends
//! from the hosts whose bit b is 0 to those whose bit b is 1, and one the other way. Two
//! different hosts differ in some bit, so every ordered pair is probed in exactly one phase
//! (the phase of the lowest differing bit). That is 2·⌈log₂ N⌉ phases: 2 for 2 hosts, 10 for
//! 30, 14 for 100, each with one flush, instead of N·(N−1) one-pair phases.
//!
//! Pairs whose pods share a host cannot be separated this way; they go into a last phase.

/// One phase: which pairs (indices into the run's pair list) are probed together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub pairs: Vec<usize>,
}

/// The most pairs probed, and then judged, as one batch. What verify holds of a batch's
/// frames grows with its pairs; a quarter of a 254-host lab's pairs (a phase) would be some
/// 16,000 at once.
pub const BATCH_PAIRS: usize = 4096;

impl Phase {
    /// The phase's pairs in batches, probed one after another with no flush between. That
    /// proves as much as probing them at once: a batch has the phase's senders and receivers,
    /// so whatever an earlier batch taught a host, the phase's other probes could have taught
    /// it had they all run together.
    pub fn batches(&self) -> std::slice::Chunks<'_, usize> {
        self.pairs.chunks(BATCH_PAIRS)
    }
}

/// Cold-start phases for `pairs`, given the host number of each pair's source and destination.
pub fn cold_phases(hosts: &[(usize, usize)]) -> Vec<Phase> {
    let bits = hosts
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .max()
        .map_or(0, |m| usize::BITS - m.leading_zeros()) as usize;
    let mut phases: Vec<Phase> = (0..2 * bits).map(|_| Phase { pairs: vec![] }).collect();
    let mut local = Phase { pairs: vec![] };
    for (k, &(a, b)) in hosts.iter().enumerate() {
        let diff = a ^ b;
        if diff == 0 {
            local.pairs.push(k);
            continue;
        }
        let bit = diff.trailing_zeros() as usize;
        let upward = a >> bit & 1 == 0;
        phases[2 * bit + usize::from(!upward)].pairs.push(k);
    }
    phases.push(local);
    phases.retain(|p| !p.pairs.is_empty());
    phases
}

/// Copies of flooded frames the lab may have in flight at once during a cold first contact.
/// After a flush, a host's first frame to a peer is an ARP request and then the probe itself,
/// each replicated to every VTEP in the flood list (N − 1 copies, each crossing several
/// veths), and every crossing waits in the CPU's backlog queue (net.core.netdev_max_backlog,
/// 1000 by default). Past that queue the kernel drops frames, an ARP reply among them, and a
/// healthy pair fails with "host unreachable".
const FLOOD_BUDGET: usize = 240;

/// How many first-contact probes may be in flight across a lab of `hosts` hosts, at most
/// `limit`: the flood budget shared by the copies each one floods.
pub fn first_contact_window(hosts: usize, limit: usize) -> usize {
    (FLOOD_BUDGET / hosts.max(1)).clamp(2, limit.max(2))
}

/// Warm mode: every pair at once, on whatever the lab has learnt.
pub fn warm_phase(pairs: usize) -> Vec<Phase> {
    vec![Phase {
        pairs: (0..pairs).collect(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn host_pairs(n: usize) -> Vec<(usize, usize)> {
        (1..=n)
            .flat_map(|a| (1..=n).filter(move |&b| b != a).map(move |b| (a, b)))
            .collect()
    }

    #[test]
    fn every_pair_once_and_no_host_sends_and_receives_in_a_phase() {
        for n in [2, 3, 5, 30, 100] {
            let pairs = host_pairs(n);
            let phases = cold_phases(&pairs);
            let mut all: Vec<usize> = phases.iter().flat_map(|p| p.pairs.clone()).collect();
            all.sort();
            assert_eq!(all, (0..pairs.len()).collect::<Vec<_>>(), "n={n}");
            for phase in &phases {
                let senders: BTreeSet<usize> = phase.pairs.iter().map(|&k| pairs[k].0).collect();
                let receivers: BTreeSet<usize> = phase.pairs.iter().map(|&k| pairs[k].1).collect();
                assert!(senders.is_disjoint(&receivers), "n={n}: {phase:?}");
            }
        }
    }

    #[test]
    fn the_number_of_phases_grows_with_log_n() {
        assert_eq!(cold_phases(&host_pairs(2)).len(), 2);
        assert!(cold_phases(&host_pairs(30)).len() <= 10);
        assert!(cold_phases(&host_pairs(100)).len() <= 14);
    }

    #[test]
    fn first_contacts_in_flight_shrink_as_floods_grow() {
        assert_eq!(first_contact_window(2, 24), 24);
        assert_eq!(first_contact_window(20, 24), 12);
        assert_eq!(first_contact_window(100, 24), 2);
        assert_eq!(first_contact_window(254, 24), 2);
    }

    #[test]
    fn a_phase_is_probed_in_bounded_batches_that_keep_every_pair_once() {
        let phase = Phase {
            pairs: (0..2 * BATCH_PAIRS + 5).collect(),
        };
        let batches: Vec<&[usize]> = phase.batches().collect();
        assert_eq!(batches.len(), 3);
        assert!(batches.iter().all(|b| b.len() <= BATCH_PAIRS));
        assert_eq!(batches.concat(), phase.pairs);
    }

    #[test]
    fn pods_on_one_host_get_a_phase_of_their_own() {
        let phases = cold_phases(&[(1, 2), (2, 2)]);
        assert_eq!(phases.last().unwrap().pairs, [1]);
    }
}
