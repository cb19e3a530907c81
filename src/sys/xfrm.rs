//! A node's IPsec configuration as the kernel holds it: its xfrm states (security
//! associations) and policies, read with `ip xfrm state` and `ip xfrm policy` in the node's
//! namespace. iproute2 (6.1 included) prints xfrm only as text: `-j` changes nothing there, so
//! the text is parsed. The parsers are pure; [`read`] does the asking.
//!
//! `ip xfrm state` prints each state's keys. They are skipped while parsing and kept nowhere:
//! a [`XfrmState`] holds the state's identity (addresses, protocol, SPI, reqid, mode) only.

use super::tool::{run_in, ToolError};
use ipnet::Ipv4Net;
use serde::Serialize;
use std::fmt;
use std::net::Ipv4Addr;

/// One security association: who seals for whom, under which SPI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XfrmState {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// `esp`, `ah`, `comp`, ...
    pub proto: String,
    pub spi: u32,
    pub reqid: u32,
    /// `tunnel`, `transport`, ...
    pub mode: String,
}

/// The direction a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyDir {
    Out,
    In,
    Fwd,
}

/// A policy's template: the state a packet it selects must go through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XfrmTmpl {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: String,
    pub reqid: u32,
    pub mode: String,
}

/// One policy: the packets it selects, their direction, and its template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XfrmPolicy {
    pub src: Ipv4Net,
    pub dst: Ipv4Net,
    pub dir: PolicyDir,
    pub tmpl: Option<XfrmTmpl>,
}

/// A node's states and policies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Xfrm {
    pub states: Vec<XfrmState>,
    pub policies: Vec<XfrmPolicy>,
}

impl Xfrm {
    /// The policy of direction `dir` that selects a packet from `src` to `dst`.
    pub fn policy(&self, dir: PolicyDir, src: Ipv4Addr, dst: Ipv4Addr) -> Option<&XfrmPolicy> {
        (self.policies.iter())
            .filter(|p| p.dir == dir && p.src.contains(&src) && p.dst.contains(&dst))
            .max_by_key(|p| (p.src.prefix_len(), p.dst.prefix_len()))
    }

    /// The state a policy's template names: same addresses, protocol and reqid.
    pub fn state_for(&self, tmpl: &XfrmTmpl) -> Option<&XfrmState> {
        self.states.iter().find(|s| {
            (s.src, s.dst) == (tmpl.src, tmpl.dst) && s.proto == tmpl.proto && s.reqid == tmpl.reqid
        })
    }
}

impl fmt::Display for XfrmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = self.proto.to_uppercase();
        write!(
            f,
            "{proto} SPI {:#x} {} → {} ({}, reqid {})",
            self.spi, self.src, self.dst, self.mode, self.reqid
        )
    }
}

impl fmt::Display for PolicyDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyDir::Out => "out",
            PolicyDir::In => "in",
            PolicyDir::Fwd => "fwd",
        })
    }
}

impl fmt::Display for XfrmPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy {} {} → {}", self.dir, self.src, self.dst)
    }
}

/// Node `namespace`'s states and policies.
pub fn read(namespace: &str) -> Result<Xfrm, ToolError> {
    Ok(Xfrm {
        states: parse_states(&run_in(namespace, "ip", &["xfrm", "state"])?),
        policies: parse_policies(&run_in(namespace, "ip", &["xfrm", "policy"])?),
    })
}

/// `ip xfrm state`'s text: each state starts with an unindented `src A dst B` line, and an
/// indented `proto P spi 0x… reqid N mode M` line follows. A state of another family, or one
/// that does not read, is left out.
pub fn parse_states(text: &str) -> Vec<XfrmState> {
    records(text)
        .filter_map(|lines| {
            let (src, dst) = addresses::<Ipv4Addr>(lines.first()?)?;
            let id = lines.iter().find_map(|l| words_after(l, "proto"))?;
            Some(XfrmState {
                src,
                dst,
                proto: id.get("proto")?.to_string(),
                spi: u32::from_str_radix(id.get("spi")?.trim_start_matches("0x"), 16).ok()?,
                reqid: id.get("reqid")?.parse().ok()?,
                mode: id.get("mode")?.to_string(),
            })
        })
        .collect()
}

/// `ip xfrm policy`'s text: each policy starts with an unindented `src A/n dst B/n` line,
/// then `dir D …`, then for a template `tmpl src X dst Y` and `proto P reqid N mode M`.
/// A policy of another family or direction (a socket policy) is left out.
pub fn parse_policies(text: &str) -> Vec<XfrmPolicy> {
    records(text)
        .filter_map(|lines| {
            let (src, dst) = addresses::<Ipv4Net>(lines.first()?)?;
            let dir = lines.iter().find_map(|l| words_after(l, "dir"))?;
            let dir = match dir.get("dir")? {
                "out" => PolicyDir::Out,
                "in" => PolicyDir::In,
                "fwd" => PolicyDir::Fwd,
                _ => return None,
            };
            Some(XfrmPolicy {
                src,
                dst,
                dir,
                tmpl: template(&lines),
            })
        })
        .collect()
}

fn template(lines: &[&str]) -> Option<XfrmTmpl> {
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with("tmpl "))?;
    let (src, dst) = addresses::<Ipv4Addr>(lines[at].trim_start().strip_prefix("tmpl ")?)?;
    let id = lines[at + 1..]
        .iter()
        .find_map(|l| words_after(l, "proto"))?;
    Some(XfrmTmpl {
        src,
        dst,
        proto: id.get("proto")?.to_string(),
        reqid: id.get("reqid")?.parse().ok()?,
        mode: id.get("mode")?.to_string(),
    })
}

/// The text cut into records: a record is an unindented line and the indented ones after it.
fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    let mut all: Vec<Vec<&str>> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match (line.starts_with([' ', '\t']), all.last_mut()) {
            (true, Some(record)) => record.push(line),
            (true, None) => {}
            (false, _) => all.push(vec![line]),
        }
    }
    all.into_iter()
}

/// `src A dst B`, each parsed as `T`.
fn addresses<T: std::str::FromStr>(line: &str) -> Option<(T, T)> {
    match line.split_whitespace().collect::<Vec<_>>()[..] {
        ["src", a, "dst", b, ..] => Some((a.parse().ok()?, b.parse().ok()?)),
        _ => None,
    }
}

/// An indented line that starts with `first`, read as `key value` pairs.
fn words_after<'a>(line: &'a str, first: &str) -> Option<Pairs<'a>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    (words.first() == Some(&first)).then_some(Pairs(words))
}

struct Pairs<'a>(Vec<&'a str>);

impl<'a> Pairs<'a> {
    /// The word after `key`.
    fn get(&self, key: &str) -> Option<&'a str> {
        let at = self.0.iter().position(|w| *w == key)?;
        self.0.get(at + 1).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ip xfrm state` of a Cilium IPsec lab's host1 (3 hosts), in iproute2 6.1's layout; the
    /// keys are made up.
    const STATES: &str = "\
src 10.0.1.2 dst 10.0.2.2
\tproto esp spi 0x00000103 reqid 1 mode tunnel
\treplay-window 0 flag af-unspec esn
\taead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128
\tanti-replay esn context:
\t seq-hi 0x0, seq 0x0, oseq-hi 0x0, oseq 0x3
\t replay_window 1024, bitmap-length 32
\t 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
\tsel src 0.0.0.0/0 dst 0.0.0.0/0
src 10.0.2.2 dst 10.0.1.2
\tproto esp spi 0x00000203 reqid 1 mode tunnel
\treplay-window 0 flag af-unspec esn
\taead rfc4106(gcm(aes)) 0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4 128
\tsel src 0.0.0.0/0 dst 0.0.0.0/0
src fd00::1 dst fd00::2
\tproto esp spi 0x00000999 reqid 1 mode tunnel
";

    /// `ip xfrm policy` as iproute2 6.1 prints it, captured on this machine (the out policy)
    /// with an in and a socket policy beside it.
    const POLICIES: &str = "\
src 172.16.0.0/24 dst 172.16.1.0/24 
\tdir out priority 0 ptype main 
\ttmpl src 10.0.1.2 dst 10.0.2.2
\t\tproto esp reqid 1 mode tunnel
src 172.16.1.0/24 dst 172.16.0.0/24 
\tdir in priority 0 ptype main 
\tmark 0xd00/0xf00 
\ttmpl src 10.0.2.2 dst 10.0.1.2
\t\tproto esp reqid 1 mode tunnel
src 0.0.0.0/0 dst 0.0.0.0/0 
\tsocket in priority 0 ptype main 
";

    #[test]
    fn states_read_as_their_identity_without_keys() {
        let states = parse_states(STATES);
        assert_eq!(states.len(), 2, "the IPv6 state is left out: {states:?}");
        assert_eq!(
            states[0],
            XfrmState {
                src: "10.0.1.2".parse().unwrap(),
                dst: "10.0.2.2".parse().unwrap(),
                proto: "esp".into(),
                spi: 0x103,
                reqid: 1,
                mode: "tunnel".into(),
            }
        );
        assert_eq!(states[1].spi, 0x203);
        let text = format!("{states:?}");
        assert!(!text.contains("0102030405"), "a key was kept: {text}");
        assert_eq!(
            states[0].to_string(),
            "ESP SPI 0x103 10.0.1.2 → 10.0.2.2 (tunnel, reqid 1)"
        );
    }

    #[test]
    fn policies_read_with_their_templates_and_socket_policies_are_left_out() {
        let policies = parse_policies(POLICIES);
        assert_eq!(policies.len(), 2, "{policies:?}");
        assert_eq!(policies[0].dir, PolicyDir::Out);
        assert_eq!(policies[1].dir, PolicyDir::In);
        let tmpl = policies[1].tmpl.clone().unwrap();
        assert_eq!(
            (tmpl.src.to_string(), tmpl.dst.to_string()),
            ("10.0.2.2".into(), "10.0.1.2".into())
        );
        assert_eq!((tmpl.proto.as_str(), tmpl.reqid), ("esp", 1));
        assert_eq!(
            policies[0].to_string(),
            "policy out 172.16.0.0/24 → 172.16.1.0/24"
        );
    }

    #[test]
    fn a_packet_finds_its_policy_and_the_policy_its_state() {
        let x = Xfrm {
            states: parse_states(STATES),
            policies: parse_policies(POLICIES),
        };
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        let out = x
            .policy(PolicyDir::Out, ip("172.16.0.2"), ip("172.16.1.2"))
            .unwrap();
        let state = x.state_for(out.tmpl.as_ref().unwrap()).unwrap();
        assert_eq!(state.spi, 0x103);
        let back = x
            .policy(PolicyDir::In, ip("172.16.1.2"), ip("172.16.0.2"))
            .unwrap();
        assert_eq!(x.state_for(back.tmpl.as_ref().unwrap()).unwrap().spi, 0x203);
        assert!(x
            .policy(PolicyDir::Out, ip("172.16.1.2"), ip("172.16.0.2"))
            .is_none());
        assert!(x
            .policy(PolicyDir::Out, ip("172.16.0.2"), ip("172.16.2.2"))
            .is_none());
    }
}
