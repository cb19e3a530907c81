//! `cnilab verify`: probe every ordered pod pair, capture the underlay, dissect, judge.
//!
//! Everything checked comes from the lab file (through [`crate::lab::Lab`]). The edges are
//! [`probe`] and [`capture`], which touch namespaces and sockets; [`dissect`], [`judge`] and
//! [`report`] are pure. This module only wires them together.

pub mod capture;
pub mod dissect;
pub mod judge;
pub mod pcap;
pub mod probe;
pub mod report;

use crate::lab::{Lab, LabError};
use crate::netns;
use crate::topology::{Topology, TopologyError};
use capture::{CaptureError, CapturePoint, Frame};
use judge::{Outcome, PairPlan, ProbeResult, Seen};
use probe::{ProbeError, ProbeSpec};
pub use report::Report;
use report::{CaptureSummary, PairRow};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub pcap_dir: Option<PathBuf>,
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("verify needs root: it enters the lab's network namespaces and opens raw sockets")]
    NotRoot,
    #[error("lab `{lab}` is not deployed: {} namespace(s) missing under /run/netns, first {}; run `cnilab deploy` first", missing.len(), missing[0])]
    NotDeployed { lab: String, missing: Vec<String> },
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("interrupted: verify stopped before every pair was probed")]
    Interrupted,
    #[error("cannot write pcap {path}: {source}")]
    Pcap {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl VerifyError {
    /// Every error here is about usage or the environment; a lab that fails is a report, not
    /// an error.
    pub fn exit_code(&self) -> i32 {
        match self {
            VerifyError::Interrupted => 130,
            _ => 2,
        }
    }
}

/// Frames of a probe that may still be on their way when the last reply arrives are given
/// this long to reach the capture sockets.
const GRACE: Duration = Duration::from_millis(30);
/// Probes in flight per pod and across the lab; see [`probe::Window`] for why.
const WINDOW_PER_POD: usize = 4;
const WINDOW_LAB: usize = 24;

pub fn verify(file: &Path, opts: &VerifyOptions) -> Result<Report, VerifyError> {
    let started = Instant::now();
    let topo = Topology::load(file)?;
    let lab = Lab::from_topology(&topo)?;
    if !nix::unistd::geteuid().is_root() {
        return Err(VerifyError::NotRoot);
    }
    let missing: Vec<String> = namespaces(&lab)
        .filter(|ns| !netns::exists(ns))
        .map(str::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(VerifyError::NotDeployed {
            lab: lab.name.clone(),
            missing,
        });
    }

    let points = capture_points(&lab);
    let opened = points
        .iter()
        .map(capture::open)
        .collect::<Result<Vec<_>, _>>()?;
    let sockets = lab
        .pods
        .iter()
        .map(|p| probe::open(&p.node, &p.namespace))
        .collect::<Result<Vec<_>, _>>()?;
    // Each pod's socket lives in the pod's namespace, so it can ask for the pod's own MTU.
    let pod_mtus: Vec<Option<u32>> = sockets
        .iter()
        .map(|s| crate::ifreq::mtu(s, crate::lab::POD_IF))
        .collect();

    let run = run_id();
    let pairs = ordered_pairs(lab.pods.len());
    // Probe 2k is pair k's small ping, 2k+1 its full-size DF probe.
    let mut per_pod: Vec<Vec<ProbeSpec>> = vec![Vec::new(); lab.pods.len()];
    for (k, &(a, b)) in pairs.iter().enumerate() {
        let dst = &lab.pods[b];
        per_pod[a].push(ProbeSpec {
            number: 2 * k as u32,
            dst: dst.ip,
            size: probe::SMALL,
        });
        per_pod[a].push(ProbeSpec {
            number: 2 * k as u32 + 1,
            dst: dst.ip,
            size: lab.pods[a].mtu,
        });
    }

    let bar = progress_bar(opts.progress, pairs.len());
    let finished: Vec<AtomicU8> = pairs.iter().map(|_| AtomicU8::new(0)).collect();
    let running = capture::start(opened);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; pairs.len() * 2];
    let window = probe::Window::new(WINDOW_PER_POD, WINDOW_LAB);
    std::thread::scope(|scope| {
        let threads: Vec<_> = per_pod
            .iter()
            .zip(&sockets)
            .map(|(specs, socket)| {
                let (bar, finished, window) = (&bar, &finished, &window);
                scope.spawn(move || {
                    let on_done = |i: usize| {
                        let pair = (specs[i].number / 2) as usize;
                        if finished[pair].fetch_add(1, Ordering::Relaxed) == 1 {
                            bar.inc(1);
                        }
                    };
                    probe::run(socket, run, specs, window, &on_done)
                })
            })
            .collect();
        for (specs, thread) in per_pod.iter().zip(threads) {
            let results = thread
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            for (spec, outcome) in specs.iter().zip(results) {
                outcomes[spec.number as usize] = Some(outcome);
            }
        }
    });
    bar.finish_and_clear();
    std::thread::sleep(GRACE);
    let captured = running.stop();
    if crate::interrupt::requested() {
        return Err(VerifyError::Interrupted);
    }

    let mut frames_per_point: Vec<Vec<Frame>> = Vec::with_capacity(points.len());
    let mut notes = Vec::new();
    for (point, captured) in points.iter().zip(captured) {
        if let Some(e) = captured.ended_early {
            notes.push(format!(
                "capture on {} stopped early ({e}): is the interface down?",
                point.name
            ));
        }
        frames_per_point.push(captured.frames);
    }

    // Dissect everything once; sort sightings to their probe, keep the rest for lab-wide checks.
    let mut ports = vec![crate::plan::VXLAN_PORT, 8472];
    if let Some(v) = lab.vxlan {
        ports.insert(0, v.port);
    }
    let mut seen: Vec<Vec<Seen>> = vec![Vec::new(); pairs.len() * 2];
    let mut unclaimed: Vec<(String, dissect::Wire)> = Vec::new();
    let mut undissectable = 0;
    for (point, frames) in points.iter().zip(&frames_per_point) {
        for frame in frames {
            let wire = match dissect::dissect(&frame.data, &ports) {
                Ok(wire) => wire,
                Err(_) => {
                    undissectable += 1;
                    continue;
                }
            };
            match wire.tag() {
                Some((tag, _)) if tag.run == run => {
                    if let Some(slot) = seen.get_mut(tag.probe as usize) {
                        slot.push(Seen {
                            point: point.name.clone(),
                            wire,
                        });
                    }
                }
                _ if matches!(wire, dissect::Wire::Plain(_) | dissect::Wire::Vxlan { .. }) => {
                    unclaimed.push((point.name.clone(), wire))
                }
                _ => {}
            }
        }
    }
    let pod_ips: BTreeSet<_> = lab.pods.iter().map(|p| p.ip).collect();
    let mut findings = judge::pod_mtus(
        lab.pods
            .iter()
            .zip(&pod_mtus)
            .map(|(p, &mtu)| (p.node.as_str(), p.mtu, mtu)),
    );
    findings.extend(judge::leaks(
        lab.mode,
        lab.vxlan,
        &pod_ips,
        unclaimed.iter().map(|(p, w)| (p.as_str(), w)),
    ));

    let mut seen = seen.into_iter();
    let mut outcomes = outcomes.into_iter();
    let mut rows = Vec::with_capacity(pairs.len());
    for &(a, b) in &pairs {
        let mut result = || ProbeResult {
            outcome: outcomes.next().flatten().expect("every probe was run"),
            seen: seen.next().unwrap_or_default(),
        };
        let (ping, mtu) = (result(), result());
        let plan = pair_plan(&lab, a, b);
        rows.push(PairRow {
            from: lab.pods[a].node.clone(),
            to: lab.pods[b].node.clone(),
            from_ip: lab.pods[a].ip,
            to_ip: lab.pods[b].ip,
            verdict: judge::judge_pair(&plan, &ping, &mtu),
        });
    }

    let mut captures: Vec<CaptureSummary> = points
        .iter()
        .zip(&frames_per_point)
        .map(|(p, f)| CaptureSummary {
            point: p.name.clone(),
            frames: f.len(),
            pcap: None,
        })
        .collect();
    if let Some(dir) = &opts.pcap_dir {
        std::fs::create_dir_all(dir).map_err(|source| VerifyError::Pcap {
            path: dir.clone(),
            source,
        })?;
        for (summary, frames) in captures.iter_mut().zip(&frames_per_point) {
            let path = dir.join(format!("{}.pcap", summary.point));
            pcap::write(&path, frames).map_err(|source| VerifyError::Pcap {
                path: path.clone(),
                source,
            })?;
            summary.pcap = Some(path);
        }
    }

    if rows.iter().any(|r| !r.verdict.passed) {
        notes.extend(neighbour_table_note());
    }
    Ok(Report {
        notes,
        lab: lab.name.clone(),
        mode: lab.mode,
        hosts: lab.hosts.len(),
        pairs: rows,
        findings,
        captures,
        undissectable,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// The kernel's ARP table is one table for every namespace, capped by the root namespace's
/// gc_thresh3 (1024 by default). A 50-host VXLAN lab needs several thousand entries; past the
/// cap, neighbours fail to resolve and pairs fail for a reason no capture shows.
fn neighbour_table_note() -> Option<String> {
    let cap: usize = std::fs::read_to_string("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // First column of the data line of /proc/net/stat/arp_cache: entries in the table, hex.
    let stat = std::fs::read_to_string("/proc/net/stat/arp_cache").ok()?;
    let entries =
        usize::from_str_radix(stat.lines().nth(1)?.split_whitespace().next()?, 16).ok()?;
    (entries * 10 >= cap * 9).then(|| {
        format!(
            "the kernel's ARP table, shared by all namespaces, holds {entries} entries of at most {cap} (net.ipv4.neigh.default.gc_thresh3); failures may come from that cap, not the lab"
        )
    })
}

fn namespaces(lab: &Lab) -> impl Iterator<Item = &str> {
    lab.hosts
        .iter()
        .map(|h| h.namespace.as_str())
        .chain(lab.pods.iter().map(|p| p.namespace.as_str()))
        .chain(lab.routers.iter().map(|r| r.namespace.as_str()))
}

/// Each host's underlay interface, then each router's capture interfaces.
pub fn capture_points(lab: &Lab) -> Vec<CapturePoint> {
    let point = |node: &str, namespace: &str, iface: &str| CapturePoint {
        name: format!("{node}-{iface}"),
        node: node.to_string(),
        namespace: namespace.to_string(),
        iface: iface.to_string(),
    };
    lab.hosts
        .iter()
        .map(|h| point(&h.node, &h.namespace, &h.underlay_if))
        .chain(lab.routers.iter().flat_map(|r| {
            r.capture
                .iter()
                .map(move |iface| point(&r.node, &r.namespace, iface))
        }))
        .collect()
}

/// Every ordered pair of pod indices, N·(N−1).
pub fn ordered_pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
        .collect()
}

fn pair_plan(lab: &Lab, a: usize, b: usize) -> PairPlan {
    let (pa, pb) = (&lab.pods[a], &lab.pods[b]);
    let host = |i| lab.host(i).expect("Lab checks every pod has its host");
    let (ha, hb) = (host(pa.host), host(pb.host));
    PairPlan {
        mode: lab.mode,
        src_pod: pa.ip,
        dst_pod: pb.ip,
        src_host: ha.underlay_ip,
        dst_host: hb.underlay_ip,
        src_point: format!("{}-{}", ha.node, ha.underlay_if),
        dst_point: format!("{}-{}", hb.node, hb.underlay_if),
        vxlan: lab.vxlan,
        mtu: pa.mtu,
    }
}

/// Tells this run's probes from any other ICMP on the wire, an earlier run's included.
fn run_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    nanos ^ std::process::id().rotate_left(16)
}

fn progress_bar(show: bool, pairs: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(pairs as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("verify {bar:30} {pos}/{len} pairs probed")
    {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::tests::lab;
    use crate::plan::Mode;

    #[test]
    fn pairs_are_every_ordered_pair() {
        assert_eq!(ordered_pairs(4).len(), 12);
        assert_eq!(ordered_pairs(50).len(), 2450);
        assert!(ordered_pairs(3).iter().all(|(a, b)| a != b));
    }

    #[test]
    fn capture_points_come_from_the_labels() {
        let names: Vec<String> = capture_points(&lab(Mode::Vxlan, 2))
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            names,
            [
                "host1-eth1",
                "host2-eth1",
                "gw1-eth1",
                "gw1-eth2",
                "gw2-eth1",
                "gw2-eth2"
            ]
        );
        let hostgw = capture_points(&lab(Mode::HostGw, 3));
        assert_eq!(hostgw.len(), 3);
        assert_eq!(hostgw[2].namespace, "clab-host-gw-lab-host3");
        assert_eq!(capture_points(&lab(Mode::Ipip, 3)).len(), 3 + 3);
    }

    #[test]
    fn pair_plans_carry_the_file_s_addresses() {
        let l = lab(Mode::Vxlan, 3);
        let p = pair_plan(&l, 2, 0);
        assert_eq!(p.src_pod.to_string(), "172.16.2.2");
        assert_eq!(p.dst_host.to_string(), "10.0.1.2");
        assert_eq!((p.src_point.as_str(), p.mtu), ("host3-eth1", 1450));
        assert_eq!(
            p.expected(false),
            "UDP/4789 VXLAN vni 1 between 10.0.3.2 and 10.0.1.2"
        );
    }
}
