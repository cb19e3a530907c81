//! What the Service probes prove, judged without I/O: which endpoint answered, the source it
//! saw, the reply's source, and where the VIP or the endpoint's address showed on the underlay.

use super::reason::ServiceReason;
use crate::family::Family;
use crate::lab::{Lab, LabPod, LabServices};
use crate::services::StatedService;
use crate::verify::listener::Heard;
use crate::wire::dissect::{Tag, Wire, L4};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

/// Who probes a Service: every pod its ClusterIP, `outside` every host's NodePort, and every
/// pod `outside` (egress, the CNI's masquerade rather than a Service's rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientKind {
    Pod,
    Outside,
    Egress,
}

/// One probe: a TCP connection or a UDP datagram carrying `tag`.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Index into the lab's Services (egress probes belong to none).
    pub service: Option<usize>,
    /// The family it is sent in: the target's.
    pub family: Family,
    pub kind: ClientKind,
    pub client: String,
    pub client_ns: String,
    pub client_ip: IpAddr,
    /// The client pod's host (pod and egress probes).
    pub client_host: Option<usize>,
    pub target: SocketAddr,
    /// The host whose NodePort is probed.
    pub node: Option<usize>,
    pub tcp: bool,
    pub tag: Tag,
    /// NodePort under the local policy on a host without a local endpoint: it must not answer.
    pub expect_fail: bool,
}

/// What the client got back.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub error: Option<String>,
    /// The address the echo came from, as the client's socket saw it.
    pub reply_from: Option<SocketAddr>,
}

/// A frame seen on a host's underlay interface.
#[derive(Debug, Clone)]
pub struct UnderlayFrame {
    pub host: usize,
    pub outgoing: bool,
    pub wire: Wire,
}

/// What an endpoint saw a probe come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SourceSeen {
    pub endpoint: String,
    pub source: IpAddr,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointRef {
    pub pod: String,
    pub ip: IpAddr,
}

/// One Service, family and kind of client, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    pub service: String,
    pub client: ClientKind,
    pub family: Family,
    pub cluster_ip: Option<IpAddr>,
    pub port: Option<u16>,
    pub target_port: Option<u16>,
    pub node_port: Option<u16>,
    pub endpoints: Vec<EndpointRef>,
    pub endpoints_reached: Vec<String>,
    pub sources_seen: Vec<SourceSeen>,
    /// Endpoints that reached themselves through the Service (hairpin): the bridge's hairpin
    /// mode and KUBE-SEP's masquerade of an endpoint's own traffic at work.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hairpins: Vec<String>,
    pub probes: usize,
    /// Probes that failed as the lab says they must (NodePort under the local policy on a
    /// host without a local endpoint), e.g. "host3:30001/tcp".
    pub expected_failures: Vec<String>,
    pub passed: bool,
    #[serde(serialize_with = "super::reason::serialize_all")]
    pub reasons: Vec<ServiceReason>,
}

/// Everything the probes left behind.
pub struct Evidence<'a> {
    pub lab: &'a Lab,
    pub services: &'a LabServices,
    pub probes: &'a [Probe],
    pub answers: &'a [Answer],
    pub heard: &'a [Heard],
    pub frames: &'a [UnderlayFrame],
    /// The address each host's kernel picks as the source towards each endpoint (`ip route
    /// get`'s prefsrc): what MASQUERADE gives NodePort traffic under the cluster policy.
    pub node_sources: &'a NodeSources,
}

/// (host index, endpoint address) → the host's source address towards that endpoint.
pub type NodeSources = BTreeMap<(usize, IpAddr), IpAddr>;

/// The frames that carry each probe's tag on its way out (not the echo).
type ByTag<'a> = BTreeMap<Tag, Vec<&'a UnderlayFrame>>;

/// The rows of each family the lab carries, IPv4's first: per Service that has a ClusterIP
/// in the family its `pod` and `outside` rows, then one `egress` row.
pub fn judge(ev: &Evidence<'_>) -> Vec<ServiceRow> {
    let heard: BTreeMap<Tag, &Heard> = ev.heard.iter().map(|h| (h.tag, h)).collect();
    let mut by_tag: ByTag<'_> = BTreeMap::new();
    for f in ev.frames {
        if let Some((tag, false)) = f.wire.innermost().and_then(|ip| tag_of(&ip.l4)) {
            by_tag.entry(tag).or_default().push(f);
        }
    }
    let mut rows = Vec::new();
    for family in ev.lab.families() {
        let of = |p: &usize| ev.probes[*p].family == family;
        for (i, svc) in ev.services.services.iter().enumerate() {
            if svc.cluster_ip(family).is_none() {
                continue;
            }
            for kind in [ClientKind::Pod, ClientKind::Outside] {
                let mine: Vec<usize> = (0..ev.probes.len())
                    .filter(of)
                    .filter(|&p| ev.probes[p].service == Some(i) && ev.probes[p].kind == kind)
                    .collect();
                let at = (svc, family, kind);
                rows.push(service_row(ev, at, &mine, &heard, &by_tag));
            }
        }
        let egress: Vec<usize> = (0..ev.probes.len())
            .filter(of)
            .filter(|&p| ev.probes[p].kind == ClientKind::Egress)
            .collect();
        rows.push(egress_row(ev, family, &egress, &heard));
    }
    rows
}

fn service_row(
    ev: &Evidence<'_>,
    (svc, family, kind): (&StatedService, Family, ClientKind),
    probes: &[usize],
    heard: &BTreeMap<Tag, &Heard>,
    by_tag: &ByTag<'_>,
) -> ServiceRow {
    let endpoints = ev.services.endpoints(ev.lab, svc);
    let mut row = empty_row((svc, family, kind), &endpoints, probes.len());
    let mut reached = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut hairpins = BTreeSet::new();
    for &p in probes {
        let (probe, answer) = (&ev.probes[p], &ev.answers[p]);
        let label = probe_label(svc, probe, ev.lab);
        let Some(h) = heard_answer(&mut row, (probe, answer), heard, &label) else {
            continue;
        };
        reached.insert(h.pod.clone());
        if h.pod == probe.client {
            hairpins.insert(h.pod.clone());
        }
        seen.insert(SourceSeen {
            endpoint: h.pod.clone(),
            source: h.from.ip(),
        });
        row.reasons.extend(check_answer(
            ev, by_tag, probe, answer, h, &endpoints, &label,
        ));
    }
    row.endpoints_reached = reached.into_iter().collect();
    row.sources_seen = seen.into_iter().collect();
    row.hairpins = hairpins.into_iter().collect();
    if kind == ClientKind::Pod {
        row.reasons
            .extend(vip_on_underlay(ev, (svc, family), probes));
    }
    row.reasons.extend(unreached(
        ev,
        (svc, family, kind),
        probes,
        heard,
        &endpoints,
    ));
    dedup(&mut row.reasons);
    row.passed = row.reasons.is_empty();
    row
}

/// The listener that heard an answered probe; a probe that must fail, failed, or was heard by
/// no listener is written into `row` instead.
fn heard_answer<'h>(
    row: &mut ServiceRow,
    (probe, answer): (&Probe, &Answer),
    heard: &BTreeMap<Tag, &'h Heard>,
    label: &str,
) -> Option<&'h Heard> {
    let probe_name = label.to_string();
    if probe.expect_fail {
        match &answer.error {
            Some(_) => row.expected_failures.push(probe_name),
            None => row
                .reasons
                .push(ServiceReason::AnsweredWithoutLocalEndpoint { probe: probe_name }),
        }
        return None;
    }
    if let Some(error) = &answer.error {
        row.reasons.push(ServiceReason::Unanswered {
            probe: probe_name,
            error: error.clone(),
        });
        return None;
    }
    let found = heard.get(&probe.tag).copied();
    if found.is_none() {
        row.reasons
            .push(ServiceReason::NoEndpointHeard { probe: probe_name });
    }
    found
}

/// Endpoints no probe reached: for ClusterIP, per client host (each host's pods have a full
/// count of probes, see `pod_probes`), naming the host's rule that should have sent them
/// there; for NodePort, over all hosts.
fn unreached(
    ev: &Evidence<'_>,
    (svc, family, kind): (&StatedService, Family, ClientKind),
    probes: &[usize],
    heard: &BTreeMap<Tag, &Heard>,
    endpoints: &[&LabPod],
) -> Vec<ServiceReason> {
    let group = |p: &Probe| {
        (
            if kind == ClientKind::Pod {
                p.client_host
            } else {
                None
            },
            p.tcp,
        )
    };
    let mut reached: BTreeMap<(Option<usize>, bool), BTreeSet<&str>> = BTreeMap::new();
    let mut failed = BTreeSet::new();
    for &p in probes.iter().filter(|&&p| !ev.probes[p].expect_fail) {
        let set = reached.entry(group(&ev.probes[p])).or_default();
        match heard.get(&ev.probes[p].tag) {
            Some(h) if ev.answers[p].error.is_none() => {
                set.insert(h.pod.as_str());
            }
            _ => {
                failed.insert(group(&ev.probes[p]));
            }
        }
    }
    let mut reasons = Vec::new();
    // A group with failed probes is explained by them: a dead endpoint, say, is unreached too.
    for ((host, tcp), set) in reached.into_iter().filter(|(g, _)| !failed.contains(g)) {
        for e in endpoints.iter().filter(|e| !set.contains(e.node.as_str())) {
            let from = host.and_then(|h| ev.lab.host(h)).map(|h| h.node.clone());
            let count = probes
                .iter()
                .filter(|&&p| group(&ev.probes[p]) == (host, tcp))
                .count();
            reasons.push(ServiceReason::EndpointNotReached {
                service: svc_label(svc, family),
                proto: if tcp { "tcp" } else { "udp" },
                kind,
                endpoint: e.node.clone(),
                from: from.clone(),
                probes: count,
                rule: from.map(|node| sep_rule(ev.services, (svc, family), e, &node, tcp)),
            });
        }
    }
    reasons
}

/// The rule that DNATs to endpoint `e` on `node`, as kube-proxy names it.
fn sep_rule(
    services: &LabServices,
    (svc, family): (&StatedService, Family),
    e: &LabPod,
    node: &str,
    tcp: bool,
) -> String {
    let to = SocketAddr::new(e.addr(family), svc.target_port);
    let chains = crate::services::endpoint_chains(&svc.name, svc.target_port, to.ip());
    let k = usize::from(!tcp);
    // Each family has its own table: name the one to look in where it is not IPv4's.
    match (services.kube_proxy, family) {
        (crate::services::KubeProxy::Iptables, Family::Ipv4) => {
            format!("{node}'s {} DNAT to {to}", chains.iptables[k])
        }
        (crate::services::KubeProxy::Iptables, Family::Ipv6) => {
            format!("{node}'s ip6tables {} DNAT to {to}", chains.iptables[k])
        }
        (crate::services::KubeProxy::Nftables, Family::Ipv4) => {
            format!("{node}'s {} dnat to {to}", chains.nft[k])
        }
        (crate::services::KubeProxy::Nftables, Family::Ipv6) => {
            format!("{node}'s ip6 kube-proxy {} dnat to {to}", chains.nft[k])
        }
    }
}

fn empty_row(
    (svc, family, kind): (&StatedService, Family, ClientKind),
    endpoints: &[&LabPod],
    probes: usize,
) -> ServiceRow {
    ServiceRow {
        service: svc.name.clone(),
        client: kind,
        family,
        cluster_ip: svc.cluster_ip(family),
        port: Some(svc.port),
        target_port: Some(svc.target_port),
        node_port: Some(svc.node_port),
        endpoints: endpoints
            .iter()
            .map(|p| EndpointRef {
                pod: p.node.clone(),
                ip: p.addr(family),
            })
            .collect(),
        endpoints_reached: Vec::new(),
        sources_seen: Vec::new(),
        hairpins: Vec::new(),
        probes,
        expected_failures: Vec::new(),
        passed: false,
        reasons: Vec::new(),
    }
}

/// `svc1 (10.96.0.11:80)`, or `svc1 ([fd00:10:96::11]:80)` in IPv6.
pub fn svc_label(svc: &StatedService, family: Family) -> String {
    match svc.cluster_ip(family) {
        Some(ip) => format!("{} ({})", svc.name, SocketAddr::new(ip, svc.port)),
        None => svc.name.clone(),
    }
}

/// `svc1 (10.96.0.11:80)/tcp from pod1`, or `svc1 NodePort host2:30001/udp from outside`.
fn probe_label(svc: &StatedService, probe: &Probe, lab: &Lab) -> String {
    let proto = if probe.tcp { "tcp" } else { "udp" };
    match probe.node.and_then(|n| lab.host(n)) {
        Some(host) => format!(
            "{} NodePort {}:{}/{proto} from {}",
            svc.name, host.node, svc.node_port, probe.client
        ),
        None => format!(
            "{}/{proto} from {}",
            svc_label(svc, probe.family),
            probe.client
        ),
    }
}

/// The client's node must DNAT: the VIP may not leave its underlay interface. The CNI's
/// egress masquerade rewrites an un-DNATed probe's source to the host's, so the frame is tied
/// to its probe by the tag it carries (UDP, TCP data) or, for a TCP SYN, to the first of the
/// host's failed probes of that protocol.
fn vip_on_underlay(
    ev: &Evidence<'_>,
    (svc, family): (&StatedService, Family),
    probes: &[usize],
) -> Vec<ServiceReason> {
    let mut reasons = Vec::new();
    let mut blamed = BTreeSet::new();
    for f in ev.frames.iter().filter(|f| f.outgoing) {
        let Some(ip) = f.wire.innermost() else {
            continue;
        };
        if Some(ip.dst) != svc.cluster_ip(family) || ports(&ip.l4).1 != Some(svc.port) {
            continue;
        }
        let tcp = matches!(ip.l4, L4::Tcp { .. });
        let from_here = |p: &&usize| {
            let probe = &ev.probes[**p];
            probe.client_host == Some(f.host) && probe.tcp == tcp
        };
        let by_tag =
            tag_of(&ip.l4).and_then(|(t, _)| probes.iter().find(|&&p| ev.probes[p].tag == t));
        let failed = || {
            probes
                .iter()
                .filter(from_here)
                .find(|&&p| ev.answers[p].error.is_some())
        };
        let node = ev
            .lab
            .host(f.host)
            .map(|h| h.node.clone())
            .unwrap_or_default();
        let label = match by_tag.or_else(failed) {
            Some(&p) => probe_label(svc, &ev.probes[p], ev.lab),
            None => format!(
                "{}/{} from {node}'s pods",
                svc_label(svc, family),
                if tcp { "tcp" } else { "udp" }
            ),
        };
        if blamed.insert(label.clone()) {
            reasons.push(ServiceReason::NotDnated {
                probe: label,
                seen_at: node.clone(),
                node,
            });
        }
    }
    reasons
}

fn ports(l4: &L4) -> (Option<u16>, Option<u16>) {
    match l4 {
        L4::Tcp {
            src_port, dst_port, ..
        }
        | L4::Udp {
            src_port, dst_port, ..
        } => (Some(*src_port), Some(*dst_port)),
        _ => (None, None),
    }
}

fn tag_of(l4: &L4) -> Option<(Tag, bool)> {
    match l4 {
        L4::Tcp { probe, .. } | L4::Udp { probe, .. } => *probe,
        _ => None,
    }
}

/// An answered probe: the endpoint is the Service's, it saw the source the policy gives, the
/// reply came from where the client sent to, and a remote endpoint's own address was on the wire.
fn check_answer(
    ev: &Evidence<'_>,
    by_tag: &ByTag<'_>,
    probe: &Probe,
    answer: &Answer,
    heard: &Heard,
    endpoints: &[&LabPod],
    label: &str,
) -> Vec<ServiceReason> {
    let mut reasons = Vec::new();
    let Some(endpoint) = endpoints.iter().find(|e| e.node == heard.pod) else {
        reasons.push(ServiceReason::WrongEndpoint {
            probe: label.to_string(),
            pod: heard.pod.clone(),
        });
        return reasons;
    };
    if answer.reply_from != Some(probe.target) {
        reasons.push(ServiceReason::ReplyNotUnNated {
            probe: label.to_string(),
            expected: probe.target,
            got: answer.reply_from,
        });
    }
    let source = heard.from.ip();
    if let Some(expected) = expected_source(ev, probe, endpoint, source) {
        reasons.push(ServiceReason::WrongSource {
            probe: label.to_string(),
            endpoint: endpoint.node.clone(),
            saw: source,
            expected,
        });
    }
    if probe.kind == ClientKind::Pod && probe.client_host != Some(endpoint.host) {
        let frames = by_tag.get(&probe.tag).map_or(&[][..], Vec::as_slice);
        let on_wire = frames.iter().any(|f| {
            Some(f.host) == probe.client_host
                && f.outgoing
                && f.wire
                    .innermost()
                    .is_some_and(|ip| ip.dst == endpoint.addr(probe.family))
        });
        if !on_wire {
            reasons.push(ServiceReason::EndpointNotOnWire {
                probe: label.to_string(),
                endpoint: endpoint.node.clone(),
                ip: endpoint.addr(probe.family),
            });
        }
    }
    reasons
}

/// `None` when `saw` is what the endpoint must see; otherwise what it should have seen.
fn expected_source(
    ev: &Evidence<'_>,
    probe: &Probe,
    endpoint: &LabPod,
    saw: IpAddr,
) -> Option<String> {
    use crate::services::TrafficPolicy;
    let own = |host: usize| host_owns(ev.lab, host, saw);
    match probe.kind {
        // Hairpin: a pod that reaches itself through the Service is masqueraded to its host.
        ClientKind::Pod if probe.client == endpoint.node => (!own(endpoint.host))
            .then(|| format!("an address of the pod's host (hairpin masquerade), not {saw}")),
        ClientKind::Pod => (saw != probe.client_ip)
            .then(|| format!("the client's own address {}", probe.client_ip)),
        ClientKind::Outside => match ev.services.policy {
            TrafficPolicy::Local => {
                (saw != probe.client_ip).then(|| format!("outside's address {}", probe.client_ip))
            }
            TrafficPolicy::Cluster => {
                let node = probe.node.unwrap_or_default();
                match ev.node_sources.get(&(node, endpoint.addr(probe.family))) {
                    Some(&src) => (saw != src).then(|| {
                        format!(
                            "host{node}'s own address towards {} ({src}, as `ip route get` picks it), which MASQUERADE gives NodePort traffic",
                            endpoint.node
                        )
                    }),
                    None => (!own(node)).then(|| {
                        format!("an address of host{node}, which masquerades NodePort traffic")
                    }),
                }
            }
        },
        ClientKind::Egress => None,
    }
}

/// The host's underlay address, or one in its pod subnet (its bridge, tunnel or gateway), in
/// either family.
fn host_owns(lab: &Lab, host: usize, ip: IpAddr) -> bool {
    let Some(h) = lab.host(host) else {
        return false;
    };
    let vteps = [
        h.vtep_ip.map(IpAddr::V4),
        h.v6.as_ref().and_then(|v6| v6.vtep_ip).map(IpAddr::V6),
    ];
    let in_pods = h.pod_subnets().iter().any(|n| n.contains(&ip));
    h.underlay(Family::of(ip)) == ip
        || vteps.contains(&Some(ip))
        || (in_pods && !lab.pods.iter().any(|p| p.owns(ip)))
}

/// Egress: `outside` must see each pod's host's underlay address, and the pod's traffic must
/// leave its host with that address.
fn egress_row(
    ev: &Evidence<'_>,
    family: Family,
    probes: &[usize],
    heard: &BTreeMap<Tag, &Heard>,
) -> ServiceRow {
    let mut row = egress_empty(ev, family, probes.len());
    let mut seen = BTreeSet::new();
    for &p in probes {
        let (probe, answer) = (&ev.probes[p], &ev.answers[p]);
        let proto = if probe.tcp { "tcp" } else { "udp" };
        let label = format!("{}/{proto} from {}", ev.services.outside.node, probe.client);
        if let Some(error) = &answer.error {
            row.reasons.push(ServiceReason::Unanswered {
                probe: label,
                error: error.clone(),
            });
            continue;
        }
        let Some(h) = heard.get(&probe.tag) else {
            row.reasons
                .push(ServiceReason::NoEndpointHeard { probe: label });
            continue;
        };
        let host = probe.client_host.and_then(|i| ev.lab.host(i));
        let host_ip = host.map(|h| h.underlay(family));
        seen.insert(SourceSeen {
            endpoint: probe.client.clone(),
            source: h.from.ip(),
        });
        if Some(h.from.ip()) != host_ip {
            row.reasons.push(ServiceReason::NotMasqueraded {
                probe: label,
                node: host.map(|h| h.node.clone()).unwrap_or_default(),
                saw: h.from.ip(),
            });
        }
    }
    row.endpoints_reached = if probes.is_empty() || !row.reasons.is_empty() {
        Vec::new()
    } else {
        vec![ev.services.outside.node.clone()]
    };
    row.sources_seen = seen.into_iter().collect();
    dedup(&mut row.reasons);
    row.passed = row.reasons.is_empty();
    row
}

/// The egress row of `family` before any probe is judged: `outside` at its address there.
fn egress_empty(ev: &Evidence<'_>, family: Family, probes: usize) -> ServiceRow {
    let outside = &ev.services.outside;
    ServiceRow {
        service: "egress".into(),
        client: ClientKind::Egress,
        family,
        cluster_ip: None,
        port: Some(crate::services::EGRESS_PORT),
        target_port: None,
        node_port: None,
        endpoints: outside
            .addr(family)
            .map(|ip| EndpointRef {
                pod: outside.node.clone(),
                ip,
            })
            .into_iter()
            .collect(),
        endpoints_reached: Vec::new(),
        sources_seen: Vec::new(),
        hairpins: Vec::new(),
        probes,
        expected_failures: Vec::new(),
        passed: false,
        reasons: Vec::new(),
    }
}

fn dedup(reasons: &mut Vec<ServiceReason>) {
    let mut seen = BTreeSet::new();
    reasons.retain(|r| seen.insert(r.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::{generate, GenRequest};
    use crate::plan::{Flavor, Mode};
    use crate::services::ServicesSpec;
    use crate::topology::Topology;
    use crate::wire::dissect::Ip;

    /// host-gw, 3 hosts, svc1 (10.96.0.11:80 → 8001) on pod1 and pod2.
    fn lab() -> Lab {
        let text = generate(&GenRequest {
            mode: Mode::HostGw,
            flavor: Flavor::Article,
            hosts: 3,
            pods_per_host: 1,
            lab: Some("judge"),
            underlay: None,
            routing: Default::default(),
            direct_routing: false,
            cross_subnet: false,
            ip_family: Default::default(),
            encryption: Default::default(),
            templates: None,
            services: ServicesSpec {
                count: 1,
                ..Default::default()
            },
        })
        .unwrap();
        Lab::from_topology(&Topology::parse(&text).unwrap()).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn probe(lab: &Lab, client: &str, n: u32) -> Probe {
        let pod = lab.pods.iter().find(|p| p.node == client).unwrap();
        Probe {
            service: Some(0),
            family: Family::Ipv4,
            kind: ClientKind::Pod,
            client: pod.node.clone(),
            client_ns: pod.namespace.clone(),
            client_ip: pod.addr(Family::Ipv4),
            client_host: Some(pod.host),
            target: SocketAddr::new(ip("10.96.0.11"), 80),
            node: None,
            tcp: false,
            tag: Tag {
                run: 7,
                probe: n,
                attempt: 0,
            },
            expect_fail: false,
        }
    }

    fn answered() -> Answer {
        Answer {
            error: None,
            reply_from: Some(SocketAddr::new(ip("10.96.0.11"), 80)),
        }
    }

    fn heard(pod: &str, tag: Tag, from: &str) -> Heard {
        Heard {
            pod: pod.into(),
            tcp: false,
            tag,
            from: SocketAddr::new(ip(from), 40000),
        }
    }

    /// A UDP frame on `host`'s underlay, leaving it, carrying `tag`.
    fn frame(host: usize, src: &str, dst: &str, dport: u16, tag: Tag) -> UnderlayFrame {
        let l4 = L4::Udp {
            src_port: 40000,
            dst_port: dport,
            probe: Some((tag, false)),
        };
        UnderlayFrame {
            host,
            outgoing: true,
            wire: Wire::Plain(Ip {
                src: ip(src),
                dst: ip(dst),
                len: 60,
                df: true,
                l4,
            }),
        }
    }

    fn pod_row(
        lab: &Lab,
        probes: &[Probe],
        answers: &[Answer],
        heard: &[Heard],
        frames: &[UnderlayFrame],
    ) -> ServiceRow {
        let services = lab.services.as_ref().unwrap();
        let node_sources = NodeSources::new();
        let ev = Evidence {
            lab,
            services,
            probes,
            answers,
            heard,
            frames,
            node_sources: &node_sources,
        };
        judge(&ev).remove(0)
    }

    /// pod3 (host3) reaches pod1 (host1) and pod2 (host2), each seeing pod3's own address,
    /// with the endpoint's address on host3's underlay: the row passes.
    fn healthy(lab: &Lab) -> (Vec<Probe>, Vec<Answer>, Vec<Heard>, Vec<UnderlayFrame>) {
        let probes = vec![probe(lab, "pod3", 0), probe(lab, "pod3", 1)];
        let answers = vec![answered(), answered()];
        let heard = vec![
            heard("pod1", probes[0].tag, "10.0.3.2"),
            heard("pod2", probes[1].tag, "10.0.3.2"),
        ];
        let frames = vec![
            frame(3, "10.0.3.2", "10.0.1.2", 8001, probes[0].tag),
            frame(3, "10.0.3.2", "10.0.2.2", 8001, probes[1].tag),
        ];
        (probes, answers, heard, frames)
    }

    #[test]
    fn a_healthy_row_passes_and_names_what_each_endpoint_saw() {
        let lab = lab();
        let (p, a, h, f) = healthy(&lab);
        let row = pod_row(&lab, &p, &a, &h, &f);
        assert!(row.passed, "{:?}", row.reasons);
        assert_eq!(row.endpoints_reached, ["pod1", "pod2"]);
        assert_eq!(
            row.sources_seen[0],
            SourceSeen {
                endpoint: "pod1".into(),
                source: ip("10.0.3.2")
            }
        );
    }

    #[test]
    fn a_masqueraded_source_and_a_reply_from_the_endpoint_are_named() {
        let lab = lab();
        let (p, mut a, mut h, f) = healthy(&lab);
        h[0].from = SocketAddr::new(ip("192.168.0.150"), 1);
        a[1].reply_from = Some(SocketAddr::new(ip("10.0.2.2"), 8001));
        let row = pod_row(&lab, &p, &a, &h, &f);
        let kinds: Vec<&str> = row.reasons.iter().map(|r| r.kind()).collect();
        assert_eq!(
            kinds,
            ["wrong-source", "reply-not-un-nated"],
            "{:?}",
            row.reasons
        );
        assert!(row.reasons[0].to_string().contains(
            "pod1 saw the source 192.168.0.150, expected the client's own address 10.0.3.2"
        ));
    }

    #[test]
    fn the_vip_on_the_underlay_names_the_host_that_did_not_dnat() {
        let lab = lab();
        let (p, mut a, h, mut f) = healthy(&lab);
        a[1] = Answer {
            error: Some("timed out".into()),
            reply_from: None,
        };
        // host3's CNI masquerade has rewritten the source: the tag still ties it to the probe.
        f[1] = frame(3, "192.168.0.150", "10.96.0.11", 80, p[1].tag);
        let row = pod_row(&lab, &p, &a, &h[..1], &f);
        let text: Vec<String> = row.reasons.iter().map(|r| r.to_string()).collect();
        assert!(
            text.iter().any(|t| t.starts_with("svc1 (10.96.0.11:80)/udp from pod3: host3 did not DNAT it; the VIP crossed the underlay")),
            "{text:?}"
        );
    }

    #[test]
    fn an_endpoint_never_reached_from_a_host_names_its_rule() {
        let lab = lab();
        let (mut p, mut a, mut h, mut f) = healthy(&lab);
        // Both of pod3's probes land on pod2: host3 never sends to pod1.
        h[0] = heard("pod2", p[0].tag, "10.0.3.2");
        f[0] = frame(3, "10.0.3.2", "10.0.2.2", 8001, p[0].tag);
        p.truncate(2);
        a.truncate(2);
        let row = pod_row(&lab, &p, &a, &h, &f);
        let text = row
            .reasons
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let sep = &crate::services::endpoint_chains("svc1", 8001, ip("10.0.1.2")).iptables[1];
        assert!(
            text.contains(&format!("svc1 (10.96.0.11:80)/udp: pod1 never answered host3's pods over 2 probes: check host3's {sep} DNAT to 10.0.1.2:8001")),
            "{text}"
        );
    }

    #[test]
    fn nodeport_traffic_must_come_from_the_nodes_own_address_towards_the_endpoint() {
        let lab = lab();
        let services = lab.services.as_ref().unwrap();
        let o = &services.outside;
        let probe = Probe {
            kind: ClientKind::Outside,
            client: o.node.clone(),
            client_ns: o.namespace.clone(),
            client_ip: IpAddr::V4(o.ip.unwrap()),
            client_host: None,
            target: SocketAddr::new(ip("192.168.0.50"), 30001),
            node: Some(1),
            ..probe(&lab, "pod3", 0)
        };
        let reply = Answer {
            error: None,
            reply_from: Some(probe.target),
        };
        // host1 forwards to pod2 on host2: its underlay address is the one MASQUERADE picks.
        let saw = heard("pod2", probe.tag, "10.0.1.1");
        let sources = NodeSources::from([((1, ip("10.0.2.2")), ip("192.168.0.50"))]);
        let (probes, answers, heard) = (vec![probe], vec![reply], vec![saw]);
        let ev = Evidence {
            lab: &lab,
            services,
            probes: &probes,
            answers: &answers,
            heard: &heard,
            frames: &[],
            node_sources: &sources,
        };
        let row = judge(&ev).remove(1);
        assert_eq!(row.client, ClientKind::Outside);
        let text: Vec<String> = row.reasons.iter().map(|r| r.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains("pod2 saw the source 10.0.1.1, expected host1's own address towards pod2 (192.168.0.50")),
            "{text:?}"
        );
    }

    #[test]
    fn a_remote_endpoint_missing_from_the_wire_is_named() {
        let lab = lab();
        let (p, a, h, mut f) = healthy(&lab);
        f.remove(0);
        let row = pod_row(&lab, &p, &a, &h, &f);
        assert_eq!(
            row.reasons.iter().map(|r| r.kind()).collect::<Vec<_>>(),
            ["endpoint-not-on-wire"]
        );
    }
}
