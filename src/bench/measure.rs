//! Measuring one deployed lab: three paths (host to host, pod to pod on one host, pod to pod
//! across hosts), each figure R times with the runs of the paths interleaved so that a noisy
//! moment on the machine does not land on one path only.

use super::iperf::{ClientRun, Length, Server};
use super::overhead::{self, Flow, Overhead, SealedBy};
use super::report::{Figures, ModeReport, PathKind, PathReport, Ratios};
use super::selection::Combo;
use super::stats::Stat;
use super::{check_interrupt, offload, rtt, BenchError, BenchOptions};
use crate::family::Family;
use crate::lab::{Lab, LabHost, LabPod};
use crate::plan::encryption::Encryption;
use crate::verify::capture::CapturePoint;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

/// What the overhead capture sends: enough segments to count, few enough to keep in memory.
const CAPTURE_BYTES: u64 = 2_000_000;

/// One direction of traffic between two of the lab's namespaces, in one family.
#[derive(Debug, Clone)]
struct Path {
    kind: PathKind,
    family: Family,
    from: End,
    to: End,
}

/// A node at one end of a path, by its address in the path's family.
#[derive(Debug, Clone)]
struct End {
    node: String,
    ns: String,
    ip: IpAddr,
}

impl Path {
    /// How the progress lines name it: by kind, and by family too in a lab with IPv6, so an
    /// IPv4 lab's lines read as they always have.
    fn label(&self, tagged: bool) -> String {
        match tagged {
            true => format!("{} {}", self.kind.as_str(), self.family.as_str()),
            false => self.kind.as_str().to_string(),
        }
    }
}

/// Every run of every figure of one path.
#[derive(Default)]
struct Runs {
    one: Vec<f64>,
    many: Vec<f64>,
    icmp: Vec<f64>,
    rr: Vec<f64>,
    cpu: Vec<f64>,
}

pub fn lab(lab: &Lab, opts: &BenchOptions) -> Result<ModeReport, BenchError> {
    let combo = combo_of(lab);
    refuse_sealed_ipv6(lab)?;
    let pods = pick_pods(lab)?;
    let host1 = host_of(lab, &lab.pods[pods.pod])?;
    let host2 = host_of(lab, &lab.pods[pods.remote])?;
    if pods.neighbour.is_none() {
        eprintln!(
            "cnilab bench: {}: one pod per host, so no pod-to-pod baseline on one host",
            lab.name
        );
    }
    if !opts.offload {
        for ns in namespaces(lab) {
            offload::turn_off(ns)?;
        }
    }
    let offloads = offloads(&lab.pods[pods.pod], host1)?;
    // Each family of the lab in turn, IPv4 first: the same three paths by its addresses.
    let paths: Vec<Path> = lab
        .families()
        .into_iter()
        .flat_map(|family| paths(lab, &pods, (host1, host2), family))
        .collect();
    let _servers = start_servers(&paths)?;
    let tagged = lab.ip_family.has_v6();
    let figures = measure_rounds(combo, &paths, tagged, &Sealers::of(lab), opts)?;
    let mut reports = Vec::new();
    for (path, measured) in paths.iter().zip(&figures) {
        let overhead = overhead_of(lab, path, &lab.pods[pods.pod], host1)?;
        reports.push(PathReport {
            path: path.kind,
            family: tagged.then_some(path.family),
            from: path.from.node.clone(),
            to: path.to.node.clone(),
            ratio_to_host_to_host: Ratios::of(measured, baseline(&paths, &figures, path.family)),
            figures: measured.clone(),
            overhead,
        });
    }
    Ok(ModeReport {
        mode: combo.mode,
        flavor: combo.flavor,
        encryption: combo.encryption,
        lab: lab.name.clone(),
        pod_mtu: lab.pods[pods.pod].mtu,
        offloads,
        paths: reports,
    })
}

/// The mode, flavor and sealing the lab says it has.
fn combo_of(lab: &Lab) -> Combo {
    Combo {
        mode: lab.mode(),
        flavor: lab.flavor,
        encryption: match &lab.encryption {
            Some(_) if lab.ipsec() => Encryption::Ipsec,
            Some(_) => Encryption::Wireguard,
            None => Encryption::None,
        },
    }
}

/// One iperf3 server in each namespace a path ends in: it listens on every address there, in
/// both families.
fn start_servers(paths: &[Path]) -> Result<Vec<Server>, BenchError> {
    let ends: BTreeSet<&str> = paths.iter().map(|p| p.to.ns.as_str()).collect();
    ends.into_iter().map(Server::start).collect()
}

/// What `path` costs on host1's underlay, captured while a short transfer runs; `None` for the
/// same-host path, which crosses no underlay. `pod` is the sending pod, on host1.
fn overhead_of(
    lab: &Lab,
    path: &Path,
    pod: &LabPod,
    host1: &LabHost,
) -> Result<Option<Overhead>, BenchError> {
    let point = CapturePoint {
        id: crate::lab::point::PointId::new(&host1.node, &host1.underlay_if),
        namespace: host1.namespace.clone(),
        host: host1.index,
    };
    let vxlan_ports: Vec<u16> = lab.vxlan().iter().map(|v| v.port).collect();
    let overhead = match (path.kind, &lab.encryption) {
        (PathKind::SameHost, _) => return Ok(None),
        (PathKind::PodToPod, Some(wg)) => {
            let by = match lab.ipsec() {
                true => SealedBy::Esp {
                    from: host1.v4_underlay(),
                },
                false => SealedBy::Wireguard { port: wg.port },
            };
            capture_sealed_overhead(path, &pod_point(pod, host1), &point, by)?
        }
        _ => capture_overhead(path, &point, &vxlan_ports)?,
    };
    Ok(Some(overhead))
}

/// Each family's figures are taken against its own host-to-host path: an IPv6 pod path
/// against the IPv6 underlay, so a ratio never mixes families.
fn baseline<'a>(paths: &[Path], figures: &'a [Figures], family: Family) -> &'a Figures {
    paths
        .iter()
        .position(|p| p.kind == PathKind::HostToHost && p.family == family)
        .map_or(&figures[0], |i| &figures[i])
}

/// A sealed lab carries IPv4 only (gen refuses `--encryption` with `--ip-family dual`), and
/// its IPv6 traffic would be measured as sealed when nothing sealed it.
fn refuse_sealed_ipv6(lab: &Lab) -> Result<(), BenchError> {
    match lab.encryption.is_some() && lab.ip_family.has_v6() {
        true => Err(BenchError::Unbenchable {
            lab: lab.name.clone(),
            why: format!(
                "it seals pod traffic and says `cnilab.ip-family: {}`; sealing carries IPv4 only so far",
                lab.ip_family
            ),
        }),
        false => Ok(()),
    }
}

/// `--repeat` rounds, each measuring every path once; the figures in the order of `paths`.
fn measure_rounds(
    combo: Combo,
    paths: &[Path],
    tagged: bool,
    sealers: &Sealers,
    opts: &BenchOptions,
) -> Result<Vec<Figures>, BenchError> {
    let mut runs: Vec<Runs> = paths.iter().map(|_| Runs::default()).collect();
    for round in 1..=opts.repeat {
        for (path, runs) in paths.iter().zip(runs.iter_mut()) {
            let kind = path.label(tagged);
            eprintln!(
                "cnilab bench: {combo}: {kind} round {round}/{}",
                opts.repeat
            );
            measure_once(path, sealers, opts, runs)?;
        }
    }
    runs.into_iter().map(figures).collect()
}

/// The pod's interface and every interface of its host: the VTEP or tunnel among them, where
/// checksum offload bugs such as flannel #1279 live.
fn offloads(
    pod: &LabPod,
    host: &LabHost,
) -> Result<BTreeMap<String, offload::Features>, BenchError> {
    let mut all = BTreeMap::new();
    all.insert(
        format!("{}:{}", pod.node, pod.pod_if),
        offload::read(&pod.namespace, &pod.pod_if)?,
    );
    for iface in offload::interfaces(&host.namespace)? {
        let features = offload::read(&host.namespace, &iface)?;
        all.insert(format!("{}:{iface}", host.node), features);
    }
    Ok(all)
}

/// The lab's wireguard-go processes, whose CPU seals the pod traffic of a lab on a kernel
/// without WireGuard. The kernel's WireGuard seals in kernel workers that no process of the
/// lab owns, so there (and in a clear lab) this is empty.
struct Sealers(Vec<i32>);

impl Sealers {
    fn of(lab: &Lab) -> Sealers {
        if lab.encryption.is_none() {
            return Sealers(Vec::new());
        }
        let hosts: Vec<String> = lab.hosts.iter().map(|h| h.namespace.clone()).collect();
        let pids = crate::sys::netns::pids_in(&hosts)
            .into_iter()
            .map(|(pid, _)| pid.as_raw())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "wireguard-go")
            })
            .collect();
        Sealers(pids)
    }

    fn cpu_seconds(&self) -> f64 {
        self.0
            .iter()
            .filter_map(|&pid| crate::sys::pid::cpu_seconds(pid))
            .sum()
    }
}

fn measure_once(
    path: &Path,
    sealers: &Sealers,
    opts: &BenchOptions,
    runs: &mut Runs,
) -> Result<(), BenchError> {
    let client = |streams| ClientRun {
        namespace: path.from.ns.clone(),
        server: path.to.ip,
        streams,
        length: Length::Seconds(opts.duration_s),
    };
    let sealing_before = sealers.cpu_seconds();
    let mut one = client(1).run()?;
    // What sealing the stream took is part of what moving it cost.
    one.cpu_seconds += sealers.cpu_seconds() - sealing_before;
    runs.one.push(one.bits_per_second / 1e9);
    runs.cpu.extend(one.cpu_seconds_per_gbit());
    runs.many
        .push(client(opts.streams).run()?.bits_per_second / 1e9);
    runs.icmp.push(rtt::icmp_us(&path.from.ns, path.to.ip)?);
    let budget = Duration::from_secs(opts.duration_s.into());
    runs.rr.push(rtt::tcp_rr_us(
        &path.from.ns,
        &path.to.ns,
        path.to.ip,
        budget,
    )?);
    check_interrupt()
}

fn figures(runs: Runs) -> Result<Figures, BenchError> {
    let stat = |v: Vec<f64>, what: &str| {
        Stat::of(v).ok_or_else(|| BenchError::Tool {
            what: what.to_string(),
            detail: "no run produced a figure".into(),
        })
    };
    Ok(Figures {
        throughput_1_stream_gbps: stat(runs.one, "1-stream throughput")?,
        throughput_n_streams_gbps: stat(runs.many, "multi-stream throughput")?,
        icmp_rtt_us: stat(runs.icmp, "ICMP round trip")?,
        tcp_rr_us: stat(runs.rr, "TCP request/response")?,
        cpu_s_per_gbit: stat(runs.cpu, "CPU per gigabit (iperf3 moved no data)")?,
    })
}

fn capture_overhead(
    path: &Path,
    point: &CapturePoint,
    vxlan_ports: &[u16],
) -> Result<Overhead, BenchError> {
    let flow = Flow {
        src: path.from.ip,
        dst: path.to.ip,
    };
    let run = ClientRun {
        namespace: path.from.ns.clone(),
        server: path.to.ip,
        streams: 1,
        length: Length::Bytes(CAPTURE_BYTES),
    };
    overhead::capture_during(point, flow, vxlan_ports, || run.run())
}

/// Where the sending pod's packets are in the clear: its own interface.
fn pod_point(pod: &LabPod, host: &LabHost) -> CapturePoint {
    CapturePoint {
        id: crate::lab::point::PointId::new(&pod.node, &pod.pod_if),
        namespace: pod.namespace.clone(),
        host: host.index,
    }
}

fn capture_sealed_overhead(
    path: &Path,
    pod: &CapturePoint,
    underlay: &CapturePoint,
    by: SealedBy,
) -> Result<Overhead, BenchError> {
    let flow = Flow {
        src: path.from.ip,
        dst: path.to.ip,
    };
    let run = ClientRun {
        namespace: path.from.ns.clone(),
        server: path.to.ip,
        streams: 1,
        length: Length::Bytes(CAPTURE_BYTES),
    };
    overhead::capture_sealed_during(pod, underlay, flow, by, || run.run())
}

/// The pods bench measures between, by their index in the lab: the first pod, another on its
/// host if there is one, and one on another host.
struct Pods {
    pod: usize,
    neighbour: Option<usize>,
    remote: usize,
}

fn pick_pods(lab: &Lab) -> Result<Pods, BenchError> {
    let pod = 0;
    let host = lab.pods[pod].host;
    let neighbour = (1..lab.pods.len()).find(|&i| lab.pods[i].host == host);
    let remote = (0..lab.pods.len()).find(|&i| lab.pods[i].host != host);
    let remote = remote.ok_or_else(|| BenchError::Unbenchable {
        lab: lab.name.clone(),
        why: "all its pods are on one host; bench needs two pods on two hosts".into(),
    })?;
    Ok(Pods {
        pod,
        neighbour,
        remote,
    })
}

fn host_of<'a>(lab: &'a Lab, pod: &LabPod) -> Result<&'a LabHost, BenchError> {
    lab.host(pod.host).ok_or_else(|| BenchError::Unbenchable {
        lab: lab.name.clone(),
        why: format!(
            "pod `{}` belongs to host {}, which no node is",
            pod.node, pod.host
        ),
    })
}

fn namespaces(lab: &Lab) -> impl Iterator<Item = &String> {
    let hosts = lab.hosts.iter().map(|h| &h.namespace);
    let pods = lab.pods.iter().map(|p| &p.namespace);
    hosts
        .chain(pods)
        .chain(lab.routers.iter().map(|r| &r.namespace))
}

/// The paths of one family, its baseline first: ratios are taken against it. Same-host only
/// where two pods share a host.
fn paths(lab: &Lab, pods: &Pods, hosts: (&LabHost, &LabHost), family: Family) -> Vec<Path> {
    let hop = |kind, from, to| Path {
        kind,
        family,
        from,
        to,
    };
    let pod = |i| pod_end(lab, i, family);
    let mut paths = vec![hop(
        PathKind::HostToHost,
        host_end(hosts.0, family),
        host_end(hosts.1, family),
    )];
    if let Some(neighbour) = pods.neighbour {
        paths.push(hop(PathKind::SameHost, pod(pods.pod), pod(neighbour)));
    }
    paths.push(hop(PathKind::PodToPod, pod(pods.pod), pod(pods.remote)));
    paths
}

/// Pod `index` of the lab, by its address in `family`: the one place bench reads a pod's.
fn pod_end(lab: &Lab, index: usize, family: Family) -> End {
    let pod = &lab.pods[index];
    End {
        node: pod.node.clone(),
        ns: pod.namespace.clone(),
        ip: lab.pod_ip(index, family),
    }
}

/// A host by its underlay address in `family`: the one place bench reads a host's.
fn host_end(host: &LabHost, family: Family) -> End {
    End {
        node: host.node.clone(),
        ns: host.namespace.clone(),
        ip: host.underlay(family),
    }
}
