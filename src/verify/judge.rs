//! Compares what the wire showed with what the mode says, pair by pair. Pure: no I/O.
//!
//! A reply is not proof. A pair passes only when its probes were answered, its packets were
//! seen where they must pass, every sighting has the shape the mode prescribes, and a
//! full-size packet at the pod MTU got through with DF set.

use super::copies;
use super::reason::{Direction, ProbeName, Reason, Sighted};
use super::transport::Proto;
use crate::family::Family;
use crate::lab::point::PointId;
use crate::lab::Encap;
use crate::wire::dissect::Wire;
use ipnet::IpNet;
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// What a probe pair is supposed to look like, taken from the lab file.
#[derive(Debug, Clone)]
pub struct PairPlan {
    /// What the underlay must show between the pods' hosts.
    pub encap: Encap,
    /// The family the pair is probed in: the pods' and, in a tunnel, the underlay's.
    pub family: Family,
    pub src_pod: IpAddr,
    pub dst_pod: IpAddr,
    /// The addresses the mode's outer header carries for the pods' hosts: their underlay
    /// addresses, or their WireGuard tunnel addresses where the mode runs inside the tunnel.
    pub src_host: IpAddr,
    pub dst_host: IpAddr,
    /// Where those hosts show the mode's shape ([`crate::lab::Lab::shape_point`]): their
    /// underlay interfaces, e.g. `host1-eth1`, or their WireGuard devices.
    pub src_point: PointId,
    pub dst_point: PointId,
    /// The capture points on the pods' own interfaces, e.g. `pod1-eth1`.
    pub src_pod_point: PointId,
    pub dst_pod_point: PointId,
    /// The other pods' interfaces on the pair's hosts, where a pod bridge may flood a copy
    /// (see [`super::copies::flooded_to_sibling`]).
    pub siblings: Vec<PointId>,
    /// The full-size probe's IP total length.
    pub mtu: u16,
    /// The share of steady-state pings the pair may lose, 0.0 to 1.0.
    pub max_loss: f64,
    /// The VTEPs in each host's flood list (its all-zeros FDB entries), source host first.
    /// Shared: every pair of a host reads the same list.
    pub flood: (Arc<[IpAddr]>, Arc<[IpAddr]>),
    /// Each host's underlay MAC, by host name: in host-gw the next hop of a request must be
    /// the destination host itself, and of a reply the source host. Empty across racks, where
    /// the next hop is a router; within a rack one list, shared by every pair's plan.
    pub host_macs: Arc<[(String, Mac)]>,
    /// The hosts of the pair, by name: source, destination.
    pub host_names: (String, String),
}

/// How a probe ended, as seen from the sending pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Outcome {
    Reply {
        #[serde(rename = "rtt_us")]
        #[serde(serialize_with = "micros")]
        rtt: Duration,
        attempts: u8,
    },
    NoReply {
        attempts: u8,
    },
    /// An ICMP destination unreachable came back; `mtu` matters for code 4 (frag needed).
    Unreachable {
        from: IpAddr,
        code: u8,
        mtu: u16,
    },
    /// The pod's own kernel refused to send, e.g. EMSGSIZE from a path MTU it learnt earlier.
    SendFailed {
        error: String,
    },
    /// A TCP or UDP probe's socket reported an error, e.g. a refused connection.
    Failed {
        error: String,
    },
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros() as u64)
}

/// One frame of a probe, seen at one capture point.
#[derive(Debug, Clone)]
pub struct Seen {
    pub point: PointId,
    /// The Ethernet destination of the frame as captured: the next hop it was sent to.
    pub dst_mac: Mac,
    /// Whether the frame is the probe's reply (from the tag's direction, or for a TCP
    /// handshake segment from its ports).
    pub reply: bool,
    pub wire: Wire,
    /// How many identical copies of the frame the point saw (1 but where something duplicated
    /// it); with `--pcap` each copy is a sighting of its own instead.
    pub copies: u32,
    /// When the kernel captured it (the first copy), on the clock every point shares.
    pub ts: Duration,
}

pub use crate::wire::{mac_text, Mac};

/// A probe, how it ended and every frame of it (request and reply, every attempt).
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub outcome: Outcome,
    pub seen: Vec<Seen>,
}

/// A pair's verdict. It passed exactly when it has no reason to fail.
#[derive(Debug, Clone)]
pub struct PairVerdict {
    pub rtt: Option<Duration>,
    /// What the wire showed, in one line: the request, or the reply prefixed `reply `.
    pub wire: String,
    /// Every reason the pair failed, most telling first; empty when it passed.
    pub reasons: Vec<Reason>,
    /// Steady-state pings sent and lost.
    pub loss: Loss,
    /// Shown, not failed on: a retry the pair needed, loss within `--max-loss`.
    pub remarks: Vec<String>,
    /// The pair failed as the lab declares it must, and how (see [`super::expect`]).
    pub expected_failure: Option<String>,
}

impl PairVerdict {
    pub fn passed(&self) -> bool {
        self.reasons.is_empty()
    }

    /// Every reason as the table shows it.
    pub fn texts(&self) -> Vec<String> {
        self.reasons.iter().map(Reason::to_string).collect()
    }
}

/// `passed` is written out for readers of the JSON; in Rust it is [`PairVerdict::passed`].
impl Serialize for PairVerdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("PairVerdict", 7)?;
        out.serialize_field("passed", &self.passed())?;
        out.serialize_field("rtt_us", &self.rtt.map(|d| d.as_micros() as u64))?;
        out.serialize_field("wire", &self.wire)?;
        out.serialize_field("reasons", &Reasons(&self.reasons))?;
        out.serialize_field("loss", &self.loss)?;
        out.serialize_field("remarks", &self.remarks)?;
        match &self.expected_failure {
            Some(e) => out.serialize_field("expected_failure", e)?,
            None => out.skip_field("expected_failure")?,
        }
        out.end()
    }
}

struct Reasons<'a>(&'a [Reason]);

impl Serialize for Reasons<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::reason::serialize_all(self.0, s)
    }
}

impl PairPlan {
    /// The frame shape the mode prescribes, in words.
    pub fn expected(&self, reply: bool) -> String {
        let (a, b) = self.hosts(reply);
        match self.encap {
            Encap::Plain => {
                let (s, d) = self.pods(reply);
                format!("plain {} {s} > {d}", self.family)
            }
            tunnel => format!("{tunnel} between {a} and {b}"),
        }
    }

    fn pods(&self, reply: bool) -> (IpAddr, IpAddr) {
        let (s, d) = (self.src_pod, self.dst_pod);
        if reply {
            (d, s)
        } else {
            (s, d)
        }
    }

    fn hosts(&self, reply: bool) -> (IpAddr, IpAddr) {
        let (s, d) = (self.src_host, self.dst_host);
        if reply {
            (d, s)
        } else {
            (s, d)
        }
    }

    /// A copy of a correctly addressed VXLAN frame that its sending VTEP flooded, as the
    /// flood-and-learn design does while it has not learnt (or has aged out) the peer's MAC:
    /// right port and VNI, from the right VTEP to another VTEP in its flood list, with an inner
    /// packet identical to that of a copy that went to the right VTEP. A unicast to the wrong
    /// VTEP without the right copy beside it is still a fault.
    pub fn flooded_copy(&self, seen: &Seen, reply: bool, result: &ProbeResult) -> bool {
        let (hs, hd) = self.hosts(reply);
        let flood = if reply { &self.flood.1 } else { &self.flood.0 };
        if self.encap.vxlan().is_none() {
            return false;
        }
        // The tunnel's destination and the inner packet, for frames from the right VTEP.
        let tunnel = |w: &Wire| {
            let t = w
                .vxlan()
                .filter(|t| t.from == hs && w.encap() == Some(self.encap))?;
            Some((t.to, t.inner?.clone()))
        };
        let Some((to, inner)) = tunnel(&seen.wire) else {
            return false;
        };
        to != hd
            && flood.contains(&to)
            && result
                .seen
                .iter()
                .filter_map(|s| tunnel(&s.wire))
                .any(|(d, i)| d == hd && i == inner)
    }

    /// In host-gw, the frame a host sends towards the peer's pod must go to the peer host's own
    /// MAC: a route or ARP entry pointing at a third host that relays it keeps every IP header
    /// right. Checked where the frame leaves (the sender's underlay), so a switch that floods
    /// like a hub, showing the frame elsewhere too, changes nothing.
    pub fn next_hop_misfit(&self, seen: &Seen, reply: bool) -> Option<Reason> {
        let (sender_point, sender, receiver) = if reply {
            (&self.dst_point, &self.host_names.1, &self.host_names.0)
        } else {
            (&self.src_point, &self.host_names.0, &self.host_names.1)
        };
        if self.encap != Encap::Plain || &seen.point != sender_point {
            return None;
        }
        let mac_of = |name: &str| {
            self.host_macs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, m)| *m)
        };
        let want = mac_of(receiver)?;
        if seen.dst_mac == want {
            return None;
        }
        let owner = self.host_macs.iter().find(|(_, m)| *m == seen.dst_mac);
        Some(Reason::NextHop {
            at: sighted(seen, reply),
            sender: sender.clone(),
            sent_to: mac_text(&seen.dst_mac),
            owner: owner.map(|(n, _)| n.clone()),
            receiver: receiver.clone(),
            receiver_mac: mac_text(&want),
        })
    }

    /// Why a sighting does not have the prescribed shape, or `None` if it has. Where the
    /// packet leaves or reaches a pod, it must be plain with the pods' own addresses; on the
    /// underlay it must have the mode's shape.
    pub fn misfit(&self, seen: &Seen, reply: bool) -> Option<Reason> {
        if let Some(at_pod) = self.pod_misfit(seen, reply) {
            return at_pod;
        }
        let (ps, pd) = self.pods(reply);
        let (hs, hd) = self.hosts(reply);
        let saw = |note: Option<&'static str>| Reason::Misfit {
            at: sighted(seen, reply),
            expected: self.expected(reply),
            saw: seen.wire.to_string(),
            note,
        };
        let inner_ok = |s: IpAddr, d: IpAddr| s == ps && d == pd;
        let fits = match (self.encap, &seen.wire) {
            (Encap::Plain, Wire::Plain(ip)) if ip.src != ps => {
                return Some(saw(Some("source rewritten: NAT")))
            }
            (Encap::Plain, Wire::Plain(ip)) => {
                return (ip.dst != pd).then(|| saw(Some("destination rewritten: NAT")))
            }
            (_, Wire::Plain(_)) => {
                return Some(saw(Some("pod addresses in plain on the underlay")))
            }
            (encap, wire) => {
                wire.encap() == Some(encap)
                    && wire.outer() == Some((hs, hd))
                    && wire.innermost().is_some_and(|i| inner_ok(i.src, i.dst))
            }
        };
        (!fits).then(|| saw(None))
    }

    /// At a pod's own interface: `None` if `seen` is not there, else what is wrong with it.
    /// The sender's interface shows the address the pod chose; the receiver's shows whether
    /// something on the way rewrote it (SNAT, MASQUERADE, DNAT).
    fn pod_misfit(&self, seen: &Seen, reply: bool) -> Option<Option<Reason>> {
        let (sender_point, receiver_point) = if reply {
            (&self.dst_pod_point, &self.src_pod_point)
        } else {
            (&self.src_pod_point, &self.dst_pod_point)
        };
        let at_sender = &seen.point == sender_point;
        if !at_sender && &seen.point != receiver_point {
            return None;
        }
        let (ps, pd) = self.pods(reply);
        let at = sighted(seen, reply);
        let Wire::Plain(ip) = &seen.wire else {
            return Some(Some(Reason::Misfit {
                at,
                expected: format!("plain {} {ps} > {pd}", self.family),
                saw: seen.wire.to_string(),
                note: None,
            }));
        };
        let (sender, receiver) = (sender_point.node.clone(), receiver_point.node.clone());
        Some(match (at_sender, ip.src != ps, ip.dst != pd) {
            (true, true, _) => Some(Reason::WrongSource {
                at,
                sender,
                from: ip.src,
                own: ps,
            }),
            (false, true, _) => Some(Reason::SourceRewritten {
                at,
                receiver,
                from: ip.src,
                sender,
                sender_ip: ps,
            }),
            (false, false, true) => Some(Reason::DestinationRewritten {
                at,
                receiver,
                to: ip.dst,
                planned: pd,
            }),
            _ => None,
        })
    }
}

/// Where one frame was seen, before equal misfits are merged.
fn sighted(seen: &Seen, reply: bool) -> Sighted {
    Sighted {
        transport: None,
        direction: Direction::of(reply),
        points: vec![seen.point.clone()],
    }
}

/// Adds `reason` to `misfits`, or its points to an equal one seen elsewhere: places with the
/// same misfit are listed together.
fn merge_misfit(misfits: &mut Vec<Reason>, mut reason: Reason) {
    let point = match reason.sighted_mut() {
        Some(at) => at.points.remove(0),
        None => return misfits.push(reason),
    };
    let same = misfits.iter_mut().find(|m| {
        let mut bare = (*m).clone();
        if let Some(at) = bare.sighted_mut() {
            at.points.clear();
        }
        bare == reason
    });
    match same.and_then(Reason::sighted_mut) {
        Some(at) if !at.points.contains(&point) => at.points.push(point),
        Some(_) => {}
        None => {
            if let Some(at) = reason.sighted_mut() {
                at.points.push(point);
            }
            misfits.push(reason);
        }
    }
}

fn probe_frames(result: &ProbeResult, reply: bool) -> impl Iterator<Item = &Seen> {
    result.seen.iter().filter(move |s| s.reply == reply)
}

/// Nearest the sender first: the sending pod's interface, its host's underlay, the receiving
/// host's, the routers, and the receiving pod's last. The reason a person reads first names the
/// place where things first went wrong.
fn nearest_first<'a>(
    plan: &PairPlan,
    frames: impl Iterator<Item = &'a Seen>,
    reply: bool,
) -> Vec<&'a Seen> {
    let order = if reply {
        [
            &plan.dst_pod_point,
            &plan.dst_point,
            &plan.src_point,
            &plan.src_pod_point,
        ]
    } else {
        [
            &plan.src_pod_point,
            &plan.src_point,
            &plan.dst_point,
            &plan.dst_pod_point,
        ]
    };
    let rank = |s: &Seen| match order.iter().position(|p| **p == s.point) {
        Some(3) => 4,
        Some(i) => i,
        None => 3,
    };
    let mut v: Vec<&Seen> = frames.collect();
    v.sort_by_key(|s| rank(s));
    v
}

/// Judges one ordered pair from its ICMP probes alone; see [`judge_probes`].
pub fn judge_pair(
    plan: &PairPlan,
    ping: &ProbeResult,
    mtu: &ProbeResult,
    steady: &[ProbeResult],
) -> PairVerdict {
    judge_probes(plan, ping, mtu, steady, &[])
}

/// Judges one ordered pair from its first-contact ping, its full-size DF probe, its
/// steady-state pings and its TCP and UDP probes.
pub fn judge_probes(
    plan: &PairPlan,
    ping: &ProbeResult,
    mtu: &ProbeResult,
    steady: &[ProbeResult],
    transport: &[(Proto, ProbeResult)],
) -> PairVerdict {
    let same_host = plan.host_names.0 == plan.host_names.1;
    let (mut reasons, offending) = if same_host {
        let results: Vec<&ProbeResult> = [ping, mtu]
            .into_iter()
            .chain(transport.iter().map(|(_, r)| r))
            .chain(steady)
            .collect();
        (super::same_host::reasons(plan, &results), None)
    } else {
        // Shape first: a wrong frame explains more than a missing reply does. Every probe of
        // the pair counts: a path that tunnels some packets and leaks others is caught.
        let all = [(ping, true), (mtu, true)]
            .into_iter()
            .chain(transport.iter().map(|(_, r)| (r, true)))
            .chain(steady.iter().map(|r| (r, false)));
        shape_reasons(plan, all)
    };
    if !matches!(ping.outcome, Outcome::Reply { .. }) {
        reasons.push(Reason::ProbeFailed {
            probe: ProbeName::Ping,
            outcome: ping.outcome.clone(),
        });
    }
    reasons.extend(transport_failures(transport));
    let probes = presence_probes(ping, mtu, transport);
    if !same_host {
        reasons.extend(presence_reasons(plan, &probes));
        reasons.extend(super::last_seen::last_seen(plan, ping, ProbeName::Ping));
    }
    let counted: Vec<_> = probes.iter().map(|&(r, name, _)| (r, name)).collect();
    reasons.extend(copies::duplicates(plan, &counted));
    let loss = Loss::of(steady);
    reasons.extend(full_size_reason(plan, ping, mtu, loss));
    let loss_reason = loss.reason(plan.max_loss);
    let tolerated = loss_reason.is_none();
    reasons.extend(loss_reason);
    let wire = offending
        .or_else(|| probe_frames(ping, false).find(|s| s.point == plan.src_point))
        .filter(|_| !same_host)
        .or_else(|| ping.seen.first())
        .map(|s| match s.reply {
            true => format!("reply {}", s.wire),
            false => s.wire.to_string(),
        })
        .unwrap_or_else(|| {
            if same_host {
                format!("within {}", plan.host_names.0)
            } else {
                "not seen".to_string()
            }
        });
    let rtt = match ping.outcome {
        Outcome::Reply { rtt, .. } => Some(rtt),
        _ => None,
    };
    PairVerdict {
        rtt,
        wire,
        remarks: remarks(ping, mtu, transport, loss, tolerated),
        loss,
        reasons,
        expected_failure: None,
    }
}

/// A reason for each TCP or UDP probe that got no answer.
fn transport_failures(transport: &[(Proto, ProbeResult)]) -> Vec<Reason> {
    transport
        .iter()
        .filter(|(_, r)| !matches!(r.outcome, Outcome::Reply { .. }))
        .map(|(proto, r)| Reason::ProbeFailed {
            probe: proto.probe_name(),
            outcome: r.outcome.clone(),
        })
        .collect()
}

/// The probes whose request and reply must be seen where the pods send and receive.
fn presence_probes<'a>(
    ping: &'a ProbeResult,
    mtu: &'a ProbeResult,
    transport: &'a [(Proto, ProbeResult)],
) -> Vec<(&'a ProbeResult, ProbeName, bool)> {
    [
        (ping, ProbeName::Ping, true),
        (mtu, ProbeName::FullSize, false),
    ]
    .into_iter()
    .chain(
        transport
            .iter()
            .map(|(proto, r)| (r, proto.probe_name(), false)),
    )
    .collect()
}

/// Every sighting that does not have the mode's shape, nearest the sender first, and the
/// first such frame. On first contact a VTEP may flood (see [`PairPlan::flooded_copy`]).
fn shape_reasons<'a>(
    plan: &PairPlan,
    results: impl Iterator<Item = (&'a ProbeResult, bool)>,
) -> (Vec<Reason>, Option<&'a Seen>) {
    let mut misfits: Vec<Reason> = Vec::new();
    let mut offending = None;
    for (result, first_contact) in results {
        for reply in [false, true] {
            for seen in nearest_first(plan, probe_frames(result, reply), reply) {
                if first_contact && plan.flooded_copy(seen, reply, result) {
                    continue;
                }
                if copies::flooded_to_sibling(plan, seen, reply, result) {
                    continue;
                }
                let why = copies::stray(plan, seen, reply)
                    .or_else(|| plan.misfit(seen, reply))
                    .or_else(|| plan.next_hop_misfit(seen, reply));
                let Some(mut why) = why else { continue };
                if let Some(at) = why.sighted_mut() {
                    at.transport = seen.wire.transport().filter(|p| *p != "ICMP");
                }
                offending.get_or_insert(seen);
                merge_misfit(&mut misfits, why);
            }
        }
    }
    (misfits, offending)
}

/// The request leaves through the source host's underlay and arrives through the destination
/// host's; the reply the other way round. A reply alone proves nothing about the wire, so an
/// answered probe must have been seen too; an unanswered one is explained by its outcome.
/// `probes` are each result, its name, and whether its request must be seen even unanswered
/// (the first contact's: it shows how far a lost ping got).
fn presence_reasons(plan: &PairPlan, probes: &[(&ProbeResult, ProbeName, bool)]) -> Vec<Reason> {
    let answered = |r: &ProbeResult| matches!(r.outcome, Outcome::Reply { .. });
    let mut reasons = Vec::new();
    for &(result, probe, request_always) in probes {
        for reply in [false, true] {
            if !((request_always && !reply) || answered(result)) {
                continue;
            }
            for point in [&plan.src_point, &plan.dst_point] {
                if !probe_frames(result, reply).any(|s| &s.point == point) {
                    reasons.push(Reason::NotSeen {
                        probe,
                        direction: Direction::of(reply),
                        point: point.clone(),
                    });
                }
            }
        }
        reasons.extend(dropped_at_host(plan, result, probe));
        // Answered, yet the request never reached the destination pod: something on the way
        // answered in its name (a DNAT to another address, a proxy).
        let reached = probe_frames(result, false).any(|s| s.point == plan.dst_pod_point);
        if answered(result) && !reached {
            reasons.push(Reason::AnsweredInItsName {
                probe,
                missed: plan.dst_pod_point.clone(),
            });
        }
    }
    reasons
}

/// A packet that reached a host's underlay but never the pod behind it was dropped in that
/// host: strict rp_filter on an asymmetric path, a firewall, a missing route.
fn dropped_at_host(plan: &PairPlan, result: &ProbeResult, probe: ProbeName) -> Vec<Reason> {
    let mut reasons = Vec::new();
    for (reply, host_point, pod_point) in [
        (false, &plan.dst_point, &plan.dst_pod_point),
        (true, &plan.src_point, &plan.src_pod_point),
    ] {
        let at = |p: &PointId| probe_frames(result, reply).any(|s| &s.point == p);
        if at(host_point) && !at(pod_point) {
            reasons.push(Reason::DroppedAtHost {
                probe,
                direction: Direction::of(reply),
                reached: host_point.clone(),
                missed: pod_point.clone(),
                cause: None,
            });
        }
    }
    reasons
}

fn full_size_reason(
    plan: &PairPlan,
    ping: &ProbeResult,
    mtu: &ProbeResult,
    loss: Loss,
) -> Option<Reason> {
    let size = plan.mtu;
    let ping_ok = matches!(ping.outcome, Outcome::Reply { .. });
    Some(match &mtu.outcome {
        Outcome::Reply { .. } => return None,
        Outcome::Unreachable {
            from,
            code: 4,
            mtu: hop,
        } => Reason::MtuRefused {
            size,
            from: *from,
            next_hop_mtu: *hop,
        },
        // Only a path that loses nothing else is a blackhole for big packets.
        Outcome::NoReply { attempts } if ping_ok && loss.lost == 0 => Reason::MtuBlackhole {
            size,
            attempts: *attempts,
        },
        Outcome::NoReply { attempts } if ping_ok => Reason::FullSizeLost {
            size,
            attempts: *attempts,
            lost: loss.lost,
            sent: loss.sent,
        },
        other => Reason::FullSizeFailed {
            size,
            outcome: other.clone(),
        },
    })
}

/// Steady-state pings of a pair: how many were sent after a first contact, and how many lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Loss {
    pub sent: u32,
    pub lost: u32,
}

impl Loss {
    pub fn of(steady: &[ProbeResult]) -> Loss {
        Loss {
            sent: steady.len() as u32,
            lost: steady
                .iter()
                .filter(|r| !matches!(r.outcome, Outcome::Reply { .. }))
                .count() as u32,
        }
    }

    /// Loss beyond `max` (a share, 0.0 to 1.0) fails the pair; loss that comes and goes is
    /// called flaky.
    fn reason(self, max: f64) -> Option<Reason> {
        if self.lost == 0 || f64::from(self.lost) <= max * f64::from(self.sent) {
            return None;
        }
        Some(Reason::Loss {
            lost: self.lost,
            sent: self.sent,
            max_loss: max,
        })
    }
}

/// What a person should know about a pair that passed: a retry it needed, loss it was allowed.
fn remarks(
    ping: &ProbeResult,
    mtu: &ProbeResult,
    transport: &[(Proto, ProbeResult)],
    loss: Loss,
    tolerated: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let named = transport
        .iter()
        .map(|(proto, r)| (r, format!("{} probe", proto.name())));
    let all = [
        (ping, "first contact".to_string()),
        (mtu, "full-size probe".to_string()),
    ]
    .into_iter()
    .chain(named);
    for (result, what) in all {
        if let Outcome::Reply { attempts, .. } = result.outcome {
            if attempts > 1 {
                out.push(format!(
                    "{what} passed on retry: answered on attempt {attempts}"
                ));
            }
        }
    }
    if loss.lost > 0 && tolerated {
        out.push(format!(
            "lost {} of {} steady-state pings, within --max-loss",
            loss.lost, loss.sent
        ));
    }
    out
}

/// Pods whose interface MTU is not the planned one. verify probes at the planned MTU, so a pod
/// left at 1500 in an overlay (the article's own labs) would pass while its full-size traffic
/// cannot fit the tunnel; a pod below the plan could not even send the probe.
/// Each pod is given as its name, its interface, its planned MTU and the one it has.
pub fn pod_mtus<'a>(
    pods: impl IntoIterator<Item = (&'a str, &'a str, u16, Option<u32>)>,
) -> Vec<String> {
    pods.into_iter()
        .filter_map(|(pod, iface, planned, actual)| match actual {
            Some(mtu) if mtu == u32::from(planned) => None,
            Some(mtu) => Some(format!(
                "pod {pod}: {iface} has MTU {mtu}, the lab plans {planned} (cnilab.mtu)"
            )),
            None => Some(format!("pod {pod}: cannot read the MTU of {iface}")),
        })
        .collect()
}

/// Whether a tunnelled frame carries pod or VTEP addresses of the lab, as IPv4 or as ARP.
fn carries_lab(wire: &Wire, nets: &[IpNet]) -> bool {
    let ours = |ip: IpAddr| nets.iter().any(|n| n.contains(&ip));
    let Some(t) = wire.vxlan() else { return false };
    match (t.inner, t.arp, t.ndp) {
        (Some(ip), _, _) => ours(ip.src) || ours(ip.dst),
        (None, Some(a), _) => ours(a.sender.into()) || ours(a.target.into()),
        (None, None, Some(n)) => ours(n.sender.into()) || ours(n.target.into()),
        (None, None, None) => false,
    }
}

/// Lab-wide problems that belong to no probe, found in frames no probe claimed, given how each
/// family crosses the underlay (`encaps`, as [`crate::lab::Lab::encaps`] gives them):
/// - where a family tunnels, any plain packet of it with a pod address on an underlay or
///   router interface, whoever sent it;
/// - where a family crosses in VXLAN, any VXLAN frame on another VNI or port than planned that
///   carries the lab's pod or VTEP addresses (the ARP that a mis-configured VTEP floods is
///   often the only trace it leaves); other tunnels between the same hosts are not the lab's.
pub fn leaks<'a>(
    encaps: &[(Family, Encap)],
    pod_ips: &BTreeSet<IpAddr>,
    pod_nets: &[IpNet],
    frames: impl IntoIterator<Item = (&'a PointId, &'a Wire)>,
) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let encap_of = |family: Family| {
        let found = encaps.iter().find(|(f, _)| *f == family).or(encaps.first());
        found.map_or(Encap::Plain, |&(_, e)| e)
    };
    let vxlan = encaps
        .iter()
        .find(|(_, e)| e.vxlan().is_some())
        .map(|&(_, e)| e);
    for (point, wire) in frames {
        // Tagged probe frames are already judged, and named, with their pair.
        if wire.tag().is_some() {
            continue;
        }
        match (wire, vxlan) {
            (Wire::Plain(ip), _)
                if encap_of(Family::of(ip.src)).is_tunnel()
                    && [ip.src, ip.dst].iter().any(|a| pod_ips.contains(a)) =>
            {
                let mode = encaps.first().map_or("", |(_, e)| e.mode_name());
                seen.insert(format!(
                    "plain {} {} > {} on {point}: pod addresses must not cross the underlay in {mode} mode",
                    Family::of(ip.src), ip.src, ip.dst
                ));
            }
            // Another segment between the same hosts is not the lab's business unless it
            // carries the lab's pods or VTEPs (addresses in the pod subnets).
            (Wire::Vxlan { .. }, Some(vxlan))
                if carries_lab(wire, pod_nets) && wire.encap() != Some(vxlan) =>
            {
                seen.insert(format!("{wire} on {point}: expected {vxlan}"));
            }
            _ => {}
        }
    }
    seen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::VxlanParams;
    use crate::plan::Mode;
    use crate::wire::dissect::build::{ip, ipip_frame, plain, vxlan_frame};
    use crate::wire::dissect::{dissect, Tag};

    const TAG: Tag = Tag {
        run: 7,
        probe: 0,
        attempt: 0,
    };

    fn plan(mode: Mode) -> PairPlan {
        let overlay = mode != Mode::HostGw;
        PairPlan {
            encap: match mode {
                Mode::HostGw => Encap::Plain,
                Mode::Vxlan => Encap::Vxlan(VxlanParams { vni: 1, port: 4789 }),
                Mode::Ipip => Encap::Ipip,
            },
            family: crate::family::Family::Ipv4,
            src_pod: ip(if overlay { "172.16.0.2" } else { "10.0.1.2" }).into(),
            dst_pod: ip(if overlay { "172.16.1.2" } else { "10.0.2.2" }).into(),
            src_host: ip(if overlay { "10.0.1.2" } else { "192.168.0.100" }).into(),
            dst_host: ip(if overlay { "10.0.2.2" } else { "192.168.0.200" }).into(),
            src_point: "host1-eth1".into(),
            dst_point: "host2-eth1".into(),
            src_pod_point: "pod1-eth1".into(),
            dst_pod_point: "pod2-eth1".into(),
            siblings: vec![],
            mtu: mode.pod_mtu(),
            max_loss: 0.0,
            flood: Default::default(),
            host_macs: Default::default(),
            host_names: ("host1".into(), "host2".into()),
        }
    }

    fn seen(point: &str, frame: Vec<u8>) -> Seen {
        let wire = dissect(&frame, &[4789, 8472]).unwrap();
        Seen {
            point: point.into(),
            dst_mac: frame[..6].try_into().unwrap(),
            reply: wire.tag().is_some_and(|(_, r)| r),
            wire,
            copies: 1,
            ts: Duration::ZERO,
        }
    }

    fn judge2(p: &PairPlan, ping: &ProbeResult, mtu: &ProbeResult) -> PairVerdict {
        judge_pair(p, ping, mtu, &[])
    }

    fn reply() -> Outcome {
        Outcome::Reply {
            rtt: Duration::from_micros(120),
            attempts: 1,
        }
    }

    /// Request and reply seen on both hosts, built by `frame(reply)`, and in plain on both
    /// pods' interfaces with the addresses `frame` carries inside.
    fn everywhere(outcome: Outcome, frame: impl Fn(bool) -> Vec<u8>) -> ProbeResult {
        everywhere_pods(outcome, &frame, &frame)
    }

    /// As [`everywhere`], with the pods' sightings built from `pods(reply)` instead.
    fn everywhere_pods(
        outcome: Outcome,
        frame: &dyn Fn(bool) -> Vec<u8>,
        pods: &dyn Fn(bool) -> Vec<u8>,
    ) -> ProbeResult {
        let mut seen_ = Vec::new();
        for point in ["host1-eth1", "host2-eth1"] {
            seen_.push(seen(point, frame(false)));
            seen_.push(seen(point, frame(true)));
        }
        for reply in [false, true] {
            let wire = dissect(&pods(reply), &[4789, 8472]).unwrap();
            let ip = wire.innermost().unwrap();
            let pod = plain(&ip.src.to_string(), &ip.dst.to_string(), reply, Some(TAG));
            seen_.push(seen("pod1-eth1", pod.clone()));
            seen_.push(seen("pod2-eth1", pod));
        }
        ProbeResult {
            outcome,
            seen: seen_,
        }
    }

    fn healthy_vxlan(reply_: bool) -> Vec<u8> {
        vxlan_between(4789, 1)(reply_)
    }

    /// The pair's request or reply between the two hosts' VTEPs, in VXLAN on `port` with `vni`.
    fn vxlan_between(port: u16, vni: u32) -> impl Fn(bool) -> Vec<u8> {
        move |reply| {
            let (o, i) = if reply {
                (("10.0.2.2", "10.0.1.2"), ("172.16.1.2", "172.16.0.2"))
            } else {
                (("10.0.1.2", "10.0.2.2"), ("172.16.0.2", "172.16.1.2"))
            };
            vxlan_frame(o, port, vni, i, reply, Some(TAG))
        }
    }

    #[test]
    fn a_healthy_vxlan_pair_passes_and_shows_the_tunnel() {
        let p = plan(Mode::Vxlan);
        let v = judge2(
            &p,
            &everywhere(reply(), healthy_vxlan),
            &everywhere(reply(), healthy_vxlan),
        );
        assert!(v.passed(), "{:?}", v.texts());
        assert_eq!(
            v.wire,
            "VXLAN vni 1 10.0.1.2>10.0.2.2 [172.16.0.2>172.16.1.2]"
        );
        assert_eq!(v.rtt, Some(Duration::from_micros(120)));
    }

    #[test]
    fn plain_pod_traffic_in_a_vxlan_lab_fails_although_pings_pass() {
        let p = plan(Mode::Vxlan);
        let plain_ = |r: bool| {
            if r {
                plain("172.16.1.2", "172.16.0.2", true, Some(TAG))
            } else {
                plain("172.16.0.2", "172.16.1.2", false, Some(TAG))
            }
        };
        let v = judge2(
            &p,
            &everywhere(reply(), plain_),
            &everywhere(reply(), healthy_vxlan),
        );
        assert!(!v.passed());
        assert_eq!(
            v.texts()[0],
            "request: expected UDP/4789 VXLAN vni 1 between 10.0.1.2 and 10.0.2.2, saw plain IPv4 172.16.0.2 > 172.16.1.2 on host1-eth1, host2-eth1 (pod addresses in plain on the underlay)"
        );
        assert_eq!(v.wire, "plain IPv4 172.16.0.2 > 172.16.1.2");
    }

    #[test]
    fn a_wrong_vni_or_port_is_named() {
        let p = plan(Mode::Vxlan);
        let v = judge2(
            &p,
            &everywhere(reply(), vxlan_between(4789, 2)),
            &everywhere(reply(), healthy_vxlan),
        );
        assert!(
            v.texts()[0].contains("saw VXLAN vni 2 10.0.1.2>10.0.2.2"),
            "{}",
            v.texts()[0]
        );
        let v = judge2(
            &p,
            &everywhere(reply(), vxlan_between(8472, 1)),
            &everywhere(reply(), healthy_vxlan),
        );
        assert!(
            v.texts()[0].contains("saw VXLAN UDP/8472 vni 1"),
            "{}",
            v.texts()[0]
        );
    }

    #[test]
    fn wrong_outer_addresses_fail() {
        let p = plan(Mode::Vxlan);
        let routed_via_gw = |r: bool| {
            let (o, i) = if r {
                (("10.0.2.1", "10.0.1.2"), ("172.16.1.2", "172.16.0.2"))
            } else {
                (("10.0.1.2", "10.0.2.2"), ("172.16.0.2", "172.16.1.2"))
            };
            vxlan_frame(o, 4789, 1, i, r, Some(TAG))
        };
        let v = judge2(
            &p,
            &everywhere(reply(), routed_via_gw),
            &everywhere(reply(), healthy_vxlan),
        );
        assert!(!v.passed());
        assert!(
            v.texts()[0].contains("saw VXLAN vni 1 10.0.2.1>10.0.1.2"),
            "{}",
            v.texts()[0]
        );
    }

    #[test]
    fn host_gw_nat_fails_and_says_nat() {
        let p = plan(Mode::HostGw);
        let masq = |r: bool| {
            if r {
                plain("10.0.2.2", "192.168.0.100", true, Some(TAG))
            } else {
                plain("192.168.0.100", "10.0.2.2", false, Some(TAG))
            }
        };
        let ok = |r: bool| {
            if r {
                plain("10.0.2.2", "10.0.1.2", true, Some(TAG))
            } else {
                plain("10.0.1.2", "10.0.2.2", false, Some(TAG))
            }
        };
        assert!(judge2(&p, &everywhere(reply(), ok), &everywhere(reply(), ok)).passed());
        // host1 masquerades: both underlays show host1's address; the pods see their own
        // addresses again once the reply is un-NATed... except that pod2 sees host1's.
        let at_host1 = everywhere_pods(reply(), &masq, &ok);
        let v = judge2(&p, &at_host1, &everywhere(reply(), ok));
        assert!(!v.passed());
        assert_eq!(
            v.texts()[0],
            "request: expected plain IPv4 10.0.1.2 > 10.0.2.2, saw plain IPv4 192.168.0.100 > 10.0.2.2 on host1-eth1, host2-eth1 (source rewritten: NAT)"
        );
    }

    #[test]
    fn host_gw_rejects_a_tunnel() {
        let p = plan(Mode::HostGw);
        let tunnel = |r: bool| {
            ipip_frame(
                ("1.1.1.1", "2.2.2.2"),
                ("10.0.1.2", "10.0.2.2"),
                r,
                Some(TAG),
            )
        };
        let v = judge2(
            &p,
            &everywhere(reply(), tunnel),
            &everywhere(reply(), tunnel),
        );
        assert!(
            v.texts()[0].starts_with("request: expected plain IPv4 10.0.1.2 > 10.0.2.2, saw IPIP"),
            "{}",
            v.texts()[0]
        );
    }

    #[test]
    fn ipip_checks_outer_and_inner() {
        let p = plan(Mode::Ipip);
        let good = |r: bool| {
            if r {
                ipip_frame(
                    ("10.0.2.2", "10.0.1.2"),
                    ("172.16.1.2", "172.16.0.2"),
                    true,
                    Some(TAG),
                )
            } else {
                ipip_frame(
                    ("10.0.1.2", "10.0.2.2"),
                    ("172.16.0.2", "172.16.1.2"),
                    false,
                    Some(TAG),
                )
            }
        };
        assert!(judge2(&p, &everywhere(reply(), good), &everywhere(reply(), good)).passed());
        let vx = |r: bool| healthy_vxlan(r);
        let v = judge2(&p, &everywhere(reply(), vx), &everywhere(reply(), good));
        assert!(
            v.texts()[0].starts_with(
                "request: expected IPIP (protocol 4) between 10.0.1.2 and 10.0.2.2, saw VXLAN"
            ),
            "{}",
            v.texts()[0]
        );
    }

    #[test]
    fn nothing_seen_and_no_reply_fails_with_both_reasons() {
        let p = plan(Mode::Vxlan);
        let lost = ProbeResult {
            outcome: Outcome::NoReply { attempts: 3 },
            seen: vec![],
        };
        let v = judge2(&p, &lost, &lost);
        assert!(!v.passed());
        assert_eq!(v.wire, "not seen");
        assert_eq!(v.texts()[0], "ping: no reply after 3 attempts");
        assert!(v
            .texts()
            .contains(&"ping request not seen on host1-eth1".to_string()));
        assert!(v
            .texts()
            .contains(&"ping request not seen on host2-eth1".to_string()));
        let kinds: Vec<&str> = v.reasons.iter().map(Reason::kind).collect();
        assert_eq!(
            kinds,
            ["probe_failed", "not_seen", "not_seen", "full_size_failed"]
        );
    }

    #[test]
    fn a_reply_without_frames_on_the_wire_is_not_proof() {
        let p = plan(Mode::Vxlan);
        let only_src = ProbeResult {
            outcome: reply(),
            seen: vec![
                seen("host1-eth1", healthy_vxlan(false)),
                seen("host1-eth1", healthy_vxlan(true)),
                seen(
                    "pod2-eth1",
                    plain("172.16.0.2", "172.16.1.2", false, Some(TAG)),
                ),
                seen(
                    "pod1-eth1",
                    plain("172.16.1.2", "172.16.0.2", true, Some(TAG)),
                ),
            ],
        };
        let v = judge2(&p, &only_src, &everywhere(reply(), healthy_vxlan));
        assert_eq!(
            v.texts(),
            vec![
                "ping request not seen on host2-eth1",
                "ping reply not seen on host2-eth1"
            ]
        );
        // The same holds for an answered full-size probe.
        let v = judge2(&p, &everywhere(reply(), healthy_vxlan), &only_src);
        assert_eq!(
            v.texts(),
            vec![
                "full-size probe request not seen on host2-eth1",
                "full-size probe reply not seen on host2-eth1"
            ]
        );
    }

    #[test]
    fn mtu_failures_are_told_apart() {
        let p = plan(Mode::Vxlan);
        let ok = everywhere(reply(), healthy_vxlan);
        let frag = ProbeResult {
            outcome: Outcome::Unreachable {
                from: ip("172.16.0.1").into(),
                code: 4,
                mtu: 1400,
            },
            seen: vec![],
        };
        let v = judge2(&p, &ok, &frag);
        assert_eq!(v.texts(), vec!["full-size probe (1450 bytes, DF) refused: ICMP frag-needed from 172.16.0.1, next-hop MTU 1400"]);
        let hole = ProbeResult {
            outcome: Outcome::NoReply { attempts: 3 },
            seen: vec![],
        };
        let v = judge2(&p, &ok, &hole);
        assert!(
            v.texts()[0].ends_with("while small pings pass: MTU blackhole"),
            "{}",
            v.texts()[0]
        );
        let local = ProbeResult {
            outcome: Outcome::SendFailed {
                error: "Message too long".into(),
            },
            seen: vec![],
        };
        let v = judge2(&p, &ok, &local);
        assert_eq!(
            v.texts(),
            vec!["full-size probe (1450 bytes, DF): could not be sent: Message too long"]
        );
        assert!(v.rtt.is_some() && !v.passed());
    }

    #[test]
    fn pod_mtus_other_than_planned_are_findings() {
        let found = pod_mtus([
            ("pod1", "eth1", 1450, Some(1450)),
            ("pod2", "eth1", 1450, Some(1500)),
            ("pod3", "net0", 1450, None),
        ]);
        assert_eq!(
            found,
            vec![
                "pod pod2: eth1 has MTU 1500, the lab plans 1450 (cnilab.mtu)",
                "pod pod3: cannot read the MTU of net0",
            ]
        );
    }

    #[test]
    fn unreachable_names_the_sender() {
        let p = plan(Mode::HostGw);
        let unreach = ProbeResult {
            outcome: Outcome::Unreachable {
                from: ip("10.0.1.1").into(),
                code: 0,
                mtu: 0,
            },
            seen: vec![],
        };
        let v = judge2(&p, &unreach, &unreach);
        assert_eq!(
            v.texts()[0],
            "ping: network unreachable (ICMP from 10.0.1.1)"
        );
    }

    #[test]
    fn untagged_plain_pod_traffic_is_a_leak_in_overlays_only() {
        let pods: BTreeSet<IpAddr> = [ip("172.16.0.2").into(), ip("172.16.1.2").into()].into();
        let w = dissect(&plain("172.16.0.2", "172.16.1.2", false, None), &[4789]).unwrap();
        let tagged = dissect(
            &plain("172.16.0.2", "172.16.1.2", false, Some(TAG)),
            &[4789],
        )
        .unwrap();
        let underlay = dissect(&plain("10.0.1.2", "10.0.2.2", false, None), &[4789]).unwrap();
        let frames = [
            (&PointId::from("gw1-eth1"), &w),
            (&PointId::from("gw1-eth1"), &w),
            (&PointId::from("gw1-eth2"), &tagged),
            (&PointId::from("host1-eth1"), &underlay),
        ];
        let v = Encap::Vxlan(VxlanParams { vni: 1, port: 4789 });
        let nets = [
            "172.16.0.0/24".parse().unwrap(),
            "172.16.1.0/24".parse().unwrap(),
        ];
        let found = leaks(&[(Family::Ipv4, v)], &pods, &nets, frames);
        assert_eq!(found, vec!["plain IPv4 172.16.0.2 > 172.16.1.2 on gw1-eth1: pod addresses must not cross the underlay in vxlan mode"]);
        assert!(leaks(&[(Family::Ipv4, Encap::Plain)], &pods, &nets, frames).is_empty());
        // A VTEP on another VNI shows itself through the ARP it floods.
        let arp_vni2 = dissect(
            &vxlan_frame(
                ("10.0.2.2", "10.0.1.2"),
                4789,
                2,
                ("172.16.1.2", "172.16.0.2"),
                false,
                None,
            ),
            &[4789],
        )
        .unwrap();
        let found = leaks(
            &[(Family::Ipv4, v)],
            &pods,
            &nets,
            [(&PointId::from("host2-eth1"), &arp_vni2)],
        );
        assert_eq!(
            found,
            vec!["VXLAN vni 2 10.0.2.2>10.0.1.2 [172.16.1.2>172.16.0.2] on host2-eth1: expected UDP/4789 VXLAN vni 1"]
        );
        // A second segment between the same hosts, carrying host addresses only, is not ours.
        let other = dissect(
            &vxlan_frame(
                ("10.0.2.2", "10.0.1.2"),
                4789,
                42,
                ("192.168.42.2", "192.168.42.1"),
                false,
                None,
            ),
            &[4789],
        )
        .unwrap();
        assert!(leaks(
            &[(Family::Ipv4, v)],
            &pods,
            &nets,
            [(&PointId::from("host2-eth1"), &other)]
        )
        .is_empty());
    }

    /// Where IPv4 goes in IPIP and IPv6 in VXLAN (a dual ipip lab), a plain IPv6 pod packet
    /// is a leak, and IPv6 VXLAN is judged against the lab's VXLAN, not IPIP.
    #[test]
    fn a_dual_ipip_lab_judges_each_family_by_its_own_encapsulation() {
        use crate::wire::ipv6::build::plain6;
        let v = Encap::Vxlan(VxlanParams {
            vni: 4096,
            port: 4789,
        });
        let encaps = [(Family::Ipv4, Encap::Ipip), (Family::Ipv6, v)];
        let (a, b) = ("fd00:172:16::2", "fd00:172:16:1::2");
        let pods: BTreeSet<IpAddr> = [a.parse::<IpAddr>().unwrap(), b.parse().unwrap()].into();
        let nets = ["fd00:172:16::/64".parse().unwrap()];
        let w = dissect(&plain6(a, b, false, None), &[4789]).unwrap();
        let found = leaks(&encaps, &pods, &nets, [(&PointId::from("gw-eth1"), &w)]);
        assert_eq!(found, vec![format!("plain IPv6 {a} > {b} on gw-eth1: pod addresses must not cross the underlay in ipip mode")]);
        let arp_vni1 = dissect(
            &vxlan_frame(
                ("10.0.2.2", "10.0.1.2"),
                4789,
                1,
                ("172.16.1.2", "172.16.0.2"),
                false,
                None,
            ),
            &[4789],
        )
        .unwrap();
        let nets4 = ["172.16.1.0/24".parse().unwrap()];
        let found = leaks(
            &encaps,
            &pods,
            &nets4,
            [(&PointId::from("host2-eth1"), &arp_vni1)],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].ends_with("expected UDP/4789 VXLAN vni 4096"),
            "{found:?}"
        );
    }

    fn steady(lost: usize, frame: fn(bool) -> Vec<u8>) -> Vec<ProbeResult> {
        (0..13)
            .map(|i| {
                if i < lost {
                    ProbeResult {
                        outcome: Outcome::NoReply { attempts: 1 },
                        seen: vec![],
                    }
                } else {
                    everywhere(reply(), frame)
                }
            })
            .collect()
    }

    fn healthy(reply: bool) -> Vec<u8> {
        healthy_vxlan(reply)
    }

    /// A TCP probe's SYN in plain on host1's underlay, untagged like every SYN.
    fn tcp_syn_in_plain() -> Seen {
        use crate::wire::dissect::build;
        let syn = build::ipv4(
            ip("172.16.0.2"),
            ip("172.16.1.2"),
            6,
            &build::tcp(40001, crate::verify::listener::PORT, 0x02, &[]),
        );
        Seen {
            point: "host1-eth1".into(),
            dst_mac: [2, 0, 0, 0, 0, 9],
            reply: false,
            wire: dissect(&build::ether(0x0800, &syn), &[4789]).unwrap(),
            copies: 1,
            ts: Duration::ZERO,
        }
    }

    #[test]
    fn tcp_and_udp_probes_fail_the_pair_by_name_while_icmp_passes() {
        let p = plan(Mode::Vxlan);
        let ok = everywhere(reply(), healthy);
        let refused = ProbeResult {
            outcome: Outcome::Failed {
                error: "connection to port 47277 refused".into(),
            },
            seen: vec![],
        };
        let udp_ok = everywhere(reply(), healthy);
        let transport = [(Proto::Tcp, refused), (Proto::Udp, udp_ok)];
        let v = judge_probes(&p, &ok, &ok, &steady(0, healthy), &transport);
        assert!(!v.passed());
        assert_eq!(v.texts(), ["TCP probe: connection to port 47277 refused"]);
        // Both answered: the pair passes.
        let transport = [
            (Proto::Tcp, everywhere(reply(), healthy)),
            (Proto::Udp, everywhere(reply(), healthy)),
        ];
        assert!(judge_probes(&p, &ok, &ok, &steady(0, healthy), &transport).passed());
    }

    #[test]
    fn a_tcp_handshake_in_plain_is_a_misfit_named_tcp() {
        let p = plan(Mode::Vxlan);
        let ok = everywhere(reply(), healthy);
        let tcp = ProbeResult {
            outcome: Outcome::NoReply { attempts: 3 },
            seen: vec![tcp_syn_in_plain()],
        };
        let v = judge_probes(&p, &ok, &ok, &steady(0, healthy), &[(Proto::Tcp, tcp)]);
        assert!(!v.passed());
        assert_eq!(
            v.texts()[0],
            "TCP request: expected UDP/4789 VXLAN vni 1 between 10.0.1.2 and 10.0.2.2, saw plain IPv4 172.16.0.2 > 172.16.1.2 on host1-eth1 (pod addresses in plain on the underlay)"
        );
        assert_eq!(v.texts()[1], "TCP probe: no reply after 3 attempts");
    }

    #[test]
    fn steady_state_loss_fails_by_default_and_is_called_flaky() {
        let p = plan(Mode::Vxlan);
        let ok = everywhere(reply(), healthy);
        let v = judge_pair(&p, &ok, &ok, &steady(4, healthy));
        assert!(!v.passed());
        assert_eq!(v.loss, Loss { sent: 13, lost: 4 });
        assert!(
            v.texts()
                .iter()
                .any(|r| r.starts_with("lost 4 of 13 steady-state pings (flaky")),
            "{:?}",
            v.texts()
        );
        let loose = PairPlan {
            max_loss: 0.35,
            ..p.clone()
        };
        let v = judge_pair(&loose, &ok, &ok, &steady(4, healthy));
        assert!(v.passed(), "{:?}", v.texts());
        assert_eq!(
            v.remarks,
            ["lost 4 of 13 steady-state pings, within --max-loss"]
        );
        assert!(judge_pair(&p, &ok, &ok, &steady(0, healthy)).passed());
    }

    #[test]
    fn a_full_size_loss_on_a_lossy_path_is_not_called_a_blackhole() {
        let p = plan(Mode::Vxlan);
        let ok = everywhere(reply(), healthy);
        let lost = ProbeResult {
            outcome: Outcome::NoReply { attempts: 3 },
            seen: vec![],
        };
        let v = judge_pair(&p, &ok, &lost, &steady(5, healthy));
        let all = v.texts().join(" | ");
        assert!(!all.contains("blackhole"), "{all}");
        assert!(all.contains("also lost 5 of 13 small pings"), "{all}");
        let v = judge_pair(&p, &ok, &lost, &steady(0, healthy));
        assert!(v.texts().join(" ").contains("MTU blackhole"));
    }

    #[test]
    fn a_pair_that_needed_a_retry_passes_and_says_so() {
        let p = plan(Mode::Vxlan);
        let retried = everywhere(
            Outcome::Reply {
                rtt: Duration::from_micros(300),
                attempts: 2,
            },
            healthy,
        );
        let ok = everywhere(reply(), healthy);
        let v = judge_pair(&p, &retried, &ok, &steady(0, healthy));
        assert!(v.passed(), "{:?}", v.texts());
        assert_eq!(
            v.remarks,
            ["first contact passed on retry: answered on attempt 2"]
        );
    }

    #[test]
    fn reasons_that_rest_on_a_missing_frame_name_where_it_is_missing() {
        let p = plan(Mode::Vxlan);
        // Answered, seen on the hosts' underlays only, and the reply not on host2's.
        let seen: Vec<Seen> = everywhere(reply(), healthy)
            .seen
            .into_iter()
            .filter(|s| {
                s.point.node.starts_with("host")
                    && !(s.point == PointId::from("host2-eth1") && s.reply)
            })
            .collect();
        let ping = ProbeResult {
            outcome: reply(),
            seen,
        };
        let v = judge_pair(&p, &ping, &ping, &steady(0, healthy));
        let at = |point: &str| {
            let point = PointId::from(point);
            v.reasons
                .iter()
                .filter(|r| r.rests_on_absence_at(&point))
                .count()
        };
        assert_eq!(v.reasons.len(), 8, "{:#?}", v.texts());
        // Per probe: the reply not on host2-eth1; never reached pod2-eth1 (twice: from
        // host2's underlay, and answered in its name); the reply never reached pod1-eth1.
        assert_eq!(
            (at("host2-eth1"), at("pod2-eth1"), at("pod1-eth1")),
            (2, 4, 2)
        );
        assert_eq!(at("host1-eth1") + at("pod1-eth11") + at("pod2-eth"), 0);
    }

    #[test]
    fn one_steady_ping_in_plain_among_tunnelled_ones_fails_the_pair() {
        let p = plan(Mode::Vxlan);
        let ok = everywhere(reply(), healthy);
        let mut pings = steady(0, healthy);
        pings[7] = everywhere(reply(), |r| {
            let (s, d) = if r {
                ("172.16.1.2", "172.16.0.2")
            } else {
                ("172.16.0.2", "172.16.1.2")
            };
            plain(s, d, r, Some(TAG))
        });
        let v = judge_pair(&p, &ok, &ok, &pings);
        assert!(!v.passed());
        assert!(
            v.texts()
                .join(" ")
                .contains("pod addresses in plain on the underlay"),
            "{:?}",
            v.texts()
        );
    }

    fn to_host(dst: &'static str) -> impl Fn(bool) -> Vec<u8> {
        move |reply| {
            let (o, i) = if reply {
                ((dst, "10.0.1.2"), ("172.16.1.2", "172.16.0.2"))
            } else {
                (("10.0.1.2", dst), ("172.16.0.2", "172.16.1.2"))
            };
            vxlan_frame(o, 4789, 1, i, reply, Some(TAG))
        }
    }

    fn vtep_list(addrs: &[&str]) -> Arc<[IpAddr]> {
        addrs.iter().map(|a| IpAddr::from(ip(a))).collect()
    }

    #[test]
    fn flooded_copies_on_first_contact_pass_and_a_unicast_to_the_wrong_vtep_fails() {
        let mut p = plan(Mode::Vxlan);
        p.flood = (
            vtep_list(&["10.0.2.2", "10.0.3.2"]),
            vtep_list(&["10.0.1.2", "10.0.3.2"]),
        );
        let mut flooded = everywhere(reply(), healthy);
        flooded
            .seen
            .push(seen("host1-eth1", to_host("10.0.3.2")(false)));
        flooded
            .seen
            .push(seen("host3-eth1", to_host("10.0.3.2")(false)));
        let ok = everywhere(reply(), healthy);
        let v = judge_pair(&p, &flooded, &ok, &steady(0, healthy));
        assert!(v.passed(), "{:?}", v.texts());

        // Not in the flood list: a copy there is no flood.
        let narrow = PairPlan {
            flood: (vtep_list(&["10.0.2.2"]), vtep_list(&[])),
            ..p.clone()
        };
        assert!(!judge_pair(&narrow, &flooded, &ok, &steady(0, healthy)).passed());

        // Only the wrong VTEP, never the right one: a real misdirected unicast.
        let wrong = ProbeResult {
            outcome: reply(),
            seen: vec![seen("host1-eth1", to_host("10.0.3.2")(false))],
        };
        let v = judge_pair(&p, &wrong, &ok, &steady(0, healthy));
        assert!(
            v.texts()
                .iter()
                .any(|r| r.contains("saw VXLAN vni 1 10.0.1.2>10.0.3.2")),
            "{:?}",
            v.texts()
        );

        // In steady state the VTEP has learnt the peer: flooding then is not the design.
        let mut later = steady(0, healthy);
        later[3] = flooded.clone();
        assert!(!judge_pair(&p, &ok, &ok, &later).passed());
    }

    #[test]
    fn host_gw_frames_must_go_to_the_peer_host_s_own_mac() {
        let mut p = plan(Mode::HostGw);
        p.host_macs = Arc::from([
            ("host1".into(), [2, 0, 0, 0, 0, 1]),
            ("host2".into(), [2, 0, 0, 0, 0, 2]),
            ("host3".into(), [2, 0, 0, 0, 0, 3]),
        ]);
        let mut s = seen(
            "host1-eth1",
            plain("10.0.1.2", "10.0.2.2", false, Some(TAG)),
        );
        s.dst_mac = [2, 0, 0, 0, 0, 2];
        assert_eq!(p.next_hop_misfit(&s, false), None);
        s.dst_mac = [2, 0, 0, 0, 0, 3];
        let misfit = p.next_hop_misfit(&s, false).unwrap();
        assert_eq!(misfit.kind(), "next_hop");
        assert_eq!(
            misfit.to_string(),
            "request: next hop: host1 sent it to 02:00:00:00:00:03 (host3's MAC), not to host2 (02:00:00:00:00:02) on host1-eth1"
        );
        // Seen elsewhere (a hub floods it to host3 too): not where the sender chose its hop.
        let elsewhere = Seen {
            point: "host3-eth1".into(),
            ..s.clone()
        };
        assert_eq!(p.next_hop_misfit(&elsewhere, false), None);
        // Overlays go through routers: their next hop is not the peer host.
        let mut v = plan(Mode::Vxlan);
        v.host_macs = p.host_macs.clone();
        assert_eq!(v.next_hop_misfit(&s, false), None);
    }

    #[test]
    fn addresses_as_the_pods_see_them_tell_nat_at_the_destination_from_a_wrong_source() {
        let p = plan(Mode::Vxlan);
        let ok = everywhere(reply(), healthy_vxlan);
        // host2 masquerades towards its pod: the tunnel is right, pod2 sees host2's address.
        let masq_at_host2 = |r: bool| {
            if r {
                plain("172.16.1.2", "172.16.1.1", true, Some(TAG))
            } else {
                plain("172.16.1.1", "172.16.1.2", false, Some(TAG))
            }
        };
        let mut nat = everywhere(reply(), healthy_vxlan);
        nat.seen.retain(|s| s.point != PointId::from("pod2-eth1"));
        nat.seen.push(seen("pod2-eth1", masq_at_host2(false)));
        let v = judge2(&p, &nat, &ok);
        assert!(!v.passed());
        assert_eq!(
            v.texts(),
            ["request: source rewritten on the way (SNAT/MASQUERADE): pod2 received it from 172.16.1.1, not from pod1's 172.16.0.2 on pod2-eth1"]
        );
        // pod1 itself chose another address: that is what the reason says, not NAT.
        let mut wrong = everywhere(reply(), healthy_vxlan);
        wrong
            .seen
            .retain(|s| s.point != PointId::from("pod1-eth1") || s.reply);
        wrong.seen.push(seen(
            "pod1-eth1",
            plain("172.16.0.9", "172.16.1.2", false, Some(TAG)),
        ));
        let v = judge2(&p, &wrong, &ok);
        assert_eq!(
            v.texts(),
            ["request: wrong source address: pod1 sent it from 172.16.0.9, not from its own address 172.16.0.2 on pod1-eth1"]
        );
        // Answered without the request ever reaching pod2: something answered in its name.
        let mut dnat = everywhere(reply(), healthy_vxlan);
        dnat.seen.retain(|s| s.point != PointId::from("pod2-eth1"));
        let v = judge2(&p, &dnat, &ok);
        assert!(
            v.texts()
                .iter()
                .any(|r| r.contains("never reached pod2-eth1")),
            "{:?}",
            v.texts()
        );
    }
}
