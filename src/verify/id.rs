//! Which probe a packet belongs to: [`ProbeId`], and its one encoding on the wire.
//!
//! The id travels as one 32-bit number, written by [`ProbeId::emit`] and read back by
//! [`ProbeId::parse`] (as smoltcp's `Repr::emit`/`Repr::parse` mirror each other). The tag in
//! a probe's payload carries that number, and an ICMP echo request carries it again in its
//! identifier and sequence fields, because an ICMP error quotes only the first 8 bytes of
//! the ICMP header it answers.

use super::transport::Proto;
use crate::wire::dissect::Tag;

/// Which of a pair's probes a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// The first contact: a default-size ping, retried with growing waits, since resolving
    /// the path (ARP, FDB) from a cold start may cost a try.
    Ping,
    /// A probe at the pod's MTU with DF set.
    FullSize,
    /// The n-th steady-state ping after a successful first contact: one attempt each, and
    /// every loss counts.
    Steady(u8),
    /// A TCP connection or UDP datagram to the destination pod's listener.
    Transport(Proto),
}

/// Steady-state pings per pair. A path that loses a share p of packets passes all of them
/// with probability (1−p)^n; 13 makes that below 1% at 30% loss (0.7^13 ≈ 0.0097).
pub const STEADY_PINGS: u8 = 13;

/// One attempt of one probe of one pair. With `attempt` 0 it also names the probe as a whole
/// (see [`ProbeId::probe`]), which is how outcomes and sightings are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProbeId {
    pub pair: usize,
    pub kind: ProbeKind,
    pub attempt: u8,
}

/// The kinds, each a slot number: a pair's probes are numbered `pair · SLOTS + slot`.
const SLOTS: u32 = 4 + STEADY_PINGS as u32;
const TCP_SLOT: u32 = 2 + STEADY_PINGS as u32;
/// Room for each probe's attempts (at most [`super::probe::ATTEMPT_TIMEOUTS`]`.len()`).
const ATTEMPTS: u32 = 4;

impl ProbeId {
    /// The probe as a whole: its first attempt's id.
    pub fn new(pair: usize, kind: ProbeKind) -> ProbeId {
        ProbeId {
            pair,
            kind,
            attempt: 0,
        }
    }

    /// The same probe, another attempt.
    pub fn at(self, attempt: u8) -> ProbeId {
        ProbeId { attempt, ..self }
    }

    /// The probe this attempt belongs to.
    pub fn probe(self) -> ProbeId {
        self.at(0)
    }

    /// The id as one number: `(pair · SLOTS + slot) · ATTEMPTS + attempt`.
    pub fn emit(self) -> u32 {
        let slot = match self.kind {
            ProbeKind::Ping => 0,
            ProbeKind::FullSize => 1,
            ProbeKind::Steady(n) => 2 + u32::from(n),
            ProbeKind::Transport(Proto::Tcp) => TCP_SLOT,
            ProbeKind::Transport(Proto::Udp) => TCP_SLOT + 1,
        };
        (self.pair as u32 * SLOTS + slot) * ATTEMPTS + u32::from(self.attempt)
    }

    /// The inverse of [`ProbeId::emit`]; `None` for a number no probe can have.
    pub fn parse(n: u32) -> Option<ProbeId> {
        let attempt = (n % ATTEMPTS) as u8;
        let n = n / ATTEMPTS;
        let kind = match n % SLOTS {
            0 => ProbeKind::Ping,
            1 => ProbeKind::FullSize,
            s if s == TCP_SLOT => ProbeKind::Transport(Proto::Tcp),
            s if s == TCP_SLOT + 1 => ProbeKind::Transport(Proto::Udp),
            s => ProbeKind::Steady(u8::try_from(s - 2).ok()?),
        };
        Some(ProbeId {
            pair: (n / SLOTS) as usize,
            kind,
            attempt,
        })
    }

    /// The tag this attempt carries in its payload.
    pub fn tag(self, run: u32) -> Tag {
        Tag {
            run,
            probe: self.emit(),
            attempt: self.attempt,
        }
    }

    /// The attempt a tag of run `run` names; `None` for another run's.
    pub fn from_tag(tag: Tag, run: u32) -> Option<ProbeId> {
        (tag.run == run)
            .then(|| ProbeId::parse(tag.probe))
            .flatten()
    }

    /// The echo request's identifier and sequence number. Mixed with the run, so an
    /// earlier run's error reads as a probe this run never sent.
    pub fn echo_fields(self, run: u32) -> (u16, u16) {
        let n = self.emit() ^ run;
        ((n >> 16) as u16, n as u16)
    }

    /// The inverse of [`ProbeId::echo_fields`].
    pub fn from_echo_fields(run: u32, id: u16, seq: u16) -> Option<ProbeId> {
        ProbeId::parse(((u32::from(id) << 16) | u32::from(seq)) ^ run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = ProbeKind> {
        prop_oneof![
            Just(ProbeKind::Ping),
            Just(ProbeKind::FullSize),
            (0..STEADY_PINGS).prop_map(ProbeKind::Steady),
            Just(ProbeKind::Transport(Proto::Tcp)),
            Just(ProbeKind::Transport(Proto::Udp)),
        ]
    }

    proptest! {
        #[test]
        fn ids_round_trip_through_number_tag_and_echo_header(
            pair in 0usize..1_000_000, kind in kind(), attempt in 0u8..4, run in any::<u32>()
        ) {
            let id = ProbeId { pair, kind, attempt };
            prop_assert_eq!(ProbeId::parse(id.emit()), Some(id));
            prop_assert_eq!(ProbeId::from_tag(id.tag(run), run), Some(id));
            let (i, s) = id.echo_fields(run);
            prop_assert_eq!(ProbeId::from_echo_fields(run, i, s), Some(id));
        }

        #[test]
        fn distinct_ids_have_distinct_numbers(
            a in (0usize..10_000, kind(), 0u8..4), b in (0usize..10_000, kind(), 0u8..4)
        ) {
            let (a, b) = (ProbeId { pair: a.0, kind: a.1, attempt: a.2 }, ProbeId { pair: b.0, kind: b.1, attempt: b.2 });
            prop_assert_eq!(a == b, a.emit() == b.emit());
        }
    }

    #[test]
    fn another_run_s_tag_is_not_ours() {
        let id = ProbeId::new(3, ProbeKind::Ping);
        assert_eq!(ProbeId::from_tag(id.tag(7), 8), None);
    }
}
