//! Labs and reports for the exporters' tests: a lab as `cnilab gen` writes it, and a report
//! of every ordered pod pair, failing where a test says so.

use crate::gen::{generate_all, GenRequest};
use crate::graph::LabGraph;
use crate::lab::point::PointId;
use crate::lab::Lab;
use crate::plan::{Flavor, Mode};
use crate::topology::Topology;
use crate::verify::judge::{Loss, Outcome, PairVerdict};
use crate::verify::reason::{Direction, ProbeName, Reason, Sighted};
use crate::verify::report::{PairRow, Report, Start};
use std::time::Duration;

pub struct Fixture {
    pub topo: Topology,
    pub lab: Lab,
}

impl Fixture {
    pub fn graph(&self) -> LabGraph {
        LabGraph::from_topology(&self.topo, &self.lab)
    }
}

pub fn vxlan(hosts: usize, pods_per_host: usize) -> Fixture {
    let text = generate_all(&GenRequest {
        mode: Mode::Vxlan,
        flavor: Flavor::Article,
        hosts,
        pods_per_host,
        lab: Some("fx"),
        underlay: None,
        routing: Default::default(),
        direct_routing: false,
        cross_subnet: false,
        encryption: crate::plan::encryption::Encryption::None,
        ip_family: Default::default(),
        templates: None,
        services: Default::default(),
    })
    .unwrap()
    .text;
    let topo = Topology::parse(&text).unwrap();
    let lab = Lab::from_topology(&topo).unwrap();
    Fixture { topo, lab }
}

/// Every ordered pod pair of the lab; `reasons` says why a pair fails (none: it passed).
pub fn report(lab: &Lab, reasons: impl Fn(&str, &str) -> Vec<Reason>) -> Report {
    let mut pairs = Vec::new();
    for a in &lab.pods {
        for b in lab.pods.iter().filter(|b| b.node != a.node) {
            let why = reasons(&a.node, &b.node);
            pairs.push(PairRow {
                from: a.node.clone(),
                to: b.node.clone(),
                family: crate::family::Family::Ipv4,
                from_ip: a.v4().into(),
                to_ip: b.v4().into(),
                verdict: PairVerdict {
                    rtt: why.is_empty().then(|| Duration::from_micros(412)),
                    wire: format!(
                        "VXLAN vni 1 10.0.{}.2>10.0.{}.2 [{}>{}]",
                        a.host,
                        b.host,
                        a.v4(),
                        b.v4()
                    ),
                    reasons: why,
                    loss: Loss { sent: 13, lost: 0 },
                    remarks: vec![],
                    expected_failure: None,
                },
            });
        }
    }
    Report {
        families: vec![crate::family::Family::Ipv4],
        lab: lab.name.clone(),
        inferred: None,
        mode: lab.mode(),
        hosts: lab.hosts.len(),
        start: Start::Cold { phases: 4 },
        probed: crate::verify::PairChoice::All,
        pairs,
        findings: vec![],
        warnings: vec![],
        strict: false,
        captures: vec![],
        lab_pcap: None,
        undissectable: 0,
        notes: vec![],
        elapsed_ms: 2345,
        peak_memory_kib: Some(20_000),
        services: Vec::new(),
    }
}

/// The reasons of a pod whose host lost its route to the peer's pods: plain IPv4 on the
/// underlay instead of VXLAN, and no reply. Each pair's text differs, as in a real run.
pub fn unrouted(from: &str, to: &str) -> Vec<Reason> {
    vec![
        Reason::Misfit {
            at: Sighted {
                transport: None,
                direction: Direction::Request,
                points: vec![PointId::new(from.replace("pod", "host"), "eth1")],
            },
            expected: format!("UDP/4789 VXLAN vni 1 between the hosts of {from} and {to}"),
            saw: format!("plain IPv4 {from} > {to}"),
            note: Some("pod addresses in plain on the underlay"),
        },
        Reason::ProbeFailed {
            probe: ProbeName::Ping,
            outcome: Outcome::NoReply { attempts: 3 },
        },
        Reason::NotSeen {
            probe: ProbeName::Ping,
            direction: Direction::Request,
            point: PointId::new(to.replace("pod", "host"), "eth1"),
        },
    ]
}
