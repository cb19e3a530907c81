//! In which order pairs are probed, so that no probe rides on state another probe taught.
//!
//! A host that receives traffic learns from it: the VXLAN device learns the sender's VTEP, ARP
//! learns the sender's address, a bridge learns its MAC. If a host both sends and receives in
//! the same phase, its outgoing probes may work only because of what its incoming ones taught
//! it (a missing flood entry is healed by the peer's ARP request). So a phase has senders and
//! receivers that are disjoint sets of hosts, and learned state is flushed between phases.
//!
//! Each host gets a code of k bits, every code with the same number of ones (⌊k/2⌋), no two
//! alike. Phase i sends from the hosts whose bit i is set to those whose bit i is clear. Two
//! different codes of equal weight each have a one where the other has a zero, so every
//! ordered pair has a phase (it is probed in the first). k is the least with
//! C(k, ⌊k/2⌋) ≥ N, which by Sperner's theorem is as few phases as any such schedule can
//! have: 2 for 2 hosts, 7 for 30, 9 for 100, 11 for 254, each with one flush, where splitting
//! by the bits of the host's number takes 2·⌈log₂ N⌉ (16 at 254 hosts).
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
    let codes = Codes::new(hosts.iter().flat_map(|&(a, b)| [a, b]));
    let mut phases: Vec<Phase> = (0..codes.width).map(|_| Phase { pairs: vec![] }).collect();
    let mut local = Phase { pairs: vec![] };
    for (k, &(a, b)) in hosts.iter().enumerate() {
        if a == b {
            local.pairs.push(k);
            continue;
        }
        let sends_here = codes.of(a) & !codes.of(b);
        phases[sends_here.trailing_zeros() as usize].pairs.push(k);
    }
    phases.push(local);
    phases.retain(|p| !p.pairs.is_empty());
    phases
}

/// Each host's code: distinct, of `width` bits, all with the same number of ones.
struct Codes {
    width: usize,
    by_host: std::collections::HashMap<usize, u64>,
}

impl Codes {
    fn new(hosts: impl Iterator<Item = usize>) -> Codes {
        let hosts: std::collections::BTreeSet<usize> = hosts.collect();
        let width = (1..64)
            .find(|&k| choose(k, k / 2) >= hosts.len() as u128)
            .unwrap_or(64);
        let ones = (width / 2) as u32;
        let codes = (0u64..).filter(|c| c.count_ones() == ones);
        Codes {
            width,
            by_host: hosts.into_iter().zip(codes).collect(),
        }
    }

    fn of(&self, host: usize) -> u64 {
        self.by_host[&host]
    }
}

/// C(n, k), for n below 64: each step's product stays within u128.
fn choose(n: usize, k: usize) -> u128 {
    (0..k as u128).fold(1, |c, i| c * (n as u128 - i) / (i + 1))
}

/// How many first-contact probes may be in flight across a lab of `hosts` hosts: at most
/// `limit`, and never fewer than 2. After a flush, a host's first frame to a peer is an ARP
/// request that the VTEP replicates to every peer in its flood list (`hosts` − 1 copies) in
/// one go, and each copy waits in the sending CPU's backlog queue (`backlog`,
/// net.core.netdev_max_backlog: 1000 by default) at every veth it crosses. Past that queue the kernel drops frames, an ARP reply
/// among them, and a healthy pair fails with "host unreachable"; so the floods in flight are
/// as many as fit that queue once. More in flight would be faster only by dropping some of
/// them: the conservative end keeps false fails at zero (docs/benchmarks.md has the figures).
pub fn first_contact_window(hosts: usize, backlog: usize, limit: usize) -> usize {
    (backlog / hosts.saturating_sub(1).max(1)).clamp(2, limit.max(2))
}

/// The machine's backlog queue per CPU (net.core.netdev_max_backlog), or the kernel's default
/// where it cannot be read. The sysctl exists only in the initial network namespace, where
/// verify runs: the queue is the machine's, shared by every namespace.
pub fn backlog_queue() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/netdev_max_backlog")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1000)
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
        for n in [2, 3, 5, 30, 100, 254] {
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
    fn as_few_phases_as_sperner_allows() {
        // The least k with C(k, ⌊k/2⌋) ≥ N: no schedule of disjoint senders and receivers
        // covers every ordered pair of N hosts in fewer.
        for (n, k) in [
            (2, 2),
            (3, 3),
            (6, 4),
            (7, 5),
            (30, 7),
            (100, 9),
            (252, 10),
            (254, 11),
        ] {
            assert_eq!(cold_phases(&host_pairs(n)).len(), k, "n={n}");
        }
    }

    #[test]
    fn choose_is_the_binomial_coefficient() {
        assert_eq!(choose(11, 5), 462);
        assert_eq!(choose(10, 5), 252);
        assert_eq!(choose(4, 0), 1);
        assert_eq!(choose(63, 31), 916_312_070_471_295_267);
    }

    #[test]
    fn first_contacts_in_flight_are_as_many_floods_as_fit_the_backlog_queue() {
        assert_eq!(first_contact_window(2, 1000, 24), 24);
        assert_eq!(first_contact_window(30, 1000, 24), 24);
        assert_eq!(first_contact_window(51, 1000, 24), 20);
        assert_eq!(first_contact_window(101, 1000, 24), 10);
        assert_eq!(first_contact_window(254, 1000, 24), 3);
        // A raised queue lets more floods in; the lab-wide limit still holds.
        assert_eq!(first_contact_window(254, 4000, 24), 15);
        assert_eq!(first_contact_window(254, 100_000, 24), 24);
        // Never fewer than two, however large the lab or small the queue.
        assert_eq!(first_contact_window(254, 100, 24), 2);
        // A lone host floods nothing: the lab-wide limit alone holds.
        assert_eq!(first_contact_window(1, 1000, 24), 24);
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
