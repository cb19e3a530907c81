//! Measuring one deployed lab: three paths (host to host, pod to pod on one host, pod to pod
//! across hosts), each figure R times with the runs of the paths interleaved so that a noisy
//! moment on the machine does not land on one path only.

use super::iperf::{ClientRun, Length, Server};
use super::overhead::{self, Flow, Overhead, SealedBy};
use super::report::{Figures, ModeReport, PathKind, PathReport, Ratios};
use super::selection::Combo;
use super::stats::Stat;
use super::{check_interrupt, offload, rtt, BenchError, BenchOptions};
use crate::lab::{Lab, LabHost, LabPod};
use crate::plan::encryption::Encryption;
use crate::verify::capture::CapturePoint;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// What the overhead capture sends: enough segments to count, few enough to keep in memory.
const CAPTURE_BYTES: u64 = 2_000_000;

/// One direction of traffic between two of the lab's namespaces.
#[derive(Debug, Clone)]
struct Path {
    kind: PathKind,
    from_node: String,
    from_ns: String,
    from_ip: Ipv4Addr,
    to_node: String,
    to_ns: String,
    to_ip: Ipv4Addr,
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
    let combo = Combo {
        mode: lab.mode(),
        flavor: lab.flavor,
        encryption: match &lab.encryption {
            Some(_) if lab.ipsec() => Encryption::Ipsec,
            Some(_) => Encryption::Wireguard,
            None => Encryption::None,
        },
    };
    let pods = pick_pods(lab)?;
    let host1 = host_of(lab, pods.pod)?;
    let host2 = host_of(lab, pods.remote)?;
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
    let offloads = offloads(pods.pod, host1)?;
    let paths = paths(&pods, host1, host2);
    // Servers listen on every address of their namespace, for every path that ends there.
    let _servers = paths
        .iter()
        .map(|p| Server::start(&p.to_ns))
        .collect::<Result<Vec<_>, _>>()?;
    let sealers = Sealers::of(lab);
    let figures = measure_rounds(combo, &paths, &sealers, opts)?;
    let point = CapturePoint {
        id: crate::lab::point::PointId::new(&host1.node, &host1.underlay_if),
        namespace: host1.namespace.clone(),
        host: host1.index,
    };
    let vxlan_ports: Vec<u16> = lab.encap.vxlan().iter().map(|v| v.port).collect();
    let baseline = figures[0].clone();
    let mut reports = Vec::new();
    for (path, figures) in paths.iter().zip(figures) {
        let overhead = match (path.kind, &lab.encryption) {
            (PathKind::SameHost, _) => None,
            (PathKind::PodToPod, Some(wg)) => {
                let pod = pod_point(pods.pod, host1);
                let by = match lab.ipsec() {
                    true => SealedBy::Esp {
                        from: host1.v4_underlay(),
                    },
                    false => SealedBy::Wireguard { port: wg.port },
                };
                Some(capture_sealed_overhead(path, &pod, &point, by)?)
            }
            _ => Some(capture_overhead(path, &point, &vxlan_ports)?),
        };
        reports.push(PathReport {
            path: path.kind,
            from: path.from_node.clone(),
            to: path.to_node.clone(),
            ratio_to_host_to_host: Ratios::of(&figures, &baseline),
            figures,
            overhead,
        });
    }
    Ok(ModeReport {
        mode: combo.mode,
        flavor: combo.flavor,
        encryption: combo.encryption,
        lab: lab.name.clone(),
        pod_mtu: pods.pod.mtu,
        offloads,
        paths: reports,
    })
}

/// `--repeat` rounds, each measuring every path once; the figures in the order of `paths`.
fn measure_rounds(
    combo: Combo,
    paths: &[Path],
    sealers: &Sealers,
    opts: &BenchOptions,
) -> Result<Vec<Figures>, BenchError> {
    let mut runs: Vec<Runs> = paths.iter().map(|_| Runs::default()).collect();
    for round in 1..=opts.repeat {
        for (path, runs) in paths.iter().zip(runs.iter_mut()) {
            let kind = path.kind.as_str();
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
        namespace: path.from_ns.clone(),
        server: path.to_ip,
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
    runs.icmp.push(rtt::icmp_us(&path.from_ns, path.to_ip)?);
    let budget = Duration::from_secs(opts.duration_s.into());
    runs.rr.push(rtt::tcp_rr_us(
        &path.from_ns,
        &path.to_ns,
        path.to_ip,
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
        src: path.from_ip,
        dst: path.to_ip,
    };
    let run = ClientRun {
        namespace: path.from_ns.clone(),
        server: path.to_ip,
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
        src: path.from_ip,
        dst: path.to_ip,
    };
    let run = ClientRun {
        namespace: path.from_ns.clone(),
        server: path.to_ip,
        streams: 1,
        length: Length::Bytes(CAPTURE_BYTES),
    };
    overhead::capture_sealed_during(pod, underlay, flow, by, || run.run())
}

/// The pods bench measures between: the first pod, another on its host if there is one, and
/// one on another host.
struct Pods<'a> {
    pod: &'a LabPod,
    neighbour: Option<&'a LabPod>,
    remote: &'a LabPod,
}

fn pick_pods(lab: &Lab) -> Result<Pods<'_>, BenchError> {
    let pod = &lab.pods[0];
    let neighbour = lab.pods[1..].iter().find(|p| p.host == pod.host);
    let remote = lab.pods.iter().find(|p| p.host != pod.host);
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

/// The baseline first: ratios are taken against it. Same-host only where two pods share a host.
fn paths(pods: &Pods, host1: &LabHost, host2: &LabHost) -> Vec<Path> {
    let host = |h: &LabHost| (h.node.clone(), h.namespace.clone(), h.v4_underlay());
    let pod = |p: &LabPod| (p.node.clone(), p.namespace.clone(), p.v4());
    let hop = |kind, from: (String, String, Ipv4Addr), to: (String, String, Ipv4Addr)| Path {
        kind,
        from_node: from.0,
        from_ns: from.1,
        from_ip: from.2,
        to_node: to.0,
        to_ns: to.1,
        to_ip: to.2,
    };
    let mut paths = vec![hop(PathKind::HostToHost, host(host1), host(host2))];
    if let Some(neighbour) = pods.neighbour {
        paths.push(hop(PathKind::SameHost, pod(pods.pod), pod(neighbour)));
    }
    paths.push(hop(PathKind::PodToPod, pod(pods.pod), pod(pods.remote)));
    paths
}
