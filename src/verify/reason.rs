//! Why a pair failed, as data. Each [`Reason`] prints as the sentence the table shows, and in
//! `--json` it is an object with a stable snake_case `kind`, that sentence as `message`, and its
//! fields (docs/json.md lists them). Callers sort, group and excuse reasons by their fields,
//! never by matching text.

use super::judge::Outcome;
use crate::lab::point::{PointId, Role};
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// Which of a pair's probes a reason is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeName {
    /// The first-contact ICMP echo.
    Ping,
    /// The echo at the pod MTU with DF set.
    FullSize,
    Tcp,
    Udp,
}

impl fmt::Display for ProbeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeName::Ping => "ping",
            ProbeName::FullSize => "full-size probe",
            ProbeName::Tcp => "TCP probe",
            ProbeName::Udp => "UDP probe",
        })
    }
}

/// Which way a frame goes: from the pair's source pod, or back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Request,
    Reply,
}

impl Direction {
    pub fn of(reply: bool) -> Direction {
        if reply {
            Direction::Reply
        } else {
            Direction::Request
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Request => "request",
            Direction::Reply => "reply",
        })
    }
}

/// Where frames of the wrong shape were seen: the transport (`TCP`, `UDP`; none for ICMP),
/// the direction, and every capture point that showed the same fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sighted {
    pub transport: Option<&'static str>,
    pub direction: Direction,
    pub points: Vec<PointId>,
}

impl fmt::Display for Sighted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.transport {
            Some(t) => write!(f, "{t} {}", self.direction),
            None => write!(f, "{}", self.direction),
        }
    }
}

/// A reason a pair failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// A frame whose shape is not the mode's.
    Misfit {
        #[serde(flatten)]
        at: Sighted,
        expected: String,
        saw: String,
        note: Option<&'static str>,
    },
    /// In host-gw, a frame sent to another MAC than the peer host's own.
    NextHop {
        #[serde(flatten)]
        at: Sighted,
        sender: String,
        sent_to: String,
        /// The host whose MAC that is, if any.
        owner: Option<String>,
        receiver: String,
        receiver_mac: String,
    },
    /// The sending pod used another source address than its own.
    WrongSource {
        #[serde(flatten)]
        at: Sighted,
        sender: String,
        from: IpAddr,
        own: IpAddr,
    },
    /// SNAT or MASQUERADE on the way: the receiving pod saw another source.
    SourceRewritten {
        #[serde(flatten)]
        at: Sighted,
        receiver: String,
        from: IpAddr,
        sender: String,
        sender_ip: IpAddr,
    },
    /// DNAT on the way: the receiving pod saw another destination.
    DestinationRewritten {
        #[serde(flatten)]
        at: Sighted,
        receiver: String,
        to: IpAddr,
        planned: IpAddr,
    },
    /// A probe that was not answered as it should be.
    ProbeFailed { probe: ProbeName, outcome: Outcome },
    /// A frame missing where the pair's packets must pass.
    NotSeen {
        probe: ProbeName,
        direction: Direction,
        point: PointId,
    },
    /// Reached a host's underlay, never the pod behind it.
    DroppedAtHost {
        probe: ProbeName,
        direction: Direction,
        reached: PointId,
        missed: PointId,
        /// What stopped it there, read from that host (forwarding off, a missing route).
        cause: Option<String>,
    },
    /// Answered although the request never reached the destination pod.
    AnsweredInItsName { probe: ProbeName, missed: PointId },
    /// The full-size probe got an ICMP frag-needed.
    MtuRefused {
        size: u16,
        from: IpAddr,
        next_hop_mtu: u16,
    },
    /// The full-size probe was lost on a path that loses nothing else.
    MtuBlackhole { size: u16, attempts: u8 },
    /// The full-size probe was lost on a path that also lost small pings.
    FullSizeLost {
        size: u16,
        attempts: u8,
        lost: u32,
        sent: u32,
    },
    /// The full-size probe failed some other way.
    FullSizeFailed { size: u16, outcome: Outcome },
    /// More steady-state pings lost than `--max-loss` allows.
    Loss { lost: u32, sent: u32, max_loss: f64 },
    /// A same-host pair's probe seen off the host's bridge or veths.
    LeftTheHost {
        direction: Direction,
        point: PointId,
        host: String,
    },
    /// A pair the lab expects to fail works.
    ExpectationWorks { at: String, why: String },
    /// A pair the lab expects to fail failed elsewhere.
    ExpectationOtherWay {
        at: String,
        why: String,
        how: String,
    },
    /// A VTEP with no configured way to reach a peer VTEP.
    FloodGap {
        node: String,
        device: String,
        peer: IpAddr,
        /// A learned entry towards the peer was there: traffic from elsewhere taught it.
        learned: bool,
    },
    /// A programmed route, neighbour, FDB entry or device the plan names and the host lacks.
    Programmed { node: String, detail: String },
    /// The receiver got a probe frame more than once: something on the way copied it.
    Duplicated {
        probe: ProbeName,
        direction: Direction,
        point: PointId,
        copies: u32,
        /// The first point that saw two copies, where the captures show one.
        made_at: Option<PointId>,
    },
    /// A probe frame at a pod that is not of the pair, other than the copy a bridge floods.
    Stray {
        direction: Direction,
        point: PointId,
        saw: String,
        /// The pair's pod that got the frame as it should.
        receiver: PointId,
    },
    /// An unanswered probe, and the last place the captures saw it.
    LastSeen {
        probe: ProbeName,
        direction: Direction,
        point: PointId,
        /// What stopped it there, read from that node (a missing route, forwarding off).
        cause: Option<String>,
    },
    /// The request was seen at no capture point: it never left the sending pod.
    Unsent {
        probe: ProbeName,
        pod: String,
        /// Why, read from the pod: no route, or an ARP for the next hop unanswered.
        cause: Option<String>,
    },
    /// In an encrypted lab, a pod packet between nodes in the clear.
    Leak {
        sender: String,
        receiver: String,
        point: PointId,
        sign: LeakSign,
    },
    /// In an encrypted lab, a pair's packets not seen sealed between its hosts.
    NotSealed {
        probe: ProbeName,
        direction: Direction,
        from_host: String,
        to_host: String,
        point: PointId,
        port: u16,
        /// The planned SPI where the lab seals in IPsec ESP (its `port` then 0).
        #[serde(skip_serializing_if = "Option::is_none")]
        esp_spi: Option<u32>,
    },
    /// In an IPsec lab, ESP between a pair's hosts under another SPI than the planned one.
    WrongSpi {
        from_host: String,
        to_host: String,
        point: PointId,
        seen: u32,
        planned: u32,
    },
    /// In an IPsec lab, a request that reached its receiving host as ESP of the planned SPI
    /// and got nothing back sealed: that host could not decrypt it, or did not answer.
    EspUnanswered {
        from_host: String,
        to_host: String,
        spi: u32,
    },
    /// A WireGuard peer whose state, read back from the host, is not as planned.
    WgPeer {
        node: String,
        peer: String,
        problem: WgProblem,
    },
}

/// What gave a leak away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum LeakSign {
    /// The probe's tag, in clear bytes.
    Tag,
    /// The pair's pod addresses in a header.
    Addresses { src: Ipv4Addr, dst: Ipv4Addr },
}

/// What is wrong with one WireGuard peer of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum WgProblem {
    /// No handshake ever completed with the peer, after traffic to it.
    NoHandshake,
    /// The host has no peer with the peer host's public key.
    Missing { public_key: String },
    /// The latest handshake is older than WireGuard keeps a session (180 s).
    Stale { age_secs: u64 },
    /// The peer's endpoint is not the peer host's underlay address and port.
    Endpoint {
        saw: Option<std::net::SocketAddrV4>,
        planned: std::net::SocketAddrV4,
    },
    /// The peer's allowed-ips lack the peer host's pod subnet.
    AllowedIps { missing: ipnet::Ipv4Net },
    /// The device's state could not be read.
    Unreadable { why: String },
}

impl Reason {
    /// The stable `kind` of the JSON object.
    pub fn kind(&self) -> &'static str {
        use Reason::*;
        match self {
            Misfit { .. } => "misfit",
            NextHop { .. } => "next_hop",
            WrongSource { .. } => "wrong_source",
            SourceRewritten { .. } => "source_rewritten",
            DestinationRewritten { .. } => "destination_rewritten",
            ProbeFailed { .. } => "probe_failed",
            NotSeen { .. } => "not_seen",
            DroppedAtHost { .. } => "dropped_at_host",
            AnsweredInItsName { .. } => "answered_in_its_name",
            MtuRefused { .. } => "mtu_refused",
            MtuBlackhole { .. } => "mtu_blackhole",
            FullSizeLost { .. } => "full_size_lost",
            FullSizeFailed { .. } => "full_size_failed",
            Loss { .. } => "loss",
            LeftTheHost { .. } => "left_the_host",
            ExpectationWorks { .. } => "expectation_works",
            ExpectationOtherWay { .. } => "expectation_other_way",
            FloodGap { .. } => "flood_gap",
            Programmed { .. } => "programmed",
            Duplicated { .. } => "duplicated",
            Stray { .. } => "stray",
            LastSeen { .. } => "last_seen",
            Unsent { .. } => "unsent",
            Leak { .. } => "leak",
            NotSealed { .. } => "not_sealed",
            WrongSpi { .. } => "wrong_spi",
            EspUnanswered { .. } => "esp_unanswered",
            WgPeer { .. } => "wg_peer",
        }
    }

    /// Where a wrong frame was seen, for the reasons that name frames.
    pub fn sighted_mut(&mut self) -> Option<&mut Sighted> {
        use Reason::*;
        match self {
            Misfit { at, .. }
            | NextHop { at, .. }
            | WrongSource { at, .. }
            | SourceRewritten { at, .. }
            | DestinationRewritten { at, .. } => Some(at),
            _ => None,
        }
    }

    /// Whether the reason rests on a frame missing at `point`. Where the capture at that point
    /// dropped frames, such a reason proves nothing about the lab.
    pub fn rests_on_absence_at(&self, point: &PointId) -> bool {
        match self {
            Reason::NotSeen { point: p, .. } => p == point,
            Reason::DroppedAtHost { missed, .. } | Reason::AnsweredInItsName { missed, .. } => {
                missed == point
            }
            _ => false,
        }
    }
}

/// The points, comma-separated.
fn points(points: &[PointId]) -> String {
    let names: Vec<String> = points.iter().map(PointId::described).collect();
    names.join(", ")
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Reason::*;
        match self {
            Misfit {
                at,
                expected,
                saw,
                note,
            } => {
                write!(f, "{at}: expected {expected}, saw {saw} on {}", points(&at.points))?;
                match note {
                    Some(note) => write!(f, " ({note})"),
                    None => Ok(()),
                }
            }
            NextHop { .. } | WrongSource { .. } | SourceRewritten { .. } | DestinationRewritten { .. } => {
                rewritten(self, f)
            }
            ProbeFailed { probe, outcome } => write!(f, "{probe}: {}", describe(outcome)),
            NotSeen {
                probe,
                direction,
                point,
            } => write!(f, "{probe} {direction} not seen on {}", point.described()),
            DroppedAtHost {
                probe,
                direction,
                reached,
                missed,
                cause,
            } => {
                let (r, m) = (reached.described(), missed.described());
                match cause {
                    Some(cause) => write!(f, "{probe} {direction} reached {r} but never {m}: {cause}"),
                    None => write!(
                        f,
                        "{probe} {direction} reached {r} but never {m}: {} dropped it (strict rp_filter on an asymmetric path, a firewall or a route)",
                        reached.node
                    ),
                }
            }
            AnsweredInItsName { probe, missed } => write!(
                f,
                "{probe} answered, but its request never reached {}: something before the pod answered in its name (DNAT?)",
                missed.described()
            ),
            _ => full_size_and_beyond(self, f),
        }
    }
}

/// The misfits that name who sent what to whom.
fn rewritten(reason: &Reason, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use Reason::*;
    match reason {
        NextHop {
            at,
            sender,
            sent_to,
            owner,
            receiver,
            receiver_mac,
        } => {
            let whose = owner.as_ref().map_or("no host's".to_string(), |n| format!("{n}'s"));
            write!(
                f,
                "{at}: next hop: {sender} sent it to {sent_to} ({whose} MAC), not to {receiver} ({receiver_mac}) on {}",
                points(&at.points)
            )
        }
        WrongSource {
            at,
            sender,
            from,
            own,
        } => write!(
            f,
            "{at}: wrong source address: {sender} sent it from {from}, not from its own address {own} on {}",
            points(&at.points)
        ),
        SourceRewritten {
            at,
            receiver,
            from,
            sender,
            sender_ip,
        } => write!(
            f,
            "{at}: source rewritten on the way (SNAT/MASQUERADE): {receiver} received it from {from}, not from {sender}'s {sender_ip} on {}",
            points(&at.points)
        ),
        DestinationRewritten {
            at,
            receiver,
            to,
            planned,
        } => write!(
            f,
            "{at}: destination rewritten on the way (DNAT): {receiver} received it for {to}, not for {planned} on {}",
            points(&at.points)
        ),
        _ => Ok(()),
    }
}

/// The full-size probe, loss, and the reasons that come from the lab rather than a frame.
fn full_size_and_beyond(reason: &Reason, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use Reason::*;
    match reason {
        MtuRefused { size, from, next_hop_mtu } => write!(
            f,
            "full-size probe ({size} bytes, DF) refused: ICMP frag-needed from {from}, next-hop MTU {next_hop_mtu}"
        ),
        MtuBlackhole { size, attempts } => write!(
            f,
            "full-size probe ({size} bytes, DF) got no reply after {attempts} attempts while small pings pass: MTU blackhole"
        ),
        FullSizeLost {
            size,
            attempts,
            lost,
            sent,
        } => write!(
            f,
            "full-size probe ({size} bytes, DF) got no reply after {attempts} attempts, on a path that also lost {lost} of {sent} small pings"
        ),
        FullSizeFailed { size, outcome } => {
            write!(f, "full-size probe ({size} bytes, DF): {}", describe(outcome))
        }
        Loss { lost, sent, max_loss } => {
            let what = if lost < sent {
                "flaky: the path drops some packets"
            } else {
                "every steady-state ping lost after a first contact"
            };
            write!(
                f,
                "lost {lost} of {sent} steady-state pings ({what}; --max-loss allows {:.0}%)",
                max_loss * 100.0
            )
        }
        _ => lab_wide(reason, f),
    }
}

fn lab_wide(reason: &Reason, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use Reason::*;
    match reason {
        LeftTheHost {
            direction,
            point,
            host,
        } => {
            let never = match point.role {
                Some(Role::Pod) => "never through another pod",
                _ => "never the underlay",
            };
            write!(
                f,
                "{direction} seen on {}: pods on the same host must talk over {host}'s bridge or veths, {never}",
                point.described()
            )
        }
        Duplicated {
            probe,
            direction,
            point,
            copies,
            made_at,
        } => {
            write!(
                f,
                "{probe} {direction} reached {} {copies} times: something on the way duplicated it",
                point.described()
            )?;
            match made_at {
                Some(at) => write!(f, " (first seen twice on {})", at.described()),
                None => Ok(()),
            }
        }
        Stray {
            direction,
            point,
            saw,
            receiver,
        } => write!(
            f,
            "{direction} {saw} on {}, a pod not of the pair, unlike the copy {} got: that pod was sent it, forwarded it or answered it",
            point.described(),
            receiver.node
        ),
        LastSeen {
            probe,
            direction,
            point,
            cause,
        } => {
            write!(f, "{probe} {direction} last seen on {}", point.described())?;
            match cause {
                Some(cause) => write!(f, "; {cause}"),
                None => Ok(()),
            }
        }
        Unsent { probe, pod, cause } => {
            write!(f, "{probe} request never left {pod}")?;
            match cause {
                Some(cause) => write!(f, ": {cause}"),
                None => Ok(()),
            }
        }
        ExpectationWorks { at, why } => write!(
            f,
            "expected to die at {at} ({why}), but it works: the expectation no longer holds"
        ),
        ExpectationOtherWay { at, why, how } => write!(
            f,
            "expected to die at {at} ({why}), but it failed another way: {how}"
        ),
        FloodGap {
            node,
            device,
            peer,
            learned: true,
        } => write!(
            f,
            "{node} reached {peer} only through a learned FDB entry: its flood entry is missing (bridge fdb append 00:00:00:00:00:00 dst {peer} dev {device})"
        ),
        FloodGap {
            node, device, peer, ..
        } => write!(
            f,
            "{node} has no flood entry for {peer} (bridge fdb append 00:00:00:00:00:00 dst {peer} dev {device}): it cannot resolve that VTEP on its own"
        ),
        Programmed { detail, .. } => f.write_str(detail),
        _ => sealed(reason, f),
    }
}

/// The reasons of an encrypted lab.
fn sealed(reason: &Reason, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use Reason::*;
    match reason {
        Leak {
            sender,
            receiver,
            point,
            sign,
        } => {
            let how = match sign {
                LeakSign::Tag => "the probe's tag in clear bytes".to_string(),
                LeakSign::Addresses { src, dst } => format!("{src} > {dst} in a header"),
            };
            write!(
                f,
                "leak: {sender} → {receiver} crossed {} in the clear ({how})",
                point.described()
            )
        }
        NotSealed {
            probe,
            direction,
            from_host,
            to_host,
            point,
            port,
            esp_spi,
        } => {
            let how = match esp_spi {
                Some(spi) => format!("ESP with SPI {spi:#x}"),
                None => format!("WireGuard transport data on UDP {port}"),
            };
            write!(
                f,
                "{probe} {direction} from {from_host} to {to_host} not seen as {how} at {}",
                point.described()
            )
        }
        EspUnanswered {
            from_host,
            to_host,
            spi,
        } => write!(
            f,
            "{to_host} got {from_host}'s ESP (SPI {spi:#x}) and sent nothing back sealed \
             (check {to_host}'s key for the state from {from_host}, SPI {spi:#x})"
        ),
        WrongSpi {
            from_host,
            to_host,
            point,
            seen,
            planned,
        } => write!(
            f,
            "ESP SPI {seen:#x} not the planned {planned:#x} from {from_host} to {to_host} at {}",
            point.described()
        ),
        WgPeer {
            node,
            peer,
            problem,
        } => wg_problem(node, peer, problem, f),
        _ => Ok(()),
    }
}

fn wg_problem(
    node: &str,
    peer: &str,
    problem: &WgProblem,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    match problem {
        WgProblem::NoHandshake => write!(
            f,
            "no WireGuard handshake answer from {peer} (check its peer key for {node})"
        ),
        WgProblem::Missing { public_key } => write!(
            f,
            "{node} has no WireGuard peer with {peer}'s public key {public_key} (check its peer key for {peer})"
        ),
        WgProblem::Stale { age_secs } => write!(
            f,
            "{node}'s latest WireGuard handshake with {peer} is {age_secs} s old: stale (a session lasts 180 s)"
        ),
        WgProblem::Endpoint { saw, planned } => {
            let saw = saw.map_or("none".to_string(), |s| s.to_string());
            write!(f, "{node}'s WireGuard peer {peer} has endpoint {saw}, not {planned}")
        }
        WgProblem::AllowedIps { missing } => write!(
            f,
            "{node}'s WireGuard peer {peer} lacks {missing} in its allowed-ips: {node} cannot send {peer}'s pods anything through the tunnel"
        ),
        WgProblem::Unreadable { why } => {
            write!(f, "cannot read {node}'s WireGuard state for its peer {peer}: {why}")
        }
    }
}

/// How a probe ended, in words.
pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Reply { .. } => "replied".into(),
        Outcome::NoReply { attempts } => format!("no reply after {attempts} attempts"),
        Outcome::Unreachable { from, code, mtu } => {
            let what = match code {
                0 => "network unreachable".to_string(),
                1 => "host unreachable".to_string(),
                4 => format!("fragmentation needed, next-hop MTU {mtu}"),
                13 => "administratively prohibited".to_string(),
                c => format!("destination unreachable, code {c}"),
            };
            format!("{what} (ICMP from {from})")
        }
        Outcome::SendFailed { error } => format!("could not be sent: {error}"),
        Outcome::Failed { error } => error.clone(),
    }
}

/// Serialises reasons as objects: `kind`, `message` (the sentence) and the reason's fields.
pub fn serialize_all<S: Serializer>(reasons: &[Reason], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(reasons.len()))?;
    for reason in reasons {
        let mut value = serde_json::to_value(reason).map_err(serde::ser::Error::custom)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("message".into(), reason.to_string().into());
        }
        seq.serialize_element(&value)?;
    }
    seq.end()
}
