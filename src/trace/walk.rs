//! From captured frames to the walk: this probe's frames in kernel-timestamp order, each with
//! the decision of its node; and, for a walk that stops, where and why.

use super::capture::{Frame, Point};
use super::decide::{self, Wrap};
use super::packet::Described;
use super::probe::Probe;
use super::snapshot::Snapshot;
use crate::family::Family;
use crate::wire::Tunnel;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// How long after the probe was last seen an ARP (or NDP) frame still counts as part of its
/// walk.
const ARP_AFTER: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Leg {
    Request,
    Reply,
    Arp,
    /// A neighbour solicitation or advertisement: ARP's part in an IPv6 walk.
    Ndp,
    IcmpError,
}

impl Leg {
    /// A frame that resolves a neighbour, not one of the probe's.
    pub fn resolves(self) -> bool {
        matches!(self, Leg::Arp | Leg::Ndp)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Microseconds since the walk's first frame, from the kernel's timestamps.
    pub t_us: u64,
    pub node: String,
    pub iface: String,
    pub direction: &'static str,
    pub leg: Leg,
    pub packet: String,
    pub encap: Option<Tunnel>,
    pub wrap: Option<Wrap>,
    pub decision: String,
    #[serde(skip)]
    pub frame: usize,
    #[serde(skip)]
    pub inner: Option<(IpAddr, IpAddr)>,
}

/// Where a walk that did not come back was last seen, and what that node lacked.
#[derive(Debug, Clone, Serialize)]
pub struct Stop {
    pub node: String,
    pub iface: String,
    pub direction: &'static str,
    pub lacks: String,
}

/// The frames of this probe (and ARP or NDP, as its family resolves neighbours, and ICMP
/// errors about it), in the kernel's order.
pub fn select(
    frames: &[Frame],
    (probe, family): (&Probe, Family),
    vxlan_port: Option<u16>,
    points: &[Point],
    snaps: &HashMap<String, Snapshot>,
) -> Vec<(usize, Described)> {
    let described: Vec<(usize, Described)> = frames
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((i, Described::of(&f.data, f.ethernet, vxlan_port)?)))
        .collect();
    let about_probe = |i: usize, d: &Described| {
        probe.in_frame(&frames[i].data) || d.quoted_echo() == Some((probe.id, probe.seq))
    };
    // ARP belongs to the walk while the probe is on its way, and just after it was last seen
    // (a node asking for a neighbour that never answers); later ARP is the lab's own chatter.
    // NDP plays its part in IPv6.
    let resolves = |d: &Described| match family {
        Family::Ipv4 => d.arp().is_some(),
        Family::Ipv6 => d.ndp().is_some(),
    };
    let arp_until = described
        .iter()
        .filter(|(i, d)| about_probe(*i, d))
        .map(|(i, _)| frames[*i].ts + ARP_AFTER)
        .max()
        .unwrap_or(Duration::MAX);
    let mut picked: Vec<(usize, Described)> = described
        .into_iter()
        .filter(|(i, d)| about_probe(*i, d) || (resolves(d) && frames[*i].ts <= arp_until))
        .collect();
    picked.sort_by_key(|(i, d)| {
        let f = &frames[*i];
        (f.ts, tie_rank(f, d, &points[f.point], snaps))
    });
    picked
}

/// One skb crossing two devices of a namespace carries one stamp. Received: the outer frame
/// before the decapsulated one, a bridge port before its bridge. Sent: the bridge before its
/// port, the inner frame before its encapsulation. A frame is sent before it is received.
fn tie_rank(
    f: &Frame,
    d: &Described,
    p: &Point,
    snaps: &HashMap<String, Snapshot>,
) -> (u8, u8, u8) {
    let link = snaps.get(&p.node).and_then(|s| s.link(&p.iface));
    let enslaved = link.is_some_and(|l| l.master.is_some());
    let bridge = link.and_then(|l| l.kind.as_deref()) == Some("bridge");
    if f.outgoing {
        (0, u8::from(!bridge), u8::from(d.tunnel().is_some()))
    } else {
        (1, u8::from(d.tunnel().is_none()), u8::from(!enslaved))
    }
}

pub fn steps(
    picked: &[(usize, Described)],
    frames: &[Frame],
    points: &[Point],
    snaps: &HashMap<String, Snapshot>,
) -> Vec<Step> {
    let start = picked
        .first()
        .map(|(i, _)| frames[*i].ts)
        .unwrap_or_default();
    let empty = Snapshot::default();
    picked
        .iter()
        .map(|(i, d)| {
            let f = &frames[*i];
            let p = &points[f.point];
            let snap = snaps.get(&p.node).unwrap_or(&empty);
            let (decision, wrap) = if f.outgoing {
                decide::outgoing(snap, &p.iface, d)
            } else {
                decide::incoming(snap, &p.iface, d)
            };
            Step {
                t_us: f.ts.saturating_sub(start).as_micros() as u64,
                node: p.node.clone(),
                iface: p.iface.clone(),
                direction: if f.outgoing { "out" } else { "in" },
                leg: leg(d),
                packet: d.text(),
                encap: d.tunnel(),
                wrap,
                decision,
                frame: *i,
                inner: d.inner(),
            }
        })
        .collect::<Vec<Step>>()
        .into_iter()
        .scan(HashMap::new(), say_nat)
        .collect()
}

/// A pod packet whose addresses change along one leg was rewritten by the node that first
/// shows the new ones: say so there.
fn say_nat(last: &mut HashMap<Leg, (IpAddr, IpAddr)>, mut step: Step) -> Option<Step> {
    if matches!(step.leg, Leg::Request | Leg::Reply) {
        if let Some((src, dst)) = step.inner {
            if let Some(&(was_src, was_dst)) = last.get(&step.leg) {
                if was_src != src {
                    step.decision += &format!("; NAT rewrote the source {was_src} -> {src}");
                }
                if was_dst != dst {
                    step.decision += &format!("; NAT rewrote the destination {was_dst} -> {dst}");
                }
            }
            last.insert(step.leg, (src, dst));
        }
    }
    Some(step)
}

fn leg(d: &Described) -> Leg {
    match (d.echo(), d.arp(), d.ndp()) {
        (Some((false, _, _)), _, _) => Leg::Request,
        (Some((true, _, _)), _, _) => Leg::Reply,
        (_, Some(_), _) => Leg::Arp,
        (_, _, Some(_)) => Leg::Ndp,
        _ => Leg::IcmpError,
    }
}

/// For a walk without a reply: the last place the request (or else the reply) was seen, and
/// what that node lacked to send it on.
pub fn stop(
    steps: &[Step],
    snaps: &HashMap<String, Snapshot>,
    peer: impl Fn(&str, &str) -> Option<String>,
) -> Option<Stop> {
    let last = steps
        .iter()
        .rev()
        .find(|s| s.leg == Leg::Reply)
        .or_else(|| steps.iter().rev().find(|s| s.leg == Leg::Request))?;
    let lacks = if last.direction == "out" {
        match peer(&last.node, &last.iface) {
            Some(p) => format!(
                "it left {} on {} and never showed up at {p}",
                last.node, last.iface
            ),
            None => format!(
                "it left {} on {} and was not seen again",
                last.node, last.iface
            ),
        }
    } else {
        let dst = dst_of(last);
        let lacked = dst.and_then(|d| snaps.get(&last.node).and_then(|s| decide::lack(s, d)));
        lacked.unwrap_or_else(|| {
            format!(
                "{} took it in and sent nothing on (a firewall or the pod's own stack?)",
                last.node
            )
        })
    };
    Some(Stop {
        node: last.node.clone(),
        iface: last.iface.clone(),
        direction: last.direction,
        lacks,
    })
}

fn dst_of(step: &Step) -> Option<IpAddr> {
    match step.encap {
        Some(t) => Some(t.outer_dst),
        None => step.inner.map(|(_, dst)| dst),
    }
}
