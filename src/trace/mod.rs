//! `cnilab trace`: one tagged probe from pod to pod, captured on every interface of every node
//! with the kernel's timestamps, told as a walk with the rule that moved it at each step.

pub mod address;
pub mod capture;
pub mod decide;
pub mod ipsec;
pub mod packet;
pub mod pcapng;
pub mod present;
pub mod probe;
pub mod service;
pub mod snapshot;
pub mod walk;

use crate::family::Family;
use crate::lab::file::LabFile;
use crate::lab::{Lab, LabError, LabPod};
use crate::plan::Mode;
use crate::sys::netns;
use crate::topology::{Topology, TopologyError};
use serde::Serialize;
use snapshot::Snapshot;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
pub use walk::{Leg, Step, Stop};

/// How long the probe's reply may take; a cold walk resolves several neighbours first.
const WAIT: Duration = Duration::from_secs(3);
/// Frames still on their way through the lab after the reply arrived.
const SETTLE: Duration = Duration::from_millis(150);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per step, in capture order.
    Text,
    /// A sequence diagram, one lifeline per node, as SVG.
    Svg,
    /// A Mermaid sequence diagram.
    Mermaid,
}

#[derive(Debug, Clone)]
pub struct TraceOptions {
    pub from: String,
    pub to: String,
    /// The family to walk (`--family`); `None` lets FROM's or TO's address, else the lab's
    /// first family (IPv4 in a dual-stack lab), decide.
    pub family: Option<Family>,
    pub cold: bool,
    pub pcap_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error("{path}: {source}")]
    Lab { path: String, source: LabError },
    #[error("no pod is `{0}`: name a pod of the lab or its address")]
    UnknownPod(String),
    #[error(transparent)]
    Family(#[from] address::FamilyError),
    #[error("{service} has no {family} ClusterIP in this lab: drop --family, or name one of its ClusterIPs")]
    ServiceFamily { service: String, family: Family },
    #[error("FROM and TO are the same pod `{0}`")]
    SamePod(String),
    #[error(transparent)]
    Capture(#[from] capture::CaptureError),
    #[error(transparent)]
    Probe(#[from] probe::ProbeError),
    #[error("cannot write {path}: {source}")]
    Pcap {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Svg(#[from] present::SvgError),
    #[error("interrupted")]
    Interrupted,
    #[error("cannot trace through the Service: {0}")]
    Service(String),
}

impl TraceError {
    pub fn exit_code(&self) -> i32 {
        match self {
            TraceError::Interrupted => 130,
            _ => 2,
        }
    }
}

/// The walk of one probe: what `--json` prints and every format draws.
#[derive(Debug, Clone, Serialize)]
pub struct Walk {
    pub lab: String,
    pub mode: Mode,
    pub from: String,
    pub to: String,
    pub to_ip: IpAddr,
    pub cold: bool,
    pub replied: bool,
    pub steps: Vec<Step>,
    /// Set when no reply came back.
    pub stopped: Option<Stop>,
    /// What the walk shows that the mode says should not happen.
    pub findings: Vec<String>,
    pub pcap: Option<PathBuf>,
}

impl Walk {
    pub fn completed(&self) -> bool {
        self.replied
    }
}

/// The file's lab.
fn lab_of(file: &LabFile) -> Result<&Lab, TraceError> {
    file.lab().map_err(|source| TraceError::Lab {
        path: file.path.display().to_string(),
        source,
    })
}

/// What a trace needs before anything runs: the lab, the two pods `opts` names, and the
/// family to walk, which the lab must carry.
pub struct Endpoints<'a> {
    pub lab: &'a Lab,
    pub from: &'a LabPod,
    pub to: &'a LabPod,
    pub family: Family,
    /// TO's address in `family`.
    pub to_ip: IpAddr,
}

pub fn endpoints<'a>(file: &'a LabFile, opts: &TraceOptions) -> Result<Endpoints<'a>, TraceError> {
    let lab = lab_of(file)?;
    let family = address::pick(lab, opts.family, (&opts.from, &opts.to))?;
    let from = find_pod(lab, &opts.from)?;
    let to = find_pod(lab, &opts.to)?;
    if from.node == to.node {
        return Err(TraceError::SamePod(from.node.clone()));
    }
    let to_ip =
        address::pod_ip(to, family).ok_or_else(|| TraceError::UnknownPod(opts.to.clone()))?;
    Ok(Endpoints {
        lab,
        from,
        to,
        family,
        to_ip,
    })
}

/// Whether `to` names one of the lab's Services (`IP:PORT`), not a pod.
pub fn names_service(file: &LabFile, to: &str) -> bool {
    file.lab()
        .ok()
        .and_then(|lab| service::find(lab, to))
        .is_some()
}

/// One probe from a pod to a Service: see [`service`].
pub fn trace_service(
    file: &LabFile,
    opts: &TraceOptions,
) -> Result<service::ServiceWalk, TraceError> {
    let lab = lab_of(file)?;
    let (services, svc, named) =
        service::find(lab, &opts.to).ok_or_else(|| TraceError::UnknownPod(opts.to.clone()))?;
    // `--family` picks the Service's ClusterIP in that family, whichever one was named.
    let family = opts.family.unwrap_or(Family::of(named.ip()));
    let ip = svc
        .cluster_ip(family)
        .ok_or_else(|| TraceError::ServiceFamily {
            service: svc.name.clone(),
            family,
        })?;
    let from = find_pod(lab, &opts.from)?;
    let vip = std::net::SocketAddr::new(ip, svc.port);
    service::trace(lab, &deployed_nodes(&file.topo), from, (services, svc), vip)
}

pub fn trace(file: &LabFile, opts: &TraceOptions) -> Result<Walk, TraceError> {
    let topo = &file.topo;
    let ends = endpoints(file, opts)?;
    let (lab, from, to, family) = (ends.lab, ends.from, ends.to, ends.family);
    let nodes = deployed_nodes(topo);
    if opts.cold {
        for (_, ns) in &nodes {
            snapshot::flush_learned(ns, &snapshot::take(ns, family));
        }
    }
    let (points, frames, probe, replied) = capture_probe(&nodes, from, ends.to_ip)?;
    if crate::interrupt::requested() {
        return Err(TraceError::Interrupted);
    }
    let snaps = snapshots((file, lab), &nodes, family);
    let vxlan_port = lab.vxlan().map(|v| v.port);
    let picked = walk::select(&frames, (&probe, family), vxlan_port, &points, &snaps);
    let steps = walk::steps(&picked, &frames, &points, &snaps);
    let stopped = if replied {
        None
    } else {
        walk::stop(&steps, &snaps, |node, iface| peer(topo, node, iface))
    };
    let pcap = match &opts.pcap_dir {
        Some(dir) => Some(pcapng::write(dir, &points, &frames, &steps)?),
        None => None,
    };
    Ok(Walk {
        findings: findings(lab, family, &steps, &snaps),
        lab: lab.name.clone(),
        mode: lab.mode(),
        from: from.node.clone(),
        to: to.node.clone(),
        to_ip: ends.to_ip,
        cold: opts.cold,
        replied,
        steps,
        stopped,
        pcap,
    })
}

/// Every node's state after the walk, with what the lab adds for its hosts: their WireGuard
/// device, their xfrm, their IPv6 VTEP.
fn snapshots(
    (file, lab): (&LabFile, &Lab),
    nodes: &[(String, String)],
    family: Family,
) -> HashMap<String, Snapshot> {
    let mut snaps: HashMap<String, Snapshot> = nodes
        .iter()
        .map(|(n, ns)| (n.clone(), snapshot::take(ns, family)))
        .collect();
    let dir = file
        .abs_path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    for host in &lab.hosts {
        if let Some(snap) = snaps.get_mut(&host.node) {
            snap.wireguard = snapshot::wireguard(lab, &dir, host);
            snap.ipsec = snapshot::ipsec(lab, host);
            snap.tunnel6 = address::tunnel6_dev(lab, host);
        }
    }
    snaps
}

/// Listens on every interface of `nodes`, sends the probe and waits for its reply.
fn capture_probe(
    nodes: &[(String, String)],
    from: &LabPod,
    to: IpAddr,
) -> Result<(Vec<capture::Point>, Vec<capture::Frame>, probe::Probe, bool), TraceError> {
    let points = capture::points(nodes)?;
    let fds = crate::sys::packet_socket::open_all(&points, capture::open)?;
    let running = capture::start(&points, fds)?;
    let probe = probe::Probe::new();
    let reply = probe::send_and_wait(&probe, &from.node, &from.namespace, to, WAIT);
    std::thread::sleep(SETTLE);
    let frames = running.stop()?;
    let replied = reply?.is_some();
    Ok((points, frames, probe, replied))
}

fn find_pod<'a>(lab: &'a Lab, what: &str) -> Result<&'a LabPod, TraceError> {
    lab.pods
        .iter()
        .find(|p| address::names_pod(p, what))
        .ok_or_else(|| TraceError::UnknownPod(what.to_string()))
}

/// Every node with a namespace of its own. Whether the lab is up is
/// [`crate::lifecycle::ready_to_probe`]'s to say; containerlab keeps a bridge node in the root
/// namespace, where trace never listens.
fn deployed_nodes(topo: &Topology) -> Vec<(String, String)> {
    topo.nodes()
        .map(|(name, _)| (name.to_string(), topo.namespace(name)))
        .filter(|(_, ns)| netns::exists(ns))
        .collect()
}

/// The node at the other end of `node:iface`'s link.
fn peer(topo: &Topology, node: &str, iface: &str) -> Option<String> {
    let me = format!("{node}:{iface}");
    topo.topology
        .links
        .iter()
        .find_map(|l| match l.endpoints.as_slice() {
            [a, b] if *a == me => Some(b.clone()),
            [a, b] if *b == me => Some(a.clone()),
            _ => None,
        })
}

/// In an overlay lab, a pod packet on a host's underlay without its tunnel header went the
/// wrong way: say which route sent it there, and which route the host lacks.
fn findings(
    lab: &Lab,
    family: Family,
    steps: &[Step],
    snaps: &HashMap<String, Snapshot>,
) -> Vec<String> {
    if !lab.encap_in(family).is_tunnel() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for s in steps
        .iter()
        .filter(|s| s.direction == "out" && s.encap.is_none() && !s.leg.resolves())
    {
        let Some(host) = lab
            .hosts
            .iter()
            .find(|h| h.node == s.node && h.underlay_if == s.iface)
        else {
            continue;
        };
        let Some((_, dst)) = s.inner else { continue };
        let Some((owner, prefix)) = lab.hosts.iter().find_map(|h| {
            let prefix = address::pod_prefix(h, family)?;
            prefix.contains(&dst).then_some((h, prefix))
        }) else {
            continue;
        };
        let used = snaps
            .get(&host.node)
            .and_then(|sn| sn.route_for(dst))
            .map_or("no route".to_string(), |r| format!("route `{}`", r.text));
        let msg = format!(
            "the {} left {} on {} in plain, not encapsulated, by {used}: {} has no route for {}'s pod subnet {} through its tunnel",
            match s.leg { Leg::Reply => "reply", _ => "request" },
            host.node, s.iface, host.node, owner.node, prefix
        );
        if !out.contains(&msg) {
            out.push(msg);
        }
    }
    out
}

pub fn present(walk: &Walk, format: Format) -> Result<String, TraceError> {
    Ok(match format {
        Format::Text => present::text(walk),
        Format::Mermaid => present::mermaid(walk),
        Format::Svg => present::svg(walk)?,
    })
}
