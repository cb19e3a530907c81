//! Why a Service probe failed, as data: each names the Service, the node and the rule at fault,
//! and prints as one sentence a person can act on.

use super::judge::ClientKind;
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceReason {
    /// The client's node let the probe out towards the VIP: no DNAT (KUBE-SEP-* / endpoint-*).
    #[error("{probe}: {node} did not DNAT it; the VIP crossed the underlay (seen on {seen_at}'s underlay): check its KUBE-SERVICES → KUBE-SVC-* → KUBE-SEP-* DNAT (nftables: service-ips → endpoint-* dnat)")]
    NotDnated {
        probe: String,
        node: String,
        seen_at: String,
    },
    #[error("{probe}: no answer ({error})")]
    Unanswered { probe: String, error: String },
    #[error("{probe}: answered, but no endpoint's listener heard it")]
    NoEndpointHeard { probe: String },
    #[error("{probe}: {pod} answered, which is not one of the Service's endpoints")]
    WrongEndpoint { probe: String, pod: String },
    #[error("{probe}: the reply came from {}, not {expected}: the reverse NAT (conntrack) did not restore the address the client sent to", got.map_or("nowhere".to_string(), |g| g.to_string()))]
    ReplyNotUnNated {
        probe: String,
        expected: SocketAddr,
        got: Option<SocketAddr>,
    },
    #[error("{probe}: {endpoint} saw the source {saw}, expected {expected}: check KUBE-MARK-MASQ and the MASQUERADE in KUBE-POSTROUTING (nftables: mark-for-masquerade, masquerading)")]
    WrongSource {
        probe: String,
        endpoint: String,
        saw: IpAddr,
        expected: String,
    },
    #[error("{probe}: {endpoint} ({ip}) answered, but its own address never left the client's host on the underlay")]
    EndpointNotOnWire {
        probe: String,
        endpoint: String,
        ip: IpAddr,
    },
    #[error("{service}/{proto}: {endpoint} never answered {} over {probes} probes{}", who(from, *kind), rule.as_ref().map_or(String::new(), |r| format!(": check {r}")))]
    EndpointNotReached {
        service: String,
        proto: &'static str,
        kind: ClientKind,
        endpoint: String,
        /// The client host, for ClusterIP probes.
        from: Option<String>,
        probes: usize,
        /// The rule that should have sent probes there, on that host.
        rule: Option<String>,
    },
    #[error("{probe}: answered, though the node has no local endpoint and externalTrafficPolicy is local (KUBE-EXTERNAL-SERVICES should DROP it)")]
    AnsweredWithoutLocalEndpoint { probe: String },
    #[error("{probe}: outside saw {saw}, not {node}'s address: the CNI's MASQUERADE for pods leaving the cluster did not apply")]
    NotMasqueraded {
        probe: String,
        node: String,
        saw: IpAddr,
    },
}

fn who(from: &Option<String>, kind: ClientKind) -> String {
    match (from, kind) {
        (Some(host), _) => format!("{host}'s pods"),
        (None, ClientKind::Outside) => "outside".into(),
        (None, _) => "the pods".into(),
    }
}

impl ServiceReason {
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceReason::NotDnated { .. } => "not-dnated",
            ServiceReason::Unanswered { .. } => "unanswered",
            ServiceReason::NoEndpointHeard { .. } => "no-endpoint-heard",
            ServiceReason::WrongEndpoint { .. } => "wrong-endpoint",
            ServiceReason::ReplyNotUnNated { .. } => "reply-not-un-nated",
            ServiceReason::WrongSource { .. } => "wrong-source",
            ServiceReason::EndpointNotOnWire { .. } => "endpoint-not-on-wire",
            ServiceReason::EndpointNotReached { .. } => "endpoint-not-reached",
            ServiceReason::AnsweredWithoutLocalEndpoint { .. } => "answered-without-local-endpoint",
            ServiceReason::NotMasqueraded { .. } => "not-masqueraded",
        }
    }
}

#[derive(Serialize)]
struct Out<'a> {
    kind: &'static str,
    message: &'a str,
}

/// Each reason as `{kind, message}`, as the pair reasons are in `--json`.
pub fn serialize_all<S: Serializer>(reasons: &[ServiceReason], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(reasons.len()))?;
    for r in reasons {
        let text = r.to_string();
        seq.serialize_element(&Out {
            kind: r.kind(),
            message: &text,
        })?;
    }
    seq.end()
}
