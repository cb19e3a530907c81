//! What a cold proof of a large flood-and-learn VXLAN lab costs, said once before it starts.
//!
//! After each phase's flush, every ordered pair's first contact is an ARP request that the
//! sending VTEP copies to each of the other N − 1 VTEPs: N·(N−1)² VXLAN copies in a run,
//! about 16.3 million at 254 hosts. The model is bench/verify_floor.py's (the same pings
//! through fping, nothing captured) as measured on 2 cores: about 7 µs per flooded copy and
//! 40 µs per steady ping (13 per pair), 147 s at 254 hosts and 11 s at 100. Forwarding spreads
//! over the machine's CPUs, so the estimate scales with their number.

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

/// The one line for a large flood-and-learn lab; None for any other.
pub fn hint(lab: &Lab, cpus: usize) -> Option<String> {
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
         on {cpus} CPUs, and verify takes 1.6 to 2 times that; `cnilab gen --flavor flannel` \
         programs static peers and floods nothing"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::tests::flavored_lab as lab;
    use crate::plan::{Flavor, Mode};

    #[test]
    fn only_a_large_flood_and_learn_lab_gets_the_hint() {
        let line = hint(&lab(Mode::Vxlan, Flavor::Article, 100), 2).expect("a hint at 100 hosts");
        assert!(
            line.contains("0.98 million") || line.contains("1.0 million"),
            "{line}"
        );
        assert!(
            line.contains("about 12 s") && line.contains("--flavor flannel"),
            "{line}"
        );
        assert_eq!(hint(&lab(Mode::Vxlan, Flavor::Article, 99), 2), None);
        for (mode, flavor) in [
            (Mode::Vxlan, Flavor::Flannel),
            (Mode::Vxlan, Flavor::Calico),
            (Mode::Vxlan, Flavor::Cilium),
            (Mode::HostGw, Flavor::Article),
        ] {
            assert_eq!(
                hint(&lab(mode, flavor, 100), 2),
                None,
                "{mode:?} {flavor:?}"
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
