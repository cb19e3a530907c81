//! verify's Service probes (`gen --services S`): every pod to every ClusterIP, `outside` to
//! every NodePort on every host, every pod to `outside`, over TCP and UDP, to listeners in
//! each endpoint pod on the Service's targetPort (and in `outside` for egress). The hosts'
//! underlay interfaces are captured meanwhile, so the judge ([`judge`]) sees whether the VIP
//! or the endpoint's own address crossed the underlay.

pub mod judge;
pub mod reason;
pub mod table;

use crate::family::Family;
use crate::lab::{Lab, LabServices};
use crate::services::{TrafficPolicy, EGRESS_PORT};
use crate::sys::netns::NetnsGuard;
use crate::sys::packet_socket::{self, RingSize};
use crate::verify::listener::{HeardLog, ListenerError, Listeners};
use crate::wire::dissect::{dissect, Tag};
use judge::{Answer, ClientKind, Evidence, NodeSources, Probe, ServiceRow, UnderlayFrame};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

/// How long a probe waits to connect, and then for its echo.
const WAIT: Duration = Duration::from_millis(700);

#[derive(Debug, thiserror::Error)]
pub enum ServiceProbeError {
    #[error(transparent)]
    Listener(#[from] ListenerError),
    #[error("cannot capture on {node}'s underlay: {detail}")]
    Capture { node: String, detail: String },
}

/// How many probes a Service with `endpoints` endpoints gets from one kind of client over
/// one protocol. kube-proxy picks each new connection's endpoint uniformly at random
/// (`--probability 1/(n−k)` in turn, or `numgen random mod n`), so an endpoint is missed by
/// `m` probes with probability (1 − 1/E)^m. A dead endpoint is caught when one probe lands
/// on it; all E endpoints are reached, in a healthy lab, unless one of them is missed, which
/// by the union bound happens with probability at most E·(1 − 1/E)^m. `m` is the least
/// number that keeps that at or under 0.1 %: m = ⌈ln(0.001/E) / ln(1 − 1/E)⌉ (11 for E = 2,
/// 19 for E = 3). A dead endpoint then escapes with probability (1 − 1/E)^m ≤ 0.1 %/E, so it
/// is caught with probability ≥ 99.9 %, above the 99 % asked. Each client host's pods get
/// this count (a host's own rules choose its endpoints), so a lab has many such groups; a
/// group that answered every probe but missed an endpoint is sent [`FOLLOW_UP`] times as
/// many again before the miss is reported ((1 − 1/E)^(5m) is then below 10⁻¹⁵), which keeps
/// a healthy lab from failing for want of luck without weakening the dead-endpoint bound.
pub fn probes_for(endpoints: usize) -> usize {
    if endpoints <= 1 {
        return 1;
    }
    let e = endpoints as f64;
    ((0.001 / e).ln() / (1.0 - 1.0 / e).ln()).ceil() as usize
}

/// Probes the lab's Services; `run` tells this verify's tags from any other.
pub fn verify(
    lab: &Lab,
    services: &LabServices,
    run: u32,
) -> Result<Vec<ServiceRow>, ServiceProbeError> {
    let mut probes = plan_probes(lab, services, run);
    let log = HeardLog::default();
    let _listeners = start_listeners(lab, services, log.clone())?;
    let capture = Capture::start(lab, services, run)?;
    let mut answers = send_all(&probes);
    let heard_so_far = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let more = follow_ups(&probes, &answers, &heard_so_far, services, lab, run);
    answers.extend(send_all(&more));
    probes.extend(more);
    let frames = capture.stop();
    let heard = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let node_sources = match services.policy {
        TrafficPolicy::Cluster => node_sources(lab, services),
        TrafficPolicy::Local => NodeSources::new(),
    };
    Ok(judge::judge(&Evidence {
        lab,
        services,
        probes: &probes,
        answers: &answers,
        heard: &heard,
        frames: &frames,
        node_sources: &node_sources,
    }))
}

/// A group of probes that must reach every endpoint: one Service, family, protocol and kind
/// of client, and for ClusterIP one client host (see `judge::unreached`).
type Group = (Option<usize>, Family, ClientKind, Option<usize>, bool);

fn group(p: &Probe) -> Group {
    let host = if p.kind == ClientKind::Pod {
        p.client_host
    } else {
        None
    };
    (p.service, p.family, p.kind, host, p.tcp)
}

/// More probes for each group that answered every probe yet missed an endpoint: [`FOLLOW_UP`]
/// times as many again, so that a healthy group, unlucky once, is not reported. A broken rule
/// that sends an endpoint's share elsewhere misses it every time, and a dead endpoint has
/// already failed a probe.
fn follow_ups(
    probes: &[Probe],
    answers: &[Answer],
    heard: &[crate::verify::listener::Heard],
    services: &LabServices,
    lab: &Lab,
    run: u32,
) -> Vec<Probe> {
    use std::collections::{BTreeMap, BTreeSet};
    let by_tag: BTreeMap<Tag, &str> = heard.iter().map(|h| (h.tag, h.pod.as_str())).collect();
    let mut groups: BTreeMap<Group, (Vec<usize>, BTreeSet<&str>, bool)> = BTreeMap::new();
    for (i, p) in probes.iter().enumerate() {
        if p.expect_fail || p.kind == ClientKind::Egress {
            continue;
        }
        let g = groups.entry(group(p)).or_default();
        g.0.push(i);
        match (by_tag.get(&p.tag), &answers[i].error) {
            (Some(pod), None) => {
                g.1.insert(pod);
            }
            _ => g.2 = true,
        }
    }
    let mut more = Vec::new();
    for ((service, ..), (members, reached, failed)) in groups {
        let Some(svc) = service.and_then(|s| services.services.get(s)) else {
            continue;
        };
        let all = services
            .endpoints(lab, svc)
            .iter()
            .all(|e| reached.contains(e.node.as_str()));
        if failed || all {
            continue;
        }
        for k in 0..members.len() * FOLLOW_UP {
            let mut p = probes[members[k % members.len()]].clone();
            p.tag = Tag {
                run,
                probe: (probes.len() + more.len()) as u32,
                attempt: 0,
            };
            more.push(p);
        }
    }
    more
}

/// How many times a group's probes are sent again when it missed an endpoint.
pub const FOLLOW_UP: usize = 4;

/// Each host's source address towards each endpoint, as its kernel picks it (`ip route get`'s
/// prefsrc), read with one `ip -j -batch` per host, the hosts side by side. A host whose
/// routes cannot be read is left out: the judge then only asks for one of its addresses.
fn node_sources(lab: &Lab, services: &LabServices) -> NodeSources {
    let families = lab.families();
    let mut endpoints: Vec<IpAddr> = services
        .services
        .iter()
        .flat_map(|svc| services.endpoints(lab, svc))
        .flat_map(|p| families.iter().map(|&f| p.addr(f)))
        .collect();
    endpoints.sort();
    endpoints.dedup();
    let batch: String = endpoints
        .iter()
        .map(|ip| format!("route get {ip}\n"))
        .collect();
    let per_host = crate::sys::side_by_side::map(&lab.hosts, |h| {
        let out = crate::sys::netns::in_netns(&h.namespace, || ip_batch(&batch));
        let text = out.ok().and_then(Result::ok).unwrap_or_default();
        let srcs: Vec<Option<IpAddr>> = text.lines().map(prefsrc).collect();
        (h.index, srcs)
    });
    let mut out = NodeSources::new();
    for (host, srcs) in per_host {
        for (ep, src) in endpoints.iter().zip(srcs) {
            if let Some(src) = src {
                out.insert((host, *ep), src);
            }
        }
    }
    out
}

/// `ip -j -batch -` fed `batch`: one JSON array per command, one per line.
fn ip_batch(batch: &str) -> std::io::Result<String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("ip")
        .args(["-j", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(batch.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `prefsrc` of one line of `ip -j route get`.
fn prefsrc(line: &str) -> Option<IpAddr> {
    #[derive(serde::Deserialize)]
    struct Row {
        prefsrc: Option<IpAddr>,
    }
    let rows: Vec<Row> = serde_json::from_str(line).ok()?;
    rows.into_iter().next()?.prefsrc
}

fn start_listeners(
    lab: &Lab,
    services: &LabServices,
    log: HeardLog,
) -> Result<Listeners, ListenerError> {
    let mut at: Vec<(&str, &str, u16, Family)> = Vec::new();
    for f in lab.families() {
        for svc in &services.services {
            for pod in services.endpoints(lab, svc) {
                at.push((&pod.node, &pod.namespace, svc.target_port, f));
            }
        }
        let o = &services.outside;
        at.push((&o.node, &o.namespace, EGRESS_PORT, f));
    }
    at.sort();
    at.dedup();
    Listeners::start_on(at, Some(log))
}

/// Every probe, numbered from 0 in `Tag::probe`: each Service in each family the lab carries
/// and the Service has a ClusterIP in, then egress in each family.
fn plan_probes(lab: &Lab, services: &LabServices, run: u32) -> Vec<Probe> {
    let mut probes = Vec::new();
    for family in lab.families() {
        for (i, svc) in services.services.iter().enumerate() {
            if let Some(ip) = svc.cluster_ip(family) {
                let vip = SocketAddr::new(ip, svc.port);
                probes.extend(service_probes(lab, services, (i, svc), vip));
            }
        }
    }
    for family in lab.families() {
        let Some(ip) = services.outside.addr(family) else {
            continue;
        };
        let egress = SocketAddr::new(ip, EGRESS_PORT);
        for tcp in [true, false] {
            probes.extend(lab.pods.iter().map(|pod| from_pod(pod, None, egress, tcp)));
        }
    }
    for (n, p) in probes.iter_mut().enumerate() {
        p.tag = Tag {
            run,
            probe: n as u32,
            attempt: 0,
        };
    }
    probes
}

/// One Service's probes at `vip`, the ClusterIP of one family: from the pods, and from
/// `outside` to every host's NodePort in the same family.
fn service_probes(
    lab: &Lab,
    services: &LabServices,
    (i, svc): (usize, &crate::services::StatedService),
    vip: SocketAddr,
) -> Vec<Probe> {
    let family = Family::of(vip.ip());
    let endpoints = services.endpoints(lab, svc);
    let mut probes = Vec::new();
    for tcp in [true, false] {
        for (pod, _) in pod_probes(lab, endpoints.len()) {
            probes.push(from_pod(pod, Some(i), vip, tcp));
        }
        for (host, n, expect_fail) in node_port_probes(lab, services, &endpoints) {
            let target = SocketAddr::new(host.underlay(family), svc.node_port);
            let one = || from_outside(services, i, host.index, target, tcp, expect_fail);
            probes.extend((0..n).map(|_| one()));
        }
    }
    probes
}

/// A probe from a pod: to a Service's ClusterIP, or (no Service) to `outside`, in the
/// target's family.
fn from_pod(
    pod: &crate::lab::LabPod,
    service: Option<usize>,
    target: SocketAddr,
    tcp: bool,
) -> Probe {
    let family = Family::of(target.ip());
    Probe {
        service,
        family,
        kind: if service.is_some() {
            ClientKind::Pod
        } else {
            ClientKind::Egress
        },
        client: pod.node.clone(),
        client_ns: pod.namespace.clone(),
        client_ip: pod.addr(family),
        client_host: Some(pod.host),
        target,
        node: None,
        tcp,
        tag: Tag {
            run: 0,
            probe: 0,
            attempt: 0,
        },
        expect_fail: false,
    }
}

/// A probe from `outside` to host `node`'s NodePort of Service `service`.
fn from_outside(
    services: &LabServices,
    service: usize,
    node: usize,
    target: SocketAddr,
    tcp: bool,
    expect_fail: bool,
) -> Probe {
    let o = &services.outside;
    let family = Family::of(target.ip());
    Probe {
        service: Some(service),
        family,
        kind: ClientKind::Outside,
        client: o.node.clone(),
        client_ns: o.namespace.clone(),
        client_ip: o.addr(family).unwrap_or(target.ip()),
        client_host: None,
        target,
        node: Some(node),
        tcp,
        tag: Tag {
            run: 0,
            probe: 0,
            attempt: 0,
        },
        expect_fail,
    }
}

/// The ClusterIP probes of one Service and protocol: each host's pods share [`probes_for`]'s
/// count (each pod at least one), so that each host's own KUBE-SEP-* or endpoint-* chains are
/// all exercised. A host whose DNAT to one endpoint is gone sends that endpoint's share on
/// to the next endpoint (iptables returns from the broken KUBE-SEP-* and goes on down
/// KUBE-SVC-*), so only a host's own count shows the endpoint unreached from there.
fn pod_probes(lab: &Lab, endpoints: usize) -> Vec<(&crate::lab::LabPod, usize)> {
    let mut out = Vec::new();
    for host in &lab.hosts {
        let pods: Vec<&crate::lab::LabPod> =
            lab.pods.iter().filter(|p| p.host == host.index).collect();
        if pods.is_empty() {
            continue;
        }
        let m = probes_for(endpoints).max(pods.len());
        out.extend((0..m).map(|k| (pods[k % pods.len()], k)));
    }
    out
}

/// Per host: how many NodePort probes it gets, and whether they must fail. Under the cluster
/// policy every host forwards to every endpoint, and the hosts share [`probes_for`]'s count
/// (each at least one); under the local policy each host picks among its own endpoints, so it
/// gets that count for them, and a host with none gets one probe that must fail.
fn node_port_probes<'a>(
    lab: &'a Lab,
    services: &LabServices,
    endpoints: &[&crate::lab::LabPod],
) -> Vec<(&'a crate::lab::LabHost, usize, bool)> {
    let n = lab.hosts.len();
    lab.hosts
        .iter()
        .enumerate()
        .map(|(k, h)| match services.policy {
            TrafficPolicy::Cluster => {
                let m = probes_for(endpoints.len()).max(n);
                (h, m / n + usize::from(k < m % n), false)
            }
            TrafficPolicy::Local => {
                let local = endpoints.iter().filter(|e| e.host == h.index).count();
                match local {
                    0 => (h, 1, true),
                    l => (h, probes_for(l), false),
                }
            }
        })
        .collect()
}

/// Sends every probe: each client's in turn, from a thread that stays in the client's
/// namespace for all of them, the clients side by side.
fn send_all(probes: &[Probe]) -> Vec<Answer> {
    let mut clients: Vec<&str> = probes.iter().map(|p| p.client_ns.as_str()).collect();
    clients.sort();
    clients.dedup();
    let per_client = crate::sys::side_by_side::map(&clients, |ns| {
        let mine = probes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.client_ns == *ns);
        match NetnsGuard::enter(ns) {
            Ok(_inside) => mine.map(|(i, p)| (i, send(p))).collect::<Vec<_>>(),
            Err(e) => mine.map(|(i, _)| (i, failed(e.to_string()))).collect(),
        }
    });
    let mut answers = vec![Answer::default(); probes.len()];
    for (i, a) in per_client.into_iter().flatten() {
        answers[i] = a;
    }
    answers
}

fn failed(error: String) -> Answer {
    Answer {
        error: Some(error),
        reply_from: None,
    }
}

/// One probe, from the calling thread's namespace.
fn send(probe: &Probe) -> Answer {
    let sent = match probe.tcp {
        true => send_tcp(probe),
        false => send_udp(probe),
    };
    match sent {
        Ok(from) => Answer {
            error: None,
            reply_from: Some(from),
        },
        Err(e) => failed(e.to_string()),
    }
}

/// A connection that sends the tag and reads it back; the reply's source is the peer the
/// kernel matched the handshake to.
fn send_tcp(probe: &Probe) -> std::io::Result<SocketAddr> {
    let mut stream = TcpStream::connect_timeout(&probe.target, WAIT)?;
    stream.set_read_timeout(Some(WAIT))?;
    stream.write_all(&probe.tag.transport_payload(false))?;
    let mut buf = [0u8; Tag::TRANSPORT_LEN];
    stream.read_exact(&mut buf)?;
    check_echo(probe, &buf)?;
    let from = stream.peer_addr();
    // As a pair's TCP probe ends: the listener waits for this reset rather than closing first.
    super::transport::end_with_reset(&stream);
    from
}

/// A datagram from an unconnected socket, so that the echo's real source is read.
fn send_udp(probe: &Probe) -> std::io::Result<SocketAddr> {
    let any = match probe.family {
        Family::Ipv4 => "0.0.0.0:0",
        Family::Ipv6 => "[::]:0",
    };
    let socket = UdpSocket::bind(any)?;
    socket.set_read_timeout(Some(WAIT))?;
    socket.send_to(&probe.tag.transport_payload(false), probe.target)?;
    let mut buf = [0u8; 64];
    let (n, from) = socket.recv_from(&mut buf)?;
    check_echo(probe, &buf[..n])?;
    Ok(from)
}

fn check_echo(probe: &Probe, payload: &[u8]) -> std::io::Result<()> {
    match Tag::parse_transport(payload) {
        Some((tag, true)) if tag == probe.tag => Ok(()),
        _ => Err(std::io::Error::other(
            "the echo did not carry the probe's tag",
        )),
    }
}

/// Packet sockets on every host's underlay interface, read until the probes are done. Only
/// frames that matter to the judge are kept: those bound for a VIP, and those that carry one
/// of this run's tags.
struct Capture {
    readers: packet_socket::Readers<Vec<UnderlayFrame>>,
}

impl Capture {
    fn start(lab: &Lab, services: &LabServices, run: u32) -> Result<Capture, ServiceProbeError> {
        let ports: Vec<u16> = lab.vxlan().map(|v| v.port).into_iter().collect();
        let vips: Vec<IpAddr> = services
            .services
            .iter()
            .flat_map(|s| s.cluster_ips.iter().copied())
            .collect();
        let sockets = packet_socket::open_all(&lab.hosts, |h| {
            let ring = RingSize::sized(1 << 20);
            let socket = packet_socket::open(&h.namespace, &h.underlay_if, None, ring);
            socket
                .map(|s| (h.index, s))
                .map_err(|e| ServiceProbeError::Capture {
                    node: h.node.clone(),
                    detail: e.to_string(),
                })
        })?;
        let readers = packet_socket::start(sockets, move |_, (host, socket), stop| {
            let mut frames = Vec::new();
            let _ = socket.read_until(stop, Duration::from_millis(200), |f| {
                let Ok(wire) = dissect(f.data, &ports) else {
                    return;
                };
                if matters(&wire, &vips, run) {
                    frames.push(UnderlayFrame {
                        host,
                        outgoing: f.outgoing,
                        wire,
                    });
                }
            });
            frames
        })
        .map_err(|e| ServiceProbeError::Capture {
            node: "the lab".into(),
            detail: e.to_string(),
        })?;
        Ok(Capture { readers })
    }

    fn stop(self) -> Vec<UnderlayFrame> {
        self.readers.stop().into_iter().flatten().collect()
    }
}

fn matters(wire: &crate::wire::dissect::Wire, vips: &[IpAddr], run: u32) -> bool {
    use crate::wire::dissect::L4;
    let Some(ip) = wire.innermost() else {
        return false;
    };
    let tagged = match &ip.l4 {
        L4::Tcp { probe, .. } | L4::Udp { probe, .. } => probe.is_some_and(|(t, _)| t.run == run),
        _ => false,
    };
    tagged || vips.contains(&ip.dst)
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefsrc_is_read_from_ip_route_get() {
        let line = r#"[{"dst":"172.16.1.2","gateway":"172.16.1.0","dev":"vxlan.calico","prefsrc":"172.16.0.0","flags":[],"uid":0,"cache":[]}]"#;
        assert_eq!(super::prefsrc(line), Some("172.16.0.0".parse().unwrap()));
        assert_eq!(super::prefsrc("[]"), None);
        assert_eq!(super::prefsrc("garbage"), None);
    }

    #[test]
    fn probe_counts_catch_a_dead_endpoint_with_99_percent() {
        for e in 2..=6 {
            let m = super::probes_for(e);
            let missed = (1.0 - 1.0 / e as f64).powi(m as i32);
            assert!(missed * e as f64 <= 0.001, "E={e} m={m}");
            assert!(1.0 - missed >= 0.99);
        }
        assert_eq!(super::probes_for(2), 11);
        assert_eq!(super::probes_for(1), 1);
    }
}
