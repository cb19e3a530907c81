//! What a cold proof of a large flood-and-learn VXLAN lab costs, said once before it starts.
//!
//! After each phase's flush, every ordered pair's first contact is an ARP request that the
//! sending VTEP copies to each of the other N − 1 VTEPs: N·(N−1)² VXLAN copies in a run,
//! about 16.3 million at 254 hosts. The model is bench/verify_floor.py's (the same pings
//! through fping, nothing captured) as measured on 2 cores: about 7 µs per flooded copy and
//! 40 µs per steady ping (13 per pair), 147 s at 254 hosts and 11 s at 100. Forwarding spreads
//! over the machine's CPUs, so the estimate scales with their number.

use super::phases::cold_first_window;
use crate::lab::Lab;
use std::time::Duration;

/// From this many hosts a cold proof takes long enough to be worth saying before it starts.
pub const LARGE: usize = 100;

const FLOOD_COPY_2CPU: Duration = Duration::from_nanos(7_000);
const STEADY_PING_2CPU: Duration = Duration::from_nanos(40_000);
const STEADY_PINGS: u64 = 13;

/// Whether first contacts flood: a family crosses in VXLAN whose VTEPs learn their peers (no
/// static VTEP MAC, no flow-based device), as the article's vxlan does.
pub fn floods(lab: &Lab) -> bool {
    use crate::family::Family;
    let static_mac = |h: &crate::lab::LabHost, family| match family {
        Family::Ipv4 => h.vtep_mac.is_some(),
        Family::Ipv6 => h.v6.as_ref().is_some_and(|v6| v6.vtep_mac.is_some()),
    };
    lab.encaps().into_iter().any(|(family, encap)| {
        encap.vxlan().is_some()
            && lab
                .hosts
                .iter()
                .any(|h| !static_mac(h, family) && !h.flow_based)
    })
}

/// The floor's time for a cold proof of `hosts` hosts on `cpus` CPUs.
pub fn floor(hosts: usize, cpus: usize) -> Duration {
    let n = hosts as u64;
    let m = n.saturating_sub(1);
    let copies = n * m * m;
    let pings = n * m * STEADY_PINGS;
    let at_2cpu = FLOOD_COPY_2CPU * copies as u32 + STEADY_PING_2CPU * pings as u32;
    at_2cpu * 2 / cpus.max(1) as u32
}

/// A backlog queue that lets a 254-host lab's cold verify fly 15 first contacts at once
/// instead of 3: at 254 article hosts on 2 CPUs it took 336 s where the default's took 418 s,
/// and the floor's fping lost the probes of 7 senders where it lost 288 (docs/benchmarks.md).
pub const ROOMIER_BACKLOG: usize = 4000;

/// The one line for a large flood-and-learn lab; None for any other. `backlog` is the
/// machine's backlog queue per CPU (see [`super::schedule::first_contact_window`]): when a
/// queue of [`ROOMIER_BACKLOG`] would let more first contacts fly than it does, the line says
/// so, counted as a cold run counts them.
pub fn hint(lab: &Lab, cpus: usize, backlog: usize) -> Option<String> {
    let hosts = lab.hosts.len();
    if hosts < LARGE || !floods(lab) {
        return None;
    }
    let m = hosts - 1;
    let copies = (hosts * m * m) as f64 / 1e6;
    let secs = floor(hosts, cpus).as_secs();
    Some(format!(
        "a cold proof of this flood-and-learn lab floods {copies:.1} million VXLAN copies \
         (every first contact's ARP goes to all {m} peer VTEPs): about {secs} s of traffic alone \
         on {cpus} idle CPUs, and verify takes 1.1 to 1.5 times what that traffic takes on the \
         same machine{}; `cnilab gen --flavor flannel` programs static peers and floods nothing",
        roomier_backlog(hosts, backlog)
    ))
}

/// How many first contacts a queue of [`ROOMIER_BACKLOG`] would let fly, where that is more
/// than the machine's queue lets; empty otherwise.
fn roomier_backlog(hosts: usize, backlog: usize) -> String {
    let window = |backlog| cold_first_window(hosts, backlog);
    let (now, roomier) = (window(backlog), window(ROOMIER_BACKLOG));
    if roomier <= now {
        return String::new();
    }
    format!(
        "; the backlog queue (net.core.netdev_max_backlog = {backlog}) lets {now} first \
         contacts fly at once, and {ROOMIER_BACKLOG} would let {roomier}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::tests::flavored_lab as lab;
    use crate::plan::{Flavor, Mode};

    #[test]
    fn only_a_large_flood_and_learn_lab_gets_the_hint() {
        let line =
            hint(&lab(Mode::Vxlan, Flavor::Article, 100), 2, 1000).expect("a hint at 100 hosts");
        assert!(
            line.contains("0.98 million") || line.contains("1.0 million"),
            "{line}"
        );
        assert!(
            line.contains("about 12 s") && line.contains("--flavor flannel"),
            "{line}"
        );
        assert_eq!(hint(&lab(Mode::Vxlan, Flavor::Article, 99), 2, 1000), None);
        for (mode, flavor) in [
            (Mode::Vxlan, Flavor::Flannel),
            (Mode::Vxlan, Flavor::Calico),
            (Mode::Vxlan, Flavor::Cilium),
            (Mode::HostGw, Flavor::Article),
        ] {
            assert_eq!(
                hint(&lab(mode, flavor, 100), 2, 1000),
                None,
                "{mode:?} {flavor:?}"
            );
        }
    }

    /// The queue that holds the floods in flight is the machine's: the line says what a
    /// roomier one would let fly, and says nothing of it once the queue holds verify's limit.
    #[test]
    fn a_backlog_queue_that_holds_first_contacts_back_is_named_with_a_roomier_one() {
        let at = |hosts, backlog| hint(&lab(Mode::Vxlan, Flavor::Article, hosts), 2, backlog);
        let line = at(254, 1000).expect("a hint at 254 hosts");
        assert!(
            line.contains("netdev_max_backlog = 1000) lets 3 first contacts fly at once")
                && line.contains("4000 would let 15"),
            "{line}"
        );
        let line = at(100, 1000).expect("a hint at 100 hosts");
        assert!(
            line.contains("lets 10 first") && line.contains("4000 would let 24"),
            "{line}"
        );
        for (hosts, backlog) in [(254, 4000), (254, 10_000), (100, 2400)] {
            let line = at(hosts, backlog).expect("a hint");
            assert!(
                !line.contains("backlog"),
                "{hosts} hosts, {backlog}: {line}"
            );
        }
    }

    #[test]
    fn the_model_gives_the_floors_measured_on_two_cpus() {
        assert_eq!(floor(254, 2).as_secs(), 147);
        assert_eq!(floor(100, 2).as_secs(), 12);
        assert_eq!(floor(254, 4).as_secs(), 73);
    }
}
