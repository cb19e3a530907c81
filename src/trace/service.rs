//! `cnilab trace -t FILE pod1 10.96.0.11:80`: one tagged UDP probe from a pod to a Service,
//! captured on every interface of every node. It shows where the VIP was rewritten to the
//! endpoint's address and back, the kube-proxy rule that did it (its chain and rule number,
//! or its nft handle) and the conntrack entry the client's host kept.

use super::capture::{self, Frame, Point};
use super::TraceError;
use crate::family::Family;
use crate::lab::{Lab, LabPod, LabServices};
use crate::services::{endpoint_chains, KubeProxy, StatedService};
use crate::verify::listener::{HeardLog, Listeners};
use crate::wire::dissect::{dissect, dissect_ip, Tag, Wire, L4};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(2);
const SETTLE: Duration = Duration::from_millis(150);

/// One sighting of the probe or its echo.
#[derive(Debug, Clone, Serialize)]
pub struct Sighting {
    pub at: String,
    pub outgoing: bool,
    pub reply: bool,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The tunnel's outer addresses, where the frame was in one.
    pub outer: Option<(IpAddr, IpAddr)>,
    /// What changed since the previous sighting of the same direction, e.g. `DNAT 10.96.0.11:80 → 10.0.2.2:8001`.
    pub rewritten: Option<String>,
}

/// The walk of one probe through a Service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceWalk {
    pub lab: String,
    pub from: String,
    pub service: String,
    /// The ClusterIP walked, in the family asked for.
    pub family: Family,
    pub vip: SocketAddr,
    pub endpoint: Option<String>,
    pub replied: bool,
    pub sightings: Vec<Sighting>,
    /// The rule that DNATed the probe, on the client's host.
    pub rule: Option<String>,
    /// The client's host's conntrack entry for the probe.
    pub conntrack: Option<String>,
}

/// `IP:PORT` of one of the lab's Services, in either family (`[fd00:10:96::11]:80` in IPv6).
pub fn find<'a>(
    lab: &'a Lab,
    to: &str,
) -> Option<(&'a LabServices, &'a StatedService, std::net::SocketAddr)> {
    let vip: std::net::SocketAddr = to.parse().ok()?;
    let services = lab.services.as_ref()?;
    let svc = services
        .services
        .iter()
        .find(|s| s.cluster_ips.contains(&vip.ip()) && s.port == vip.port())?;
    Some((services, svc, vip))
}

/// Walks one probe from `from` to `vip`, one of `svc`'s ClusterIPs, in the VIP's family.
pub fn trace(
    lab: &Lab,
    nodes: &[(String, String)],
    from: &LabPod,
    (services, svc): (&LabServices, &StatedService),
    vip: SocketAddr,
) -> Result<ServiceWalk, TraceError> {
    let family = Family::of(vip.ip());
    let log = HeardLog::default();
    let endpoints = services.endpoints(lab, svc);
    let at = endpoints.iter().map(|p| {
        (
            p.node.as_str(),
            p.namespace.as_str(),
            svc.target_port,
            family,
        )
    });
    let _listeners = Listeners::start_on(at, Some(log.clone()))
        .map_err(|e| TraceError::Service(e.to_string()))?;
    let points = capture::points(nodes)?;
    let fds = crate::sys::packet_socket::open_all(&points, capture::open)?;
    let running = capture::start(&points, fds)?;
    let tag = Tag {
        run: std::process::id(),
        probe: 0,
        attempt: 0,
    };
    let sent = crate::sys::netns::in_netns(&from.namespace, || send(vip, tag));
    std::thread::sleep(SETTLE);
    let frames = running.stop()?;
    let (local, replied) = match sent {
        Ok(Ok((local, replied))) => (Some(local), replied),
        _ => (None, false),
    };
    let heard = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let endpoint = heard.iter().find(|h| h.tag == tag).map(|h| h.pod.clone());
    let chosen = endpoint
        .as_ref()
        .and_then(|e| endpoints.iter().find(|p| &p.node == e));
    let chosen = chosen.map(|p| p.addr(family));
    let (rule, conntrack) = on_client_host(lab, from, (services, svc), chosen, local);
    Ok(ServiceWalk {
        lab: lab.name.clone(),
        from: from.node.clone(),
        service: svc.name.clone(),
        family,
        vip,
        endpoint,
        replied,
        sightings: sightings(&points, &frames, tag, lab.vxlan().map(|v| v.port)),
        rule,
        conntrack,
    })
}

/// What the client's host holds about the probe: the rule that DNATed it to `endpoint`, and
/// the conntrack entry for its source port.
fn on_client_host(
    lab: &Lab,
    from: &LabPod,
    (services, svc): (&LabServices, &StatedService),
    endpoint: Option<IpAddr>,
    local: Option<SocketAddr>,
) -> (Option<String>, Option<String>) {
    let Some(h) = lab.host(from.host) else {
        return (None, None);
    };
    let rule =
        endpoint.and_then(|ip| dnat_rule(&h.namespace, &h.node, services.kube_proxy, svc, ip));
    let src = |l: SocketAddr| from.addr(Family::of(l.ip()));
    let conntrack = local.and_then(|l| conntrack_entry(&h.namespace, src(l), l.port()));
    (rule, conntrack)
}

/// One tagged datagram to the VIP; the local address it left from and whether the echo came
/// back from the VIP.
fn send(vip: SocketAddr, tag: Tag) -> std::io::Result<(SocketAddr, bool)> {
    let any = match vip {
        SocketAddr::V4(_) => "0.0.0.0:0",
        SocketAddr::V6(_) => "[::]:0",
    };
    let socket = UdpSocket::bind(any)?;
    socket.set_read_timeout(Some(WAIT))?;
    socket.send_to(&tag.transport_payload(false), vip)?;
    let local = socket.local_addr()?;
    let mut buf = [0u8; 64];
    let replied = match socket.recv_from(&mut buf) {
        Ok((n, from)) => from == vip && Tag::parse_transport(&buf[..n]) == Some((tag, true)),
        Err(_) => false,
    };
    Ok((local, replied))
}

/// Every frame that carries the probe or its echo, in capture order, each with what changed
/// since the last sighting of the same direction. The kernel stamps an skb once per namespace,
/// so a bridge port and its bridge can share a time: among such ties the unchanged packet
/// comes first, as it does on the way through.
fn sightings(points: &[Point], frames: &[Frame], tag: Tag, vxlan: Option<u16>) -> Vec<Sighting> {
    let ports: Vec<u16> = vxlan.into_iter().collect();
    let mut seen: Vec<(Duration, &Frame, Wire, SocketAddr, SocketAddr, bool)> = frames
        .iter()
        .filter_map(|f| {
            let wire = match f.ethernet {
                true => dissect(&f.data, &ports),
                false => dissect_ip(&f.data, &ports),
            }
            .ok()?;
            let (src, dst, reply) = tagged(&wire, tag)?;
            Some((f.ts, f, wire, src, dst, reply))
        })
        .collect();
    seen.sort_by_key(|s| s.0);
    let mut out: Vec<Sighting> = Vec::new();
    let mut i = 0;
    while i < seen.len() {
        let tie = seen[i..].iter().take_while(|s| s.0 == seen[i].0).count();
        let group = &mut seen[i..i + tie];
        let changed = |s: &(Duration, &Frame, Wire, SocketAddr, SocketAddr, bool)| {
            let last = out.iter().rev().find(|l| l.reply == s.5);
            last.is_some_and(|l| l.src != s.3 || l.dst != s.4)
        };
        group.sort_by_key(|s| changed(s));
        for (_, f, wire, src, dst, reply) in group.iter() {
            let last = out.iter().rev().find(|s| s.reply == *reply);
            let rewritten = last.and_then(|l| rewrite(l, *src, *dst, *reply));
            out.push(Sighting {
                at: points[f.point].label(),
                outgoing: f.outgoing,
                reply: *reply,
                src: *src,
                dst: *dst,
                outer: wire.outer(),
                rewritten,
            });
        }
        i += tie;
    }
    out
}

fn tagged(wire: &Wire, tag: Tag) -> Option<(SocketAddr, SocketAddr, bool)> {
    let ip = wire.innermost()?;
    let (src, dst) = (ip.src, ip.dst);
    match ip.l4 {
        L4::Udp {
            src_port,
            dst_port,
            probe: Some((t, reply)),
        } if t == tag => Some((
            SocketAddr::new(src, src_port),
            SocketAddr::new(dst, dst_port),
            reply,
        )),
        _ => None,
    }
}

/// What NAT changed: on the probe, DNAT and SNAT by the rules; on the reply, conntrack's
/// reverse of them.
fn rewrite(last: &Sighting, src: SocketAddr, dst: SocketAddr, reply: bool) -> Option<String> {
    let mut parts = Vec::new();
    if last.dst != dst {
        parts.push(format!("destination {} → {dst}", last.dst));
    }
    if last.src != src {
        parts.push(format!("source {} → {src}", last.src));
    }
    let what = match (reply, last.dst != dst, last.src != src) {
        (true, ..) => "reverse NAT (conntrack)",
        (false, true, true) => "DNAT and SNAT",
        (false, true, false) => "DNAT",
        (false, false, _) => "SNAT",
    };
    (!parts.is_empty()).then(|| format!("{what}: {}", parts.join(", ")))
}

/// The rule that DNATs to `ip` on the client's host, as the kernel lists it now: the iptables
/// rule with its chain, number and packet count, or the nft rule with its handle; in the
/// endpoint's family's table (ip6tables, `ip6 kube-proxy` in IPv6).
fn dnat_rule(
    ns: &str,
    node: &str,
    mode: KubeProxy,
    svc: &StatedService,
    ip: IpAddr,
) -> Option<String> {
    let chains = endpoint_chains(&svc.name, svc.target_port, ip);
    let (iptables, table) = match ip {
        IpAddr::V4(_) => ("iptables", "ip"),
        IpAddr::V6(_) => ("ip6tables", "ip6"),
    };
    // The probe is UDP: the second chain of each pair.
    let found = match mode {
        KubeProxy::Iptables => {
            let chain = &chains.iptables[1];
            let args = ["-t", "nat", "-L", chain, "-n", "-v", "-x", "--line-numbers"];
            let listed = crate::sys::tool::run_in(ns, iptables, &args).ok()?;
            // `num pkts bytes target …`: the DNAT rule's number and packet count.
            let row: Vec<&str> = listed
                .lines()
                .find(|l| l.contains("DNAT"))?
                .split_whitespace()
                .collect();
            let spec = crate::sys::tool::run_in(ns, iptables, &["-t", "nat", "-S", chain]).ok()?;
            let rule = spec.lines().find(|l| l.contains("-j DNAT"))?;
            format!(
                "{node}: {iptables} -t nat {rule} (rule {} of {chain}, {} packets so far)",
                row.first()?,
                row.get(1)?
            )
        }
        KubeProxy::Nftables => {
            let chain = &chains.nft[1];
            let args = ["-a", "list", "chain", table, "kube-proxy", chain];
            let text = crate::sys::tool::run_in(ns, "nft", &args).ok()?;
            let line = text.lines().find(|l| l.contains("dnat to"))?;
            format!(
                "{node}: nft table {table} kube-proxy chain {chain}: {}",
                line.trim()
            )
        }
    };
    Some(found)
}

fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The client's host's conntrack entry for the probe, by its original source, in its family.
fn conntrack_entry(ns: &str, src: IpAddr, sport: u16) -> Option<String> {
    let family = match src {
        IpAddr::V4(_) => "ipv4",
        IpAddr::V6(_) => "ipv6",
    };
    let (src, sport) = (src.to_string(), sport.to_string());
    let args = [
        "-L",
        "-f",
        family,
        "-p",
        "udp",
        "--orig-src",
        &src,
        "--sport",
        &sport,
    ];
    let text = crate::sys::tool::run_in(ns, "conntrack", &args).ok()?;
    text.lines().next().map(squeeze)
}

/// The walk for a person: each sighting, the rule and the conntrack entry.
pub fn text(w: &ServiceWalk) -> String {
    let mut out = format!(
        "trace {} → {} {} (UDP): {}\n",
        w.from,
        w.service,
        w.vip,
        match (&w.endpoint, w.replied) {
            (Some(e), true) =>
                format!("answered by {e}, the reply un-NATed to come from {}", w.vip),
            (Some(e), false) => format!("{e} heard it, but no reply came back from {}", w.vip),
            (None, _) => "no endpoint heard it".to_string(),
        }
    );
    for s in &w.sightings {
        let dir = if s.outgoing { "out" } else { "in " };
        let what = if s.reply { "reply" } else { "probe" };
        let outer = s
            .outer
            .map_or(String::new(), |(a, b)| format!(" [outer {a} > {b}]"));
        let _ = std::fmt::Write::write_fmt(
            &mut out,
            format_args!("  {:<24} {dir} {what} {} > {}{outer}", s.at, s.src, s.dst),
        );
        if let Some(r) = &s.rewritten {
            out.push_str(&format!("   ({r})"));
        }
        out.push('\n');
    }
    if let Some(rule) = &w.rule {
        out.push_str(&format!("rule: {rule}\n"));
    }
    if let Some(ct) = &w.conntrack {
        out.push_str(&format!("conntrack: {ct}\n"));
    }
    out
}
