//! Where an IPsec lab's probe is sealed and opened, as the node's xfrm states and policies
//! say ([`crate::sys::xfrm`]): a plain packet an `out` policy selects is encrypted by the state
//! its template names; a plain packet an `in` policy selects came out of the state that
//! decrypted it (in tunnel mode the kernel hands the decrypted packet to the underlay
//! interface's taps again, in the clear: that is the step where it is opened). Pure.

use super::decide::Wrap;
use super::packet::Described;
use super::snapshot::Snapshot;
use crate::sys::xfrm::{PolicyDir, XfrmPolicy};
use serde::Serialize;
use std::net::Ipv4Addr;

/// A node's xfrm configuration, and the lab's hosts by underlay address to name its peers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ipsec {
    pub xfrm: crate::sys::xfrm::Xfrm,
    pub hosts: Vec<(Ipv4Addr, String)>,
}

impl Ipsec {
    fn host(&self, ip: Ipv4Addr) -> String {
        (self.hosts.iter().find(|(a, _)| *a == ip))
            .map_or_else(|| ip.to_string(), |(_, name)| name.clone())
    }
}

/// What IPsec did to the plain packet `d` on node `s`: opened it (an `in` policy selects it)
/// or is about to seal it (an `out` policy selects it); `None` where no policy selects it.
pub fn step(s: &Snapshot, d: &Described) -> Option<(String, Wrap)> {
    let ipsec = s.ipsec.as_ref()?;
    if d.tunnel().is_some() {
        return None;
    }
    // The lab's xfrm policies select IPv4 pod traffic only.
    let (src, dst) = d.inner()?;
    let (src, dst) = (crate::wire::v4(src)?, crate::wire::v4(dst)?);
    let x = &ipsec.xfrm;
    if let Some(p) = x.policy(PolicyDir::In, src, dst) {
        return Some((said(ipsec, p, "decrypted", "from"), Wrap::Decap));
    }
    let p = x.policy(PolicyDir::Out, src, dst)?;
    Some((said(ipsec, p, "encrypted", "for"), Wrap::Encap))
}

/// `encrypted by xfrm state ESP SPI 0x103 … for host2 (policy out …)`, or what is missing.
fn said(ipsec: &Ipsec, p: &XfrmPolicy, done: &str, towards: &str) -> String {
    let Some(tmpl) = &p.tmpl else {
        return format!("{p} has no template: not {done}");
    };
    let peer = match p.dir {
        PolicyDir::Out => ipsec.host(tmpl.dst),
        _ => ipsec.host(tmpl.src),
    };
    match ipsec.xfrm.state_for(tmpl) {
        Some(state) => format!("{done} by xfrm state {state} {towards} {peer} ({p})"),
        None => format!(
            "{p} wants {} {} → {} reqid {}, and no state has it: not {done}",
            tmpl.proto.to_uppercase(),
            tmpl.src,
            tmpl.dst,
            tmpl.reqid
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::xfrm::{parse_policies, parse_states, Xfrm};

    /// host1 of a Cilium IPsec lab: its states towards and from host2, and its policies.
    fn host1() -> Snapshot {
        let states = "src 10.0.1.2 dst 10.0.2.2\n\tproto esp spi 0x00000103 reqid 1 mode tunnel\n\
                      src 10.0.2.2 dst 10.0.1.2\n\tproto esp spi 0x00000203 reqid 1 mode tunnel\n";
        let policies = "src 172.16.0.0/24 dst 172.16.1.0/24 \n\tdir out priority 0 ptype main \n\
                        \ttmpl src 10.0.1.2 dst 10.0.2.2\n\t\tproto esp reqid 1 mode tunnel\n\
                        src 172.16.1.0/24 dst 172.16.0.0/24 \n\tdir in priority 0 ptype main \n\
                        \ttmpl src 10.0.2.2 dst 10.0.1.2\n\t\tproto esp reqid 1 mode tunnel\n";
        Snapshot {
            ipsec: Some(Ipsec {
                xfrm: Xfrm {
                    states: parse_states(states),
                    policies: parse_policies(policies),
                },
                hosts: vec![
                    ("10.0.1.2".parse().unwrap(), "host1".into()),
                    ("10.0.2.2".parse().unwrap(), "host2".into()),
                ],
            }),
            ..Snapshot::default()
        }
    }

    fn packet(src: &str, dst: &str) -> Described {
        let frame = crate::wire::dissect::build::plain(src, dst, false, None);
        Described::of(&frame, true, None).unwrap()
    }

    #[test]
    fn the_state_that_seals_and_the_one_that_opens_are_named_with_their_policy() {
        let s = host1();
        let (text, wrap) = step(&s, &packet("172.16.0.2", "172.16.1.2")).unwrap();
        assert_eq!(wrap, Wrap::Encap);
        assert_eq!(
            text,
            "encrypted by xfrm state ESP SPI 0x103 10.0.1.2 → 10.0.2.2 (tunnel, reqid 1) for host2 \
             (policy out 172.16.0.0/24 → 172.16.1.0/24)"
        );
        let (text, wrap) = step(&s, &packet("172.16.1.2", "172.16.0.2")).unwrap();
        assert_eq!(wrap, Wrap::Decap);
        assert!(
            text.starts_with("decrypted by xfrm state ESP SPI 0x203 10.0.2.2 → 10.0.1.2 (tunnel, reqid 1) from host2"),
            "{text}"
        );
        assert!(step(&s, &packet("172.16.0.2", "172.16.2.2")).is_none());
    }

    #[test]
    fn a_policy_without_its_state_says_so() {
        let mut s = host1();
        s.ipsec.as_mut().unwrap().xfrm.states.remove(0);
        let (text, _) = step(&s, &packet("172.16.0.2", "172.16.1.2")).unwrap();
        assert_eq!(
            text,
            "policy out 172.16.0.0/24 → 172.16.1.0/24 wants ESP 10.0.1.2 → 10.0.2.2 reqid 1, \
             and no state has it: not encrypted"
        );
    }
}
