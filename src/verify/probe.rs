//! ICMP echo from inside a pod, without a ping binary: a raw ICMP socket created in the pod's
//! namespace (it stays bound to that namespace afterwards), tagged probes, RTT from the reply.
//!
//! Every probe carries a [`Tag`] in its payload, so captures find its packets exactly even when
//! NAT rewrites addresses or the identifier. The echo identifier and sequence number carry the
//! [`ProbeId`] again ([`ProbeId::echo_fields`]), because an ICMP error quotes only the first 8
//! bytes of the ICMP header.
//!
//! # The marker of verify's packets
//!
//! A capture filter can pass every probe packet of verify, and nothing else of the pods', by:
//! - ICMP (echo request, echo reply, and the errors that answer probes), or
//! - TCP or UDP with source or destination port 47277 ([`super::listener::PORT`]): the TCP and
//!   UDP probes ([`super::transport`]) go to that port on the destination pod and their replies
//!   come from it, in plain or inside VXLAN/IPIP (match the inner header there).
//!
//! Every probe's payload then starts with [`Tag::MAGIC`] (`cnilab\0\x01`); the TCP handshake
//! and teardown segments of a TCP probe carry no payload, only the port.

use super::id::ProbeId;
use super::judge::Outcome;
use crate::family::Family;
use crate::sys::icmp_socket;
use crate::sys::netns::{in_netns, NetnsError};
use crate::wire::dissect::{self, Tag};
use nix::errno::Errno;
use nix::sys::socket::{setsockopt, sockopt};
use nix::{setsockopt_impl, sockopt_impl};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const ICMP_HEADER: usize = 8;
#[cfg(test)]
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
/// A small probe is the size of a default ping: 56 bytes of payload, 84 bytes of IP.
pub const SMALL: u16 = 84;
/// How long each attempt waits for its reply; the number of entries bounds the attempts.
pub const ATTEMPT_TIMEOUTS: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_millis(800),
    Duration::from_millis(1200),
];

/// One echo request to send: which probe, where, how big (IP total length), and how many
/// attempts it gets (at most [`ATTEMPT_TIMEOUTS`]`.len()`).
#[derive(Debug, Clone, Copy)]
pub struct ProbeSpec {
    pub id: ProbeId,
    pub dst: IpAddr,
    pub size: u16,
    pub attempts: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("cannot open a raw ICMP socket in pod `{pod}`: {source}")]
    Socket { pod: String, source: io::Error },
}

/// ICMP_FILTER, from linux/icmp.h, which libc does not carry.
const ICMP_FILTER: libc::c_int = 1;
sockopt_impl!(
    /// ICMP_FILTER: the ICMP types, as bits, that a raw ICMP socket drops.
    IcmpFilter,
    SetOnly,
    libc::SOL_RAW,
    ICMP_FILTER,
    u32
);
sockopt_impl!(
    /// IP_MTU_DISCOVER, with one of the IP_PMTUDISC_* modes.
    MtuDiscover,
    SetOnly,
    libc::IPPROTO_IP,
    libc::IP_MTU_DISCOVER,
    libc::c_int
);

/// ICMP6_FILTER, from linux/icmpv6.h, which libc does not carry.
const ICMP6_FILTER: libc::c_int = 1;
sockopt_impl!(
    /// ICMP6_FILTER: per ICMPv6 type, one bit set where a raw ICMPv6 socket drops it.
    Icmp6Filter,
    SetOnly,
    libc::IPPROTO_ICMPV6,
    ICMP6_FILTER,
    [u32; 8]
);
sockopt_impl!(
    /// IPV6_MTU_DISCOVER, with one of the IPV6_PMTUDISC_* modes.
    Mtu6Discover,
    SetOnly,
    libc::IPPROTO_IPV6,
    libc::IPV6_MTU_DISCOVER,
    libc::c_int
);

/// A pod's raw socket for one family's echo probes.
#[derive(Debug)]
pub struct PodSocket {
    pub fd: OwnedFd,
    pub family: Family,
}

/// A pod's echo sockets, one per family the lab carries.
#[derive(Debug)]
pub struct PodSockets(pub Vec<PodSocket>);

impl PodSockets {
    /// The socket of `family`, where the lab carries it.
    pub fn of(&self, family: Family) -> Option<&PodSocket> {
        self.0.iter().find(|s| s.family == family)
    }

    /// Any of them: each lives in the pod's namespace, so it can ask for the pod's MTU.
    pub fn any(&self) -> &OwnedFd {
        &self.0[0].fd
    }
}

/// The pod's echo sockets for `families` (at least one).
pub fn open_all(pod: &str, namespace: &str, families: &[Family]) -> Result<PodSockets, ProbeError> {
    let sockets = families
        .iter()
        .map(|&family| {
            let fd = match family {
                Family::Ipv4 => open(pod, namespace)?,
                Family::Ipv6 => open6(pod, namespace)?,
            };
            Ok(PodSocket { fd, family })
        })
        .collect::<Result<Vec<_>, ProbeError>>()?;
    Ok(PodSockets(sockets))
}

/// A raw ICMPv6 socket inside the pod's namespace: echo replies, destination unreachables and
/// packet too big only (ICMP6_FILTER), never fragmented locally and sent at the interface MTU
/// whatever path MTU the pod cached (IPV6_PMTUDISC_PROBE, as [`open`] does for IPv4).
pub fn open6(pod: &str, namespace: &str) -> Result<OwnedFd, ProbeError> {
    let err = |source: io::Error| ProbeError::Socket {
        pod: pod.to_string(),
        source,
    };
    in_netns(namespace, || {
        let socket = icmp_socket::open6().map_err(err)?;
        let mut filter = [u32::MAX; 8];
        for kept in [1u8, 2, 129] {
            filter[usize::from(kept >> 5)] &= !(1 << (kept & 31));
        }
        setsockopt(&socket, Icmp6Filter, &filter).map_err(|e| err(e.into()))?;
        let probe = libc::IPV6_PMTUDISC_PROBE;
        setsockopt(&socket, Mtu6Discover, &probe).map_err(|e| err(e.into()))?;
        let _ = setsockopt(&socket, sockopt::RcvBufForce, &(4usize << 20));
        Ok(socket)
    })?
}

/// A raw ICMP socket inside the pod's namespace: echo replies and destination unreachables
/// only (ICMP_FILTER), DF on every probe, room for a burst of replies.
pub fn open(pod: &str, namespace: &str) -> Result<OwnedFd, ProbeError> {
    let err = |source: io::Error| ProbeError::Socket {
        pod: pod.to_string(),
        source,
    };
    in_netns(namespace, || {
        let socket = icmp_socket::open().map_err(err)?;
        // Bits set in ICMP_FILTER are dropped: keep type 0 (echo reply) and 3 (unreachable).
        let filter: u32 = !((1 << 0) | (1 << 3));
        setsockopt(&socket, IcmpFilter, &filter).map_err(|e| err(e.into()))?;
        // PROBE sets DF like DO but sends at the interface MTU, ignoring the path MTU the
        // pod has cached: after a frag-needed, DO would refuse full-size probes locally for
        // ten minutes, failing a lab whose MTU was fixed since. Verify tests the path itself.
        setsockopt(&socket, MtuDiscover, &libc::IP_PMTUDISC_PROBE).map_err(|e| err(e.into()))?;
        // Best effort: root may go past rmem_max, and the default still works for small labs.
        let _ = setsockopt(&socket, sockopt::RcvBufForce, &(4usize << 20));
        Ok(socket)
    })?
}

/// The ICMP or ICMPv6 echo request for `spec` (its family is its destination's), attempt
/// `attempt`: header, tag, then a filler pattern. `spec.size` is the whole IP packet's.
pub fn echo_request(run: u32, spec: &ProbeSpec, attempt: u8) -> Vec<u8> {
    let family = Family::of(spec.dst);
    let len = usize::from(spec.size)
        .saturating_sub(family.ip_header_len())
        .max(ICMP_HEADER + Tag::LEN);
    let mut buf = vec![0u8; len];
    buf[0] = match family {
        Family::Ipv4 => 8,
        Family::Ipv6 => 128,
    };
    let id = spec.id.at(attempt);
    let (ident, seq) = id.echo_fields(run);
    buf[4..6].copy_from_slice(&ident.to_be_bytes());
    buf[6..8].copy_from_slice(&seq.to_be_bytes());
    id.tag(run).write(&mut buf[ICMP_HEADER..]);
    for (i, b) in buf[ICMP_HEADER + Tag::LEN..].iter_mut().enumerate() {
        *b = i as u8;
    }
    // The kernel sums ICMPv6 itself, over the pseudo-header it alone knows in full.
    if family == Family::Ipv4 {
        let sum = pnet_packet::util::checksum(&buf, 1);
        buf[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    buf
}

struct State {
    sent: [Option<Instant>; ATTEMPT_TIMEOUTS.len()],
    attempt: u8,
    deadline: Option<Instant>,
    done: Option<Outcome>,
}

/// How many probes may be in flight: per pod, and across the whole lab.
///
/// The lab-wide bound matters more. Every packet crosses several veths, and each crossing is a
/// trip through the CPU's backlog queue (net.core.netdev_max_backlog, 1000 by default); a first
/// contact between two VXLAN hosts also floods an ARP request to every peer. Sending every
/// probe at once overflows that queue and the lab appears broken when it is not.
#[derive(Debug)]
pub struct Window {
    pub per_pod: usize,
    /// Lab-wide slots free; senders waiting for one sleep on `freed` rather than poll, so
    /// that a hundred pods waiting for a window of two cost no CPU.
    lab: Mutex<usize>,
    freed: Condvar,
}

/// How long a sender waiting for a slot sleeps at most before it looks again (for Ctrl-C).
const SLOT_WAIT: Duration = Duration::from_millis(20);

impl Window {
    pub fn new(per_pod: usize, lab: usize) -> Window {
        Window {
            per_pod: per_pod.max(1),
            lab: Mutex::new(lab.max(1)),
            freed: Condvar::new(),
        }
    }

    fn free(&self) -> MutexGuard<'_, usize> {
        self.lab.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a lab-wide slot; give it back with [`Window::release`].
    pub fn acquire_blocking(&self) {
        while !self.acquire() {
            self.wait_for_slot();
        }
    }

    /// Takes a lab-wide slot if one is free.
    fn acquire(&self) -> bool {
        let mut free = self.free();
        match free.checked_sub(1) {
            Some(left) => {
                *free = left;
                true
            }
            None => false,
        }
    }

    /// Sleeps until a slot is given back (or [`SLOT_WAIT`] passes); it may be taken by the
    /// time the caller asks for it.
    fn wait_for_slot(&self) {
        let free = self.free();
        if *free == 0 {
            let _ = self.freed.wait_timeout(free, SLOT_WAIT);
        }
    }

    pub fn release(&self) {
        *self.free() += 1;
        self.freed.notify_one();
    }
}

/// Sends every probe of one pod within `window`, retrying lost ones a bounded number of
/// times. `on_done(i)` is called once per probe when its outcome is final.
pub fn run(
    socket: &PodSocket,
    run: u32,
    specs: &[ProbeSpec],
    window: &Window,
    on_done: &dyn Fn(usize),
) -> Vec<Outcome> {
    let mut prober = Prober::new(socket, run, specs, window, on_done);
    let mut buf = vec![0u8; 65536];
    while prober.remaining > 0 {
        // Ctrl-C or SIGTERM: what is still open ends as unanswered; the caller reports the stop.
        if crate::interrupt::requested() {
            prober.give_up_all();
            break;
        }
        prober.turn(&mut buf);
    }
    prober.release_slots();
    prober
        .states
        .into_iter()
        .map(|s| s.done.expect("every probe ends with an outcome"))
        .collect()
}

/// One pod's probes in flight: what each has sent, which wait for replies, which are done.
struct Prober<'a> {
    socket: &'a PodSocket,
    run: u32,
    specs: &'a [ProbeSpec],
    window: &'a Window,
    on_done: &'a dyn Fn(usize),
    by_id: HashMap<ProbeId, usize>,
    states: Vec<State>,
    queue: VecDeque<usize>,
    in_flight: Vec<usize>,
    remaining: usize,
}

impl<'a> Prober<'a> {
    fn new(
        socket: &'a PodSocket,
        run: u32,
        specs: &'a [ProbeSpec],
        window: &'a Window,
        on_done: &'a dyn Fn(usize),
    ) -> Prober<'a> {
        let state = || State {
            sent: [None; ATTEMPT_TIMEOUTS.len()],
            attempt: 0,
            deadline: None,
            done: None,
        };
        Prober {
            socket,
            run,
            specs,
            window,
            on_done,
            by_id: specs.iter().enumerate().map(|(i, s)| (s.id, i)).collect(),
            states: specs.iter().map(|_| state()).collect(),
            queue: (0..specs.len()).collect(),
            in_flight: Vec::new(),
            remaining: specs.len(),
        }
    }

    /// Sends what the windows allow, settles every reply already waiting, and only then
    /// expires what is overdue: a prober kept off the CPU past a deadline must not count a
    /// reply that arrived in time, and sits in its socket, as lost.
    fn turn(&mut self, buf: &mut [u8]) {
        self.fill_window();
        while let Ok(n) = read_packet(self.socket, buf, None) {
            self.settle(&buf[..n], Instant::now());
        }
        if self.remaining > 0 {
            self.expire(Instant::now());
        }
        if self.remaining > 0 {
            self.receive(buf);
        }
    }

    /// Records probe `i`'s final outcome, once.
    fn finish(&mut self, i: usize, outcome: Outcome) {
        if self.states[i].done.is_none() {
            self.states[i].done = Some(outcome);
            self.remaining -= 1;
            (self.on_done)(i);
        }
    }

    fn give_up_all(&mut self) {
        for st in self.states.iter_mut().filter(|s| s.done.is_none()) {
            st.done = Some(Outcome::NoReply {
                attempts: st.attempt,
            });
        }
    }

    /// Sends queued attempts while the pod's and the lab's windows have room.
    fn fill_window(&mut self) {
        while self.in_flight.len() < self.window.per_pod {
            let Some(&i) = self.queue.front() else { break };
            if self.states[i].done.is_some() {
                self.queue.pop_front();
                continue;
            }
            if !self.window.acquire() {
                break;
            }
            self.queue.pop_front();
            self.send(i);
        }
    }

    fn send(&mut self, i: usize) {
        let attempt = self.states[i].attempt;
        let packet = echo_request(self.run, &self.specs[i], attempt);
        let now = Instant::now();
        let sent = match self.specs[i].dst {
            IpAddr::V4(dst) => icmp_socket::send_to(&self.socket.fd, &packet, dst),
            IpAddr::V6(dst) => icmp_socket::send_to6(&self.socket.fd, &packet, dst),
        };
        match sent {
            Ok(_) => {
                let st = &mut self.states[i];
                st.sent[usize::from(attempt)] = Some(now);
                st.deadline = Some(now + ATTEMPT_TIMEOUTS[usize::from(attempt)]);
                self.in_flight.push(i);
            }
            // Queues full for a moment: count it as a lost attempt.
            Err(e) if matches!(errno(&e), Errno::ENOBUFS | Errno::EAGAIN) => {
                self.states[i].deadline = Some(now);
                self.in_flight.push(i);
            }
            Err(e) => {
                // Never in flight, so the expiry pass will not give its slot back.
                self.window.release();
                let error = e.to_string();
                self.finish(i, Outcome::SendFailed { error });
            }
        }
    }

    /// Attempts that ran out of time are retried or, after the last, given up; answered
    /// probes leave the window.
    fn expire(&mut self, now: Instant) {
        let mut still = Vec::with_capacity(self.in_flight.len());
        for i in std::mem::take(&mut self.in_flight) {
            let st = &mut self.states[i];
            if st.done.is_some() {
                self.window.release();
            } else if st.deadline.is_some_and(|d| d <= now) {
                self.window.release();
                let allowed = usize::from(self.specs[i].attempts).clamp(1, ATTEMPT_TIMEOUTS.len());
                if usize::from(st.attempt) + 1 < allowed {
                    st.attempt += 1;
                    self.queue.push_back(i);
                } else {
                    let attempts = st.attempt + 1;
                    self.finish(i, Outcome::NoReply { attempts });
                }
            } else {
                still.push(i);
            }
        }
        self.in_flight = still;
    }

    /// Waits until the nearest deadline for one packet, and settles the probe it answers.
    fn receive(&mut self, buf: &mut [u8]) {
        if self.in_flight.is_empty() {
            // Waiting for the lab-wide window to free a slot.
            self.window.wait_for_slot();
            return;
        }
        let now = Instant::now();
        let next = self
            .in_flight
            .iter()
            .filter_map(|&i| self.states[i].deadline)
            .min()
            .unwrap_or(now);
        let wait = next
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        let Ok(n) = read_packet(self.socket, buf, Some(wait)) else {
            return;
        };
        self.settle(&buf[..n], Instant::now());
    }

    /// Settles the probe a packet read at `at` answers, if it answers one.
    fn settle(&mut self, packet: &[u8], at: Instant) {
        match parse_reply(packet, self.run, self.socket.family) {
            Some(Reply::Echo(id)) => self.answered(id, at),
            Some(Reply::Unreachable {
                id,
                from,
                code,
                mtu,
                dst,
            }) => {
                let Some(&i) = self.by_id.get(&id.probe()) else {
                    return;
                };
                if self.specs[i].dst == dst && self.states[i].sent.iter().any(Option::is_some) {
                    self.finish(i, Outcome::Unreachable { from, code, mtu });
                }
            }
            None => {}
        }
    }

    /// An echo reply for attempt `id`, read at `at`.
    fn answered(&mut self, id: ProbeId, at: Instant) {
        let Some(&i) = self.by_id.get(&id.probe()) else {
            return;
        };
        let st = &self.states[i];
        if let Some(sent) = st.sent.get(usize::from(id.attempt)).copied().flatten() {
            let outcome = Outcome::Reply {
                rtt: at - sent,
                attempts: st.attempt + 1,
            };
            self.finish(i, outcome);
        }
    }

    /// Probes answered since the last pass still hold their lab-wide slots.
    fn release_slots(&self) {
        for &i in &self.in_flight {
            if self.states[i].deadline.is_some() {
                self.window.release();
            }
        }
    }
}

fn errno(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

enum Reply {
    Echo(ProbeId),
    Unreachable {
        id: ProbeId,
        from: IpAddr,
        code: u8,
        mtu: u16,
        dst: IpAddr,
    },
}

/// Reads one IP packet from `socket` into `buf`, waiting at most `wait` (`None`: only what
/// is already there); returns its length. An ICMPv6 socket hands over the message alone, so
/// the IPv6 header is written in front of it from what the kernel says: its source, its
/// length (the destination, the pod itself, is left unspecified).
fn read_packet(socket: &PodSocket, buf: &mut [u8], wait: Option<Duration>) -> io::Result<usize> {
    match (socket.family, wait) {
        (Family::Ipv4, Some(wait)) => icmp_socket::recv_within(&socket.fd, buf, wait),
        (Family::Ipv4, None) => icmp_socket::try_recv(&socket.fd, buf),
        (Family::Ipv6, wait) => {
            let wait = wait.unwrap_or(Duration::ZERO);
            let (n, from) = icmp_socket::recv6_within(&socket.fd, &mut buf[IPV6_HEADER..], wait)?;
            let header = ipv6_header(from.unwrap_or(std::net::Ipv6Addr::UNSPECIFIED), n);
            buf[..IPV6_HEADER].copy_from_slice(&header);
            Ok(IPV6_HEADER + n)
        }
    }
}

/// The fixed IPv6 header of an ICMPv6 message of `len` bytes from `src`.
fn ipv6_header(src: std::net::Ipv6Addr, len: usize) -> [u8; IPV6_HEADER] {
    let mut h = [0u8; IPV6_HEADER];
    h[0] = 0x60;
    h[4..6].copy_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    h[6] = 58;
    h[7] = 64;
    h[8..24].copy_from_slice(&src.octets());
    h
}

/// What the raw socket read (an IP packet of `family`), if it answers one of this run's
/// probes. An ICMPv6 error is read in ICMP's terms: packet too big as frag-needed (code 4),
/// each destination unreachable as the ICMP code that means the same ([`v4_code`]).
fn parse_reply(packet: &[u8], run: u32, family: Family) -> Option<Reply> {
    // Reuse the dissector: wrap the IP packet in a dummy Ethernet header.
    let mut frame = vec![0u8; 14];
    let ethertype: u16 = match family {
        Family::Ipv4 => 0x0800,
        Family::Ipv6 => 0x86dd,
    };
    frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
    frame.extend_from_slice(packet);
    let dissect::Wire::Plain(ip) = dissect::dissect(&frame, &[]).ok()? else {
        return None;
    };
    match ip.l4 {
        dissect::L4::Echo {
            reply: true,
            tag: Some(tag),
            ..
        } => Some(Reply::Echo(ProbeId::from_tag(tag, run)?)),
        dissect::L4::Unreachable {
            code,
            mtu,
            original: Some(q),
        } => Some(Reply::Unreachable {
            id: ProbeId::from_echo_fields(run, q.id, q.seq)?,
            from: ip.src,
            code,
            mtu,
            dst: q.dst,
        }),
        dissect::L4::TooBig {
            mtu,
            original: Some(q),
        } => Some(Reply::Unreachable {
            id: ProbeId::from_echo_fields(run, q.id, q.seq)?,
            from: ip.src,
            code: 4,
            mtu: u16::try_from(mtu).unwrap_or(u16::MAX),
            dst: q.dst,
        }),
        dissect::L4::OtherIcmp {
            icmp_type: 1,
            code,
            original: Some(q),
        } if family == Family::Ipv6 => Some(Reply::Unreachable {
            id: ProbeId::from_echo_fields(run, q.id, q.seq)?,
            from: ip.src,
            code: v4_code(code),
            mtu: 0,
            dst: q.dst,
        }),
        _ => None,
    }
}

/// The ICMP destination unreachable code that means what ICMPv6's `code` does (RFC 4443):
/// no route is network unreachable (0), address unreachable host unreachable (1), port
/// unreachable port unreachable (3), prohibited administratively prohibited (13).
fn v4_code(code: u8) -> u8 {
    match code {
        0 => 0,
        3 => 1,
        4 => 3,
        1 | 5 | 6 => 13,
        other => 200 + other.min(50),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netns::testing::in_private_netns;
    use crate::verify::id::ProbeKind;
    use crate::wire::dissect::build;

    fn v4_socket() -> PodSocket {
        PodSocket {
            fd: icmp_socket::open().unwrap(),
            family: Family::Ipv4,
        }
    }

    /// Sends that fail outright (here: no route at all) must hand back their lab-wide slots,
    /// or a lab with more failing probes than slots waits forever.
    #[test]
    fn failed_sends_give_back_their_window_slots() {
        // Nothing can leave an empty namespace without routes.
        let (outcomes, free) =
            in_private_netns("probing hung: failed sends kept their window slots", || {
                let socket = v4_socket();
                let specs: Vec<ProbeSpec> = (0..6)
                    .map(|pair| ProbeSpec {
                        id: ProbeId::new(pair, ProbeKind::Ping),
                        dst: [10, 9, 9, 9].into(),
                        size: SMALL,
                        attempts: 3,
                    })
                    .collect();
                let window = Window::new(4, 2);
                let outcomes = run(&socket, 1, &specs, &window, &|_| {});
                let free = *window.free();
                (outcomes, free)
            });
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Outcome::SendFailed { .. })),
            "{outcomes:?}"
        );
        assert_eq!(free, 2, "every slot is free again");
    }

    /// A prober that gets the CPU back only after a probe's deadline must still count the
    /// reply that came in time and waits in its socket: a late look is not a lost ping.
    #[test]
    fn a_reply_waiting_past_the_deadline_is_a_reply_not_a_loss() {
        let outcome = in_private_netns("the prober hung", || {
            // Only the namespace's own loopback answers.
            let lo = std::process::Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status();
            assert!(lo.is_ok_and(|s| s.success()), "ip link set lo up");
            let socket = v4_socket();
            let specs = [ProbeSpec {
                id: ProbeId::new(0, ProbeKind::Ping),
                dst: std::net::Ipv4Addr::LOCALHOST.into(),
                size: SMALL,
                attempts: 1,
            }];
            let window = Window::new(4, 4);
            let mut prober = Prober::new(&socket, 1, &specs, &window, &|_| {});
            prober.fill_window();
            std::thread::sleep(Duration::from_millis(100));
            // The deadline passed while this prober was away; the reply is already here.
            prober.states[0].deadline = Some(Instant::now() - Duration::from_millis(1));
            let mut buf = vec![0u8; 65536];
            prober.turn(&mut buf);
            prober.states[0].done.clone()
        });
        assert!(
            matches!(outcome, Some(Outcome::Reply { attempts: 1, .. })),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_sender_waiting_for_the_lab_window_takes_the_slot_given_back() {
        let window = std::sync::Arc::new(Window::new(4, 1));
        assert!(window.acquire());
        assert!(!window.acquire(), "one slot only");
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = window.clone();
        std::thread::spawn(move || {
            waiter.acquire_blocking();
            let _ = tx.send(());
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "no slot was free"
        );
        window.release();
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the waiting sender never got the slot given back");
        assert_eq!(*window.free(), 0, "the waiter holds the one slot");
    }

    #[test]
    fn requests_have_the_asked_size_a_valid_checksum_and_the_tag() {
        let spec = ProbeSpec {
            id: ProbeId::new(9, ProbeKind::FullSize),
            dst: build::ip("172.16.1.2").into(),
            size: 1450,
            attempts: 3,
        };
        let icmp = echo_request(77, &spec, 2);
        assert_eq!(icmp.len() + IPV4_HEADER, 1450);
        assert_eq!(
            pnet_packet::util::checksum(&icmp, 1).to_be_bytes(),
            [icmp[2], icmp[3]]
        );
        let attempt = spec.id.at(2);
        assert_eq!(Tag::parse(&icmp[8..]), Some(attempt.tag(77)));
        let (ident, seq) = (
            u16::from_be_bytes([icmp[4], icmp[5]]),
            u16::from_be_bytes([icmp[6], icmp[7]]),
        );
        assert_eq!(ProbeId::from_echo_fields(77, ident, seq), Some(attempt));
        let small = echo_request(
            77,
            &ProbeSpec {
                size: SMALL,
                ..spec
            },
            0,
        );
        assert_eq!(small.len(), 64);
    }

    #[test]
    fn replies_are_matched_by_tag_and_errors_by_quoted_sequence() {
        let id = ProbeId::new(1, ProbeKind::Ping).at(1);
        let reply = build::ipv4(
            build::ip("172.16.1.2"),
            build::ip("172.16.0.2"),
            1,
            &build::echo(true, 5, 0, Some(id.tag(5))),
        );
        assert!(matches!(parse_reply(&reply, 5, Family::Ipv4), Some(Reply::Echo(t)) if t == id));
        assert!(
            parse_reply(&reply, 6, Family::Ipv4).is_none(),
            "another run's reply is not ours"
        );
        let original = build::ipv4(build::ip("172.16.0.2"), build::ip("172.16.1.2"), 1, &{
            let (ident, seq) = id.echo_fields(5);
            build::echo(false, ident, seq, None)
        });
        let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0x78];
        icmp.extend_from_slice(&original[..28]);
        let err = build::ipv4(build::ip("172.16.0.1"), build::ip("172.16.0.2"), 1, &icmp);
        match parse_reply(&err, 5, Family::Ipv4) {
            Some(Reply::Unreachable {
                id: quoted,
                from,
                code: 4,
                mtu: 1400,
                dst,
            }) => {
                assert_eq!(quoted, id);
                assert_eq!(from, IpAddr::from(build::ip("172.16.0.1")));
                assert_eq!(dst, IpAddr::from(build::ip("172.16.1.2")));
            }
            _ => panic!("frag-needed not recognised"),
        }
        // An earlier run's error names no probe this run sent (or none at all).
        assert!(
            !matches!(parse_reply(&err, 6, Family::Ipv4), Some(Reply::Unreachable { id: q, .. }) if q == id)
        );
    }

    /// An ICMPv6 probe is an echo request (type 128) whose IPv6 packet has the asked size; the
    /// kernel sums it, so its checksum is left to the kernel.
    #[test]
    fn icmpv6_requests_have_the_asked_size_with_the_ipv6_header() {
        let spec = ProbeSpec {
            id: ProbeId::new(9, ProbeKind::FullSize),
            dst: crate::wire::ipv6::build::ip6("fd00:172:16:1::2").into(),
            size: 1430,
            attempts: 3,
        };
        let icmp = echo_request(77, &spec, 1);
        assert_eq!((icmp[0], icmp.len() + IPV6_HEADER), (128, 1430));
        assert_eq!([icmp[2], icmp[3]], [0, 0]);
        assert_eq!(Tag::parse(&icmp[8..]), Some(spec.id.at(1).tag(77)));
    }

    /// The reply an ICMPv6 socket reads, once its IPv6 header is written in front, is matched
    /// like IPv4's; packet too big reads as frag-needed with the MTU it gives, and a
    /// destination unreachable by its meaning (no route: network unreachable).
    #[test]
    fn icmpv6_replies_and_errors_are_matched_to_their_probes() {
        use crate::wire::ipv6::build::{echo6, ip6, packet6};
        let id = ProbeId::new(4, ProbeKind::FullSize).at(2);
        let reply = echo6(true, 1, 1, Some(id.tag(5)));
        let mut packet = ipv6_header(ip6("fd00:172:16:1::2"), reply.len()).to_vec();
        packet.extend_from_slice(&reply);
        assert!(matches!(parse_reply(&packet, 5, Family::Ipv6), Some(Reply::Echo(t)) if t == id));
        let (ident, seq) = id.echo_fields(5);
        let original = packet6(
            ip6("fd00:172:16::2"),
            ip6("fd00:172:16:1::2"),
            58,
            &echo6(false, ident, seq, None),
        );
        for (icmp_type, mtu_field, code, mtu) in [(2u8, 1430u32, 4u8, 1430u16), (1, 0, 0, 0)] {
            let mut error = vec![icmp_type, 0, 0, 0];
            error.extend_from_slice(&mtu_field.to_be_bytes());
            error.extend_from_slice(&original);
            let mut packet = ipv6_header(ip6("fd00:172:16::1"), error.len()).to_vec();
            packet.extend_from_slice(&error);
            match parse_reply(&packet, 5, Family::Ipv6) {
                Some(Reply::Unreachable {
                    id: quoted,
                    from,
                    code: c,
                    mtu: m,
                    dst,
                }) => {
                    assert_eq!((quoted, c, m), (id, code, mtu), "type {icmp_type}");
                    assert_eq!(from, IpAddr::from(ip6("fd00:172:16::1")));
                    assert_eq!(dst, IpAddr::from(ip6("fd00:172:16:1::2")));
                }
                _ => panic!("ICMPv6 type {icmp_type} not matched to its probe"),
            }
        }
    }
}
