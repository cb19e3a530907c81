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

/// The kinds, each a slot number.
const SLOTS: u32 = 4 + STEADY_PINGS as u32;
const TCP_SLOT: u32 = 2 + STEADY_PINGS as u32;
/// A probe's number holds its attempt in the lowest bits, its slot in the next ones and its
/// pair above: fields of whole bits, so that the slot reads the same whatever the top bit is
/// (see [`ProbeId::echo_fields`]). Room for each probe's attempts (at most
/// [`super::probe::ATTEMPT_TIMEOUTS`]`.len()`) and every slot.
const ATTEMPT_BITS: u32 = 2;
const SLOT_BITS: u32 = 5;
const _: () = assert!(SLOTS <= 1 << SLOT_BITS);

/// The bit of the echo fields that puts a pair's full-size probe in an ICMP flow of its own.
const OWN_FLOW: u32 = 1 << 31;

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

    /// The id as one number: the pair, then the slot's five bits, then the attempt's two.
    /// Every ordered pair of a lab of up to 5,793 pods fits.
    pub fn emit(self) -> u32 {
        let slot = match self.kind {
            ProbeKind::Ping => 0,
            ProbeKind::FullSize => 1,
            ProbeKind::Steady(n) => 2 + u32::from(n),
            ProbeKind::Transport(Proto::Tcp) => TCP_SLOT,
            ProbeKind::Transport(Proto::Udp) => TCP_SLOT + 1,
        };
        let pair = (self.pair as u32) << (SLOT_BITS + ATTEMPT_BITS);
        pair | slot << ATTEMPT_BITS | u32::from(self.attempt)
    }

    /// The inverse of [`ProbeId::emit`]; `None` for a number no probe can have.
    pub fn parse(n: u32) -> Option<ProbeId> {
        let attempt = (n & ((1 << ATTEMPT_BITS) - 1)) as u8;
        let kind = match (n >> ATTEMPT_BITS) & ((1 << SLOT_BITS) - 1) {
            0 => ProbeKind::Ping,
            1 => ProbeKind::FullSize,
            s if s == TCP_SLOT => ProbeKind::Transport(Proto::Tcp),
            s if s == TCP_SLOT + 1 => ProbeKind::Transport(Proto::Udp),
            s if s < SLOTS => ProbeKind::Steady(u8::try_from(s - 2).ok()?),
            _ => return None,
        };
        Some(ProbeId {
            pair: (n >> (SLOT_BITS + ATTEMPT_BITS)) as usize,
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

    /// The echo request's identifier and sequence number: the id's number mixed with the run,
    /// so an earlier run's error reads as a probe this run never sent, and for a full-size
    /// probe with its top bit flipped. Conntrack (which a host runs once it has NAT rules,
    /// kube-proxy's among them) keys an ICMP echo on its addresses and identifier. A pair's
    /// ping and full-size probe leave back to back; were they one flow, both would create its
    /// entry at once on two CPUs, and the one that lost the insertion would be dropped
    /// (insert_failed), as with the A and AAAA lookups of kubernetes#56903. Flows of their own
    /// keep both. The steady pings stay in the ping's flow: they follow its answer, whose entry
    /// is in place by then.
    pub fn echo_fields(self, run: u32) -> (u16, u16) {
        let n = self.emit() ^ run ^ self.own_flow();
        ((n >> 16) as u16, n as u16)
    }

    /// The inverse of [`ProbeId::echo_fields`]. The flipped bit is above the slot, so the kind
    /// reads right before the flip is undone.
    pub fn from_echo_fields(run: u32, id: u16, seq: u16) -> Option<ProbeId> {
        let n = ((u32::from(id) << 16) | u32::from(seq)) ^ run;
        let flipped = ProbeId::parse(n)?;
        ProbeId::parse(n ^ flipped.own_flow())
    }

    fn own_flow(self) -> u32 {
        match self.kind {
            ProbeKind::FullSize => OWN_FLOW,
            _ => 0,
        }
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

    proptest! {
        #[test]
        fn a_pair_s_full_size_probe_is_an_icmp_flow_of_its_own(
            pair in 0usize..1_000_000, attempt in 0u8..3, n in 0..STEADY_PINGS, run in any::<u32>()
        ) {
            let ident = |kind, attempt| ProbeId { pair, kind, attempt }.echo_fields(run).0;
            let ping = ident(ProbeKind::Ping, 0);
            prop_assert_ne!(ident(ProbeKind::FullSize, attempt), ping);
            prop_assert_eq!(ident(ProbeKind::FullSize, attempt), ident(ProbeKind::FullSize, 0));
            prop_assert_eq!(ident(ProbeKind::Ping, attempt), ping);
            prop_assert_eq!(ident(ProbeKind::Steady(n), 0), ping);
        }
    }

    #[test]
    fn numbers_with_no_slot_name_no_probe() {
        assert_eq!(ProbeId::parse(SLOTS << ATTEMPT_BITS), None);
        assert_eq!(ProbeId::parse(u32::MAX), None);
    }

    #[test]
    fn another_run_s_tag_is_not_ours() {
        let id = ProbeId::new(3, ProbeKind::Ping);
        assert_eq!(ProbeId::from_tag(id.tag(7), 8), None);
    }
}
