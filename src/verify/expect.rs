//! Expected failures: pairs a lab declares it cannot carry, and where their packets die.
//!
//! Like netlab's `expect: fail`, a lab that demonstrates a failure (host-gw across a router)
//! says so in its labels. verify passes such a pair only when it fails in exactly the declared
//! way: the request reaches the node named in `cnilab.expect-fail-at`, goes no further, and
//! that node has no route to the destination.
//! A pair that works, or fails somewhere else, fails the lab and says which.

use super::judge::{Outcome, PairVerdict, ProbeResult};
use super::reason::Reason;
pub use crate::lab::expect::{ExpectFail, HostSet};
use crate::lab::point::PointId;
use crate::lab::Lab;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// How an expected failure turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// The request reached the declared node and went no further: the points it was seen on.
    Yes { seen_at: Vec<String> },
    /// The pair works: the expectation no longer holds.
    Works,
    /// It failed, but not at the declared node.
    OtherWay(String),
}

/// The nodes a pair's request passes before it dies: its own pod and host, then `at`.
pub struct PairPath<'a> {
    pub src_pod: &'a str,
    pub src_host: &'a str,
}

/// Checks one pair's first-contact ping against the expectation.
pub fn check(expect: &ExpectFail, path: &PairPath<'_>, ping: &ProbeResult) -> Held {
    if matches!(ping.outcome, Outcome::Reply { .. }) {
        return Held::Works;
    }
    let requests: BTreeSet<&PointId> = ping
        .seen
        .iter()
        .filter(|s| !s.reply)
        .map(|s| &s.point)
        .collect();
    let names = |points: &mut dyn Iterator<Item = &&PointId>| {
        points.map(|p| p.to_string()).collect::<Vec<_>>()
    };
    let at_points = names(&mut requests.iter().filter(|p| p.node == expect.at));
    if at_points.is_empty() {
        let last = names(&mut requests.iter()).join(", ");
        return Held::OtherWay(match last.is_empty() {
            true => format!(
                "the request never reached {}: it was seen nowhere",
                expect.at
            ),
            false => format!(
                "the request never reached {}: seen only on {last}",
                expect.at
            ),
        });
    }
    let passed = [path.src_pod, path.src_host, expect.at.as_str()];
    let beyond = names(
        &mut requests
            .iter()
            .filter(|p| !passed.contains(&p.node.as_str())),
    );
    if !beyond.is_empty() {
        return Held::OtherWay(format!(
            "the request went past {}: seen on {}",
            expect.at,
            beyond.join(", ")
        ));
    }
    Held::Yes { seen_at: at_points }
}

/// A request that died at the declared node died there for want of a route only if that
/// node's kernel has none to the destination (`routed`, from [`has_route_at`]): a drop by
/// anything else (a firewall, a down link) is another failure.
pub fn for_want_of_a_route(held: Held, e: &ExpectFail, dst: IpAddr, routed: bool) -> Held {
    match (held, routed) {
        (Held::Yes { .. }, true) => Held::OtherWay(format!(
            "the request died at {}, but {} has a route to {dst}: something else dropped it",
            e.at, e.at
        )),
        (held, _) => held,
    }
}

/// Whether the router the lab names as where `e`'s requests die has a route to `dst` in its
/// main table, as `ip route get` finds one; false for a node that is not a router.
pub fn has_route_at(e: &ExpectFail, lab: &Lab, dst: IpAddr) -> bool {
    lab.routers
        .iter()
        .find(|r| r.node == e.at)
        .is_some_and(|r| crate::sys::tables::route_to(&r.namespace, dst).unwrap_or(false))
}

/// Turns the verdict of a pair the lab expects to fail into the verdict on the expectation.
pub fn apply(expect: &ExpectFail, held: Held, verdict: &mut PairVerdict) {
    match held {
        Held::Yes { seen_at } => {
            verdict.reasons.clear();
            verdict.remarks.clear();
            verdict.expected_failure = Some(format!(
                "dies at {} as expected (request seen on {}, nowhere further): {}",
                expect.at,
                seen_at.join(", "),
                expect.why
            ));
        }
        Held::Works => verdict.reasons.insert(
            0,
            Reason::ExpectationWorks {
                at: expect.at.clone(),
                why: expect.why.clone(),
            },
        ),
        Held::OtherWay(how) => verdict.reasons.insert(
            0,
            Reason::ExpectationOtherWay {
                at: expect.at.clone(),
                why: expect.why.clone(),
                how,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::judge::Seen;
    use crate::wire::dissect::{Ip, Wire, L4};

    fn expect() -> ExpectFail {
        ExpectFail {
            to: "2".parse().unwrap(),
            at: "gw1".into(),
            why: "no pod route".into(),
        }
    }

    fn path() -> PairPath<'static> {
        PairPath {
            src_pod: "pod1",
            src_host: "host1",
        }
    }

    fn ping(points: &[&str], outcome: Outcome) -> ProbeResult {
        let wire = Wire::Plain(Ip {
            src: "10.0.1.2".parse().unwrap(),
            dst: "10.0.2.2".parse().unwrap(),
            len: 84,
            df: true,
            l4: L4::Other { protocol: 1 },
        });
        ProbeResult {
            outcome,
            seen: points
                .iter()
                .map(|p| Seen {
                    point: PointId::from(*p),
                    dst_mac: [0; 6],
                    reply: false,
                    wire: wire.clone(),
                    copies: 1,
                    ts: std::time::Duration::ZERO,
                })
                .collect(),
        }
    }

    #[test]
    fn host_sets_parse_and_print_back() {
        let set: HostSet = "1,3-5".parse().unwrap();
        assert!(set.contains(1) && set.contains(4) && !set.contains(2) && !set.contains(6));
        assert_eq!(set.to_string(), "1,3-5");
        assert!("1,x".parse::<HostSet>().is_err());
    }

    #[test]
    fn dying_at_the_declared_router_holds() {
        let none = Outcome::NoReply { attempts: 3 };
        let p = ping(&["pod1-eth1", "host1-eth1", "gw1-eth2"], none.clone());
        assert_eq!(
            check(&expect(), &path(), &p),
            Held::Yes {
                seen_at: vec!["gw1-eth2".into()]
            }
        );
        let past = ping(
            &["pod1-eth1", "gw1-eth2", "gw1-eth1", "gw2-eth1"],
            none.clone(),
        );
        assert!(
            matches!(check(&expect(), &path(), &past), Held::OtherWay(w) if w.contains("went past gw1: seen on gw2-eth1"))
        );
        let short = ping(&["pod1-eth1"], none);
        assert!(
            matches!(check(&expect(), &path(), &short), Held::OtherWay(w) if w.contains("never reached gw1: seen only on pod1-eth1"))
        );
    }

    #[test]
    fn a_pair_that_works_breaks_the_expectation() {
        let works = Outcome::Reply {
            rtt: std::time::Duration::from_millis(1),
            attempts: 1,
        };
        let p = ping(&["pod1-eth1", "gw1-eth2", "gw2-eth1"], works);
        assert_eq!(check(&expect(), &path(), &p), Held::Works);
    }

    #[test]
    fn a_pod_whose_name_prefixes_another_is_told_apart() {
        let e = ExpectFail {
            at: "pod1".into(),
            ..expect()
        };
        let path = PairPath {
            src_pod: "pod9",
            src_host: "host1",
        };
        let none = Outcome::NoReply { attempts: 3 };
        let mut p = ping(&["host1-eth1"], none);
        p.seen[0].point = PointId::new("pod1-2", "eth1");
        assert!(
            matches!(check(&e, &path, &p), Held::OtherWay(w) if w.contains("never reached pod1"))
        );
    }
}
