//! Expected failures: pairs a lab declares it cannot carry, and where their packets die.
//!
//! Like netlab's `expect: fail`, a lab that demonstrates a failure (host-gw across a router)
//! says so in its labels. verify passes such a pair only when it fails in exactly the declared
//! way: the request reaches the node named in `cnilab.expect-fail-at`, goes no further, and
//! that node has no route to the destination.
//! A pair that works, or fails somewhere else, fails the lab and says which.

use super::judge::{Outcome, PairVerdict, ProbeResult};
pub use crate::lab::expect::{ExpectFail, HostSet};
use crate::lab::Lab;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

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
    /// Every node of the lab, to tell which one a capture point belongs to.
    pub nodes: &'a [&'a str],
}

/// Every node a capture point can belong to.
pub fn node_names(lab: &crate::lab::Lab) -> Vec<&str> {
    let hosts = lab.hosts.iter().map(|h| h.node.as_str());
    let pods = lab.pods.iter().map(|p| p.node.as_str());
    let routers = lab.routers.iter().map(|r| r.node.as_str());
    hosts.chain(pods).chain(routers).collect()
}

/// Checks one pair's first-contact ping against the expectation.
pub fn check(expect: &ExpectFail, path: &PairPath<'_>, ping: &ProbeResult) -> Held {
    if matches!(ping.outcome, Outcome::Reply { .. }) {
        return Held::Works;
    }
    let requests: BTreeSet<&str> = ping
        .seen
        .iter()
        .filter(|s| !s.reply)
        .map(|s| s.point.as_str())
        .collect();
    let node_of = |point: &str| node_of(point, path.nodes).unwrap_or(point).to_string();
    let at_points: Vec<String> = requests
        .iter()
        .filter(|p| node_of(p) == expect.at)
        .map(|p| p.to_string())
        .collect();
    if at_points.is_empty() {
        let last = requests.iter().copied().collect::<Vec<_>>().join(", ");
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
    let beyond: Vec<&str> = requests
        .iter()
        .copied()
        .filter(|p| ![path.src_pod, path.src_host, expect.at.as_str()].contains(&&*node_of(p)))
        .collect();
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
/// node's kernel has none to the destination: a drop by anything else (a firewall, a down
/// link) is another failure. Asks the node's main table, as `ip route get` does.
pub fn for_want_of_a_route(held: Held, e: &ExpectFail, lab: &Lab, dst: Ipv4Addr) -> Held {
    let Held::Yes { .. } = held else {
        return held;
    };
    let Some(router) = lab.routers.iter().find(|r| r.node == e.at) else {
        return held;
    };
    let dst = dst.to_string();
    let found = duct::cmd!("ip", "-n", &router.namespace, "route", "get", &dst)
        .stdin_null()
        .stderr_null()
        .stdout_capture()
        .unchecked()
        .run()
        .is_ok_and(|o| o.status.success());
    match found {
        false => held,
        true => Held::OtherWay(format!(
            "the request died at {}, but {} has a route to {dst}: something else dropped it",
            e.at, e.at
        )),
    }
}

/// The node a capture point (`<node>-<iface>`) belongs to: the longest node name that
/// prefixes it, since node names may contain `-` themselves (`pod1-2`).
fn node_of<'a>(point: &str, nodes: &[&'a str]) -> Option<&'a str> {
    nodes
        .iter()
        .copied()
        .filter(|n| point.strip_prefix(n).is_some_and(|r| r.starts_with('-')))
        .max_by_key(|n| n.len())
}

/// Turns the verdict of a pair the lab expects to fail into the verdict on the expectation.
pub fn apply(expect: &ExpectFail, held: Held, verdict: &mut PairVerdict) {
    let declared = format!("expected to die at {} ({})", expect.at, expect.why);
    match held {
        Held::Yes { seen_at } => {
            verdict.passed = true;
            verdict.reasons.clear();
            verdict.remarks.clear();
            verdict.expected_failure = Some(format!(
                "dies at {} as expected (request seen on {}, nowhere further): {}",
                expect.at,
                seen_at.join(", "),
                expect.why
            ));
        }
        Held::Works => {
            verdict.passed = false;
            verdict.reasons.insert(
                0,
                format!("{declared}, but it works: the expectation no longer holds"),
            );
        }
        Held::OtherWay(how) => {
            verdict.passed = false;
            verdict
                .reasons
                .insert(0, format!("{declared}, but it failed another way: {how}"));
        }
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

    const NODES: [&str; 6] = ["pod1", "host1", "gw1", "gw2", "host2", "pod2"];

    fn path() -> PairPath<'static> {
        PairPath {
            src_pod: "pod1",
            src_host: "host1",
            nodes: &NODES,
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
                    point: p.to_string(),
                    dst_mac: [0; 6],
                    reply: false,
                    wire: wire.clone(),
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
    fn points_belong_to_the_longest_node_name() {
        let nodes = ["pod1", "pod1-2", "host1"];
        assert_eq!(node_of("pod1-2-eth1", &nodes), Some("pod1-2"));
        assert_eq!(node_of("pod1-eth1", &nodes), Some("pod1"));
        assert_eq!(node_of("gw9-eth1", &nodes), None);
    }
}
