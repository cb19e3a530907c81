//! `cnilab verify`: probe every ordered pod pair, capture the underlay, dissect, judge.
//!
//! Everything checked comes from the lab file (through [`crate::lab::Lab`]). The edges are
//! [`probe`] and [`capture`], which touch namespaces and sockets; [`dissect`](mod@crate::wire::dissect), [`judge`] and
//! [`report`] are pure. This module only wires them together.

pub mod bpf;
pub mod capture;
pub mod expect;
pub mod id;
pub mod judge;
pub mod learned;
pub mod listener;
pub mod observe;
pub mod pcap;
pub mod probe;
pub mod programmed;
pub mod reason;
pub mod report;
pub mod same_host;
pub mod schedule;
pub mod transport;
pub mod underlay;

use crate::lab::file::LabFile;
use crate::lab::point::PointId;
use crate::lab::{Lab, LabError};
use crate::sys::netns;
use crate::sys::packet_ring::RingSize;
use crate::sys::packet_socket;
use crate::topology::TopologyError;
use capture::{CaptureError, CapturePoint};
pub use id::{ProbeId, ProbeKind, STEADY_PINGS};
use judge::{Outcome, PairPlan, ProbeResult};
use observe::{Observed, Owner};
use probe::{ProbeError, ProbeSpec};
use reason::Reason;
pub use report::Report;
use report::{CaptureSummary, PairRow};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub pcap_dir: Option<PathBuf>,
    pub progress: bool,
    /// Probe every pair at once on whatever the lab has learnt, without the cold start.
    pub warm: bool,
    /// The share of steady-state pings a pair may lose and still pass, 0.0 to 1.0.
    pub max_loss: f64,
    /// Which pod pairs are probed.
    pub pairs: PairChoice,
    /// The probes sent beside ICMP to each pair's destination pod's listener.
    pub transports: Vec<transport::Proto>,
    /// How long to wait for a lab's routing daemons to converge (None: the default).
    pub converge_timeout: Option<std::time::Duration>,
}

/// Every ordered pod pair, or one per ordered host pair (and one per host with several pods):
/// with many pods per host, the second covers every path at a fraction of the cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairChoice {
    #[default]
    All,
    PerHostPair,
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
    #[error(transparent)]
    Learned(#[from] learned::LearnedError),
    #[error(transparent)]
    Underlay(#[from] underlay::UnderlayError),
    #[error(transparent)]
    Listener(#[from] listener::ListenerError),
    #[error("interrupted: verify stopped before every pair was probed")]
    Interrupted,
    #[error(transparent)]
    NotConverged(#[from] crate::runtime::converge::NotConverged),
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
            // The lab's routing failed: a lab that fails, not a bad invocation.
            VerifyError::NotConverged(_) => 1,
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

pub fn verify(file: &LabFile, opts: &VerifyOptions) -> Result<Report, VerifyError> {
    let started = Instant::now();
    let mut ready = Prepared::new(file, opts)?;
    let probed = ready.probe(opts)?;
    ready.judge(probed, opts, started)
}

/// Everything verify reads and opens before the first probe. The listeners stop when it is
/// dropped, at the end of verify.
struct Prepared {
    lab: Lab,
    points: Vec<CapturePoint>,
    /// Taken when the captures start.
    opened: Vec<capture::Opened>,
    sockets: Vec<std::os::fd::OwnedFd>,
    pod_mtus: Vec<Option<u32>>,
    fdbs: Vec<learned::HostFdb>,
    faults: Vec<programmed::Fault>,
    probes: ProbePlan,
    host_macs: Vec<(String, judge::Mac)>,
    _listeners: Option<listener::Listeners>,
}

/// What the probes did, what the captures saw of the phases not judged yet, and what was
/// judged as the run went.
struct Probed {
    outcomes: Outcomes,
    flows: Flows,
    observed: Vec<Observed>,
    dropped: Vec<u32>,
    notes: Vec<String>,
    judged: Judged,
}

/// What judging has made of the pairs judged so far. Without `--pcap`, each batch of pairs
/// is judged once the next one's first contacts are done, and its sightings dropped: the run
/// then holds about one batch's sightings at a time, not every pair's.
struct Judged {
    /// Per pair, its row once judged.
    rows: Vec<Option<PairRow>>,
    /// Pod traffic on the wire between nodes that no probe claimed: the leak check's input.
    unclaimed: Vec<(PointId, crate::wire::Wire)>,
    undissectable: usize,
    /// Per point, frames copied to user space.
    copied: Vec<usize>,
    /// Per point, what was harvested of a batch not judged yet.
    carry: Vec<Vec<observe::Kept>>,
}

impl Prepared {
    fn new(file: &LabFile, opts: &VerifyOptions) -> Result<Prepared, VerifyError> {
        let lab = deployed(file)?.clone();
        // Probes sent before the routing daemons agree would only measure how far they got.
        let daemons = crate::runtime::converge::daemons(&file.topo, &file.path);
        let timeout = opts
            .converge_timeout
            .unwrap_or(crate::runtime::converge::TIMEOUT);
        crate::runtime::converge::wait(&lab, &daemons, timeout)?;
        let points = capture_points(&lab);
        let (snap, ring) = match opts.pcap_dir {
            Some(_) => (bpf::WHOLE, RingSize::PROBES_WHOLE),
            None => (bpf::PROBE_SNAP, RingSize::PROBES),
        };
        let filter = bpf::program(lab.encap.vxlan(), &vxlan_ports(&lab), snap);
        let opened =
            packet_socket::open_all(&points, |p| capture::open_filtered(p, &filter, ring))?;
        let sockets = lab
            .pods
            .iter()
            .map(|p| probe::open(&p.node, &p.namespace))
            .collect::<Result<Vec<_>, _>>()?;
        // Each pod's socket lives in the pod's namespace, so it can ask for the pod's own MTU.
        let pod_mtus: Vec<Option<u32>> = sockets
            .iter()
            .zip(&lab.pods)
            .map(|(s, p)| crate::sys::ifreq::mtu(s, &p.pod_if))
            .collect();
        // Read back what the lab learnt before verify wipes it: it names faults that learning hid.
        let fdbs = learned::read_hosts(&lab)?;
        // What the labels say each host programs, read before any traffic: the named causes.
        let faults = programmed::check(&lab, &fdbs)?;
        let probes = ProbePlan::new(&lab, &pod_mtus, opts);
        let listeners = start_listeners(&lab, &opts.transports)?;
        // Each host's underlay MAC, from its capture point (hosts come first in `points`).
        let host_macs = points
            .iter()
            .zip(&opened)
            .take(lab.hosts.len())
            .filter_map(|(p, o)| Some((p.id.node.clone(), o.mac?)))
            .collect();
        Ok(Prepared {
            lab,
            points,
            opened,
            sockets,
            pod_mtus,
            fdbs,
            faults,
            probes,
            host_macs,
            _listeners: listeners,
        })
    }

    /// Runs every phase with the captures on, then stops them. Without `--pcap`, each batch
    /// but the last is judged once the next one's first contacts are done.
    fn probe(&mut self, opts: &VerifyOptions) -> Result<Probed, VerifyError> {
        let lab = &self.lab;
        // In a --warm run too: the routers' entries are verify's, not what the lab learnt.
        let taught = underlay::teach(lab)?;
        let backlog_before = underlay::backlog_drops();
        let keep_raw = opts.pcap_dir.is_some();
        let observers = observers(lab, &self.points, &self.probes, keep_raw);
        let together: Vec<usize> = self.points.iter().map(|p| p.host).collect();
        let running = capture::start(std::mem::take(&mut self.opened), observers, &together)?;
        let flush = learned::plan_flush(lab);
        let mut judged = Judged::new(self.probes.pairs.len(), self.points.len());
        let mut settle = |ended: Ended<'_>, outcomes: &mut Outcomes, flows: &Flows| {
            // The pcap files want every frame: they are judged all at once, at the end.
            if keep_raw {
                return;
            }
            let settled = ended.at + capture::SETTLE;
            std::thread::sleep(settled.saturating_duration_since(Instant::now()));
            let mut observed = running.harvest();
            judged.take_in(&mut observed, ended.next_began);
            self.judge_batch(&mut judged, ended.pairs, observed, outcomes, flows, opts);
        };
        let ran = run_phases(lab, &self.probes, &self.sockets, &flush, opts, &mut settle);
        std::thread::sleep(GRACE);
        let captured = running.stop();
        underlay::forget(lab, &taught)?;
        let (outcomes, flows) = ran?;
        if crate::interrupt::requested() {
            return Err(VerifyError::Interrupted);
        }
        let (observed, dropped, mut notes) = captures_of(&self.points, captured);
        notes.extend(backlog_note(backlog_before, underlay::backlog_drops()));
        Ok(Probed {
            outcomes,
            flows,
            observed,
            dropped,
            notes,
            judged,
        })
    }

    /// Judges `pairs` from what the captures kept of them, and drops those sightings.
    fn judge_batch(
        &self,
        judged: &mut Judged,
        pairs: &[usize],
        observed: Vec<Observed>,
        outcomes: &mut Outcomes,
        flows: &Flows,
        opts: &VerifyOptions,
    ) {
        let collected = collect(&self.lab, flows, &self.points, observed);
        judged.undissectable += collected.undissectable;
        judged.unclaimed.extend(collected.unclaimed);
        let judge = PairJudge::new(self, opts.max_loss);
        let mut seen = collected.seen;
        for &k in pairs {
            judged.rows[k] = Some(judge.row(k, outcomes, &mut seen));
        }
    }

    /// Each capture point's summary and, with `--pcap`, its files and the lab's pcapng.
    fn write_captures(
        &self,
        flows: &Flows,
        observed: &mut [Observed],
        copied: &[usize],
        dropped: &[u32],
        opts: &VerifyOptions,
    ) -> Result<(Vec<CaptureSummary>, Option<PathBuf>), VerifyError> {
        let mut captures = summaries(&self.points, copied, dropped);
        let Some(dir) = opts.pcap_dir.as_deref() else {
            return Ok((captures, None));
        };
        let lab_pcap = write_pcaps(
            &self.lab,
            &self.probes,
            flows,
            &self.points,
            observed,
            dir,
            &mut captures,
        )?;
        Ok((captures, Some(lab_pcap)))
    }

    /// Writes the captures if asked, and judges every pair not judged yet from what was seen;
    /// `started` is when verify began.
    fn judge(
        &self,
        probed: Probed,
        opts: &VerifyOptions,
        started: Instant,
    ) -> Result<Report, VerifyError> {
        let (lab, points) = (&self.lab, &self.points);
        let Probed {
            mut outcomes,
            flows,
            mut observed,
            dropped,
            mut notes,
            mut judged,
        } = probed;
        judged.take_in(&mut observed, Duration::MAX);
        let (captures, lab_pcap) =
            self.write_captures(&flows, &mut observed, &judged.copied, &dropped, opts)?;
        let pending = judged.pending();
        self.judge_batch(&mut judged, &pending, observed, &mut outcomes, &flows, opts);
        let mut findings = lab_findings(lab, &self.pod_mtus, &judged.unclaimed);
        let mut rows: Vec<PairRow> = judged.rows.into_iter().flatten().collect();
        excuse_capture_drops(&mut rows, points, &dropped);
        findings.extend(programmed::blame(lab, &mut rows, &self.faults));
        if rows.iter().any(|r| !r.verdict.passed()) {
            notes.extend(neighbour_table_note());
        }
        Ok(Report {
            notes,
            lab: lab.name.clone(),
            mode: lab.mode(),
            hosts: lab.hosts.len(),
            start: match opts.warm {
                true => report::Start::Warm,
                false => report::Start::Cold {
                    phases: self.probes.phases.len(),
                },
            },
            probed: opts.pairs,
            pairs: rows,
            findings,
            captures,
            lab_pcap,
            undissectable: judged.undissectable,
            elapsed_ms: started.elapsed().as_millis() as u64,
            peak_memory_kib: peak_memory_kib(),
        })
    }
}

impl Judged {
    fn new(pairs: usize, points: usize) -> Judged {
        Judged {
            rows: vec![None; pairs],
            unclaimed: Vec::new(),
            undissectable: 0,
            copied: vec![0; points],
            carry: (0..points).map(|_| Vec::new()).collect(),
        }
    }

    /// Counts what the captures copied in `observed`, just harvested, and makes it the batch
    /// that ended before `next_began` (see [`Judged::carry_over`]).
    fn take_in(&mut self, observed: &mut [Observed], next_began: Duration) {
        for (copied, o) in self.copied.iter_mut().zip(observed.iter()) {
            *copied += o.copied;
        }
        self.carry_over(observed, next_began);
    }

    /// Makes `observed`, just harvested, the batch that ended before `next_began`: what was
    /// carried over is put back in front, and what was captured since is carried over to the
    /// next batch.
    fn carry_over(&mut self, observed: &mut [Observed], next_began: Duration) {
        for (observed, carry) in observed.iter_mut().zip(&mut self.carry) {
            let later = observed.split_off_from(next_began);
            let earlier = std::mem::replace(carry, later);
            observed.kept.splice(0..0, earlier);
        }
    }

    /// The pairs not judged yet.
    fn pending(&self) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|&k| self.rows[k].is_none())
            .collect()
    }
}

/// Frames the kernel dropped at a full backlog queue while the probes ran: machine-wide, so
/// other traffic's drops count too, and said as such rather than blamed on the lab.
fn backlog_note(before: Option<u64>, after: Option<u64>) -> Option<String> {
    let dropped = after?.checked_sub(before?)?;
    (dropped > 0).then(|| {
        format!(
            "the kernel dropped {dropped} frame(s) at a full backlog queue while verify ran \
             (/proc/net/softnet_stat, machine-wide: other traffic counts too; \
             net.core.netdev_max_backlog); a pair that failed with a lost first contact may be \
             a victim of that, not of the lab"
        )
    })
}

/// The lab as its file states it, after checking that verify can run on it at all.
fn deployed(file: &LabFile) -> Result<&Lab, VerifyError> {
    let lab = file.lab()?;
    if !nix::unistd::geteuid().is_root() {
        return Err(VerifyError::NotRoot);
    }
    let missing: Vec<String> = lab
        .namespaces()
        .filter(|ns| !netns::exists(ns))
        .map(str::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(VerifyError::NotDeployed {
            lab: lab.name.clone(),
            missing,
        });
    }
    Ok(lab)
}

/// Every probe of the run: the ordered pod pairs, the phases they are probed in, and the size
/// of each pair's full-size probe.
#[derive(Debug, Clone)]
pub struct ProbePlan {
    /// Tells this run's probes from any other ICMP on the wire, an earlier run's included.
    pub run: u32,
    pub pairs: Vec<(usize, usize)>,
    pub phases: Vec<schedule::Phase>,
    /// Per pair: the planned MTU, or the pod's real one when that is larger (a pod left at
    /// 1500 in an overlay sends 1500-byte packets, and the path must carry them).
    pub full_size: Vec<u16>,
    /// The TCP and UDP probes each pair gets.
    pub transports: Vec<transport::Proto>,
}

impl ProbePlan {
    pub fn new(lab: &Lab, pod_mtus: &[Option<u32>], opts: &VerifyOptions) -> ProbePlan {
        let pairs = match opts.pairs {
            PairChoice::All => ordered_pairs(lab.pods.len()),
            PairChoice::PerHostPair => per_host_pairs(lab),
        };
        let phases = if opts.warm {
            schedule::warm_phase(pairs.len())
        } else {
            let hosts: Vec<(usize, usize)> = pairs
                .iter()
                .map(|&(a, b)| (lab.pods[a].host, lab.pods[b].host))
                .collect();
            schedule::cold_phases(&hosts)
        };
        let full_size = pairs
            .iter()
            .map(|&(a, _)| {
                let real = pod_mtus.get(a).copied().flatten().unwrap_or(0);
                lab.pods[a].mtu.max(u16::try_from(real).unwrap_or(u16::MAX))
            })
            .collect();
        ProbePlan {
            run: run_id(),
            pairs,
            phases,
            full_size,
            transports: opts.transports.clone(),
        }
    }

    /// A batch's TCP and UDP probes, grouped by sending pod. They go in the same phase as the
    /// pair's pings, so the cold-start schedule holds for them too.
    fn transport(&self, lab: &Lab, pairs: &[usize]) -> Vec<Vec<transport::TransportSpec>> {
        let mut per_pod = vec![Vec::new(); lab.pods.len()];
        for &pair in pairs {
            let (a, b) = self.pairs[pair];
            for &proto in &self.transports {
                let kind = ProbeKind::Transport(proto);
                per_pod[a].push(transport::TransportSpec {
                    id: ProbeId::new(pair, kind),
                    dst: lab.pods[b].ip,
                    proto,
                });
            }
        }
        per_pod
    }

    /// A batch's first contacts, grouped by sending pod: the ping and the full-size probe.
    fn first_contact(&self, lab: &Lab, pairs: &[usize]) -> Vec<Vec<ProbeSpec>> {
        let attempts = probe::ATTEMPT_TIMEOUTS.len() as u8;
        self.group(
            lab,
            pairs.iter().flat_map(|&pair| {
                [
                    (ProbeId::new(pair, ProbeKind::Ping), probe::SMALL, attempts),
                    (
                        ProbeId::new(pair, ProbeKind::FullSize),
                        self.full_size[pair],
                        attempts,
                    ),
                ]
            }),
        )
    }

    /// A batch's steady-state pings, for the pairs whose first contact was answered.
    fn steady(&self, lab: &Lab, pairs: &[usize], done: &Outcomes) -> Vec<Vec<ProbeSpec>> {
        let answered = |&pair: &usize| {
            matches!(
                done.get(&ProbeId::new(pair, ProbeKind::Ping)),
                Some(Outcome::Reply { .. })
            )
        };
        self.group(
            lab,
            pairs.iter().filter(|p| answered(p)).flat_map(|&pair| {
                (0..STEADY_PINGS)
                    .map(move |n| (ProbeId::new(pair, ProbeKind::Steady(n)), probe::SMALL, 1))
            }),
        )
    }

    fn group(
        &self,
        lab: &Lab,
        probes: impl Iterator<Item = (ProbeId, u16, u8)>,
    ) -> Vec<Vec<ProbeSpec>> {
        let mut per_pod: Vec<Vec<ProbeSpec>> = vec![Vec::new(); lab.pods.len()];
        for (id, size, attempts) in probes {
            let (a, b) = self.pairs[id.pair];
            per_pod[a].push(ProbeSpec {
                id,
                dst: lab.pods[b].ip,
                size,
                attempts,
            });
        }
        per_pod
    }
}

type Outcomes = HashMap<ProbeId, Outcome>;
/// Each TCP probe connection, by the client's side, to find its untagged handshake segments.
type Flows = HashMap<transport::Flow, ProbeId>;

/// A batch of pairs that is over, as [`run_phases`] hands it on.
struct Ended<'p> {
    pairs: &'p [usize],
    /// When its last probe was done.
    at: Instant,
    /// When the next batch began to send, on the clock the kernel stamps frames with: a frame
    /// stamped later is the next batch's.
    next_began: Duration,
}

/// What is done with a batch once it is over.
type Settle<'a> = dyn FnMut(Ended<'_>, &mut Outcomes, &Flows) + 'a;

/// Probes phase after phase, each in batches (see [`schedule::Phase::batches`]); in a cold
/// run, learned state is wiped before each phase. Each batch but the last is handed to
/// `settle` once the next one's first contacts are done, so that the frames still on their
/// way arrive while verify works, not while it waits.
fn run_phases(
    lab: &Lab,
    probes: &ProbePlan,
    sockets: &[std::os::fd::OwnedFd],
    flush: &[learned::Flush],
    opts: &VerifyOptions,
    settle: &mut Settle<'_>,
) -> Result<(Outcomes, Flows), VerifyError> {
    let prober = Prober {
        lab,
        probes,
        sockets,
        bar: progress_bar(opts.progress, probes.pairs.len()),
        first_window: match opts.warm {
            true => WINDOW_LAB,
            false => {
                let backlog = schedule::backlog_queue();
                schedule::first_contact_window(lab.hosts.len(), backlog, WINDOW_LAB)
            }
        },
    };
    let (mut outcomes, mut flows) = (Outcomes::new(), Flows::new());
    let mut ended: Option<(&[usize], Instant)> = None;
    'phases: for phase in &probes.phases {
        if !opts.warm {
            learned::flush(flush)?;
        }
        for pairs in phase.batches() {
            let next_began = since_epoch();
            prober.first_contacts(pairs, &mut outcomes);
            if let Some((pairs, at)) = ended.take() {
                let done = Ended {
                    pairs,
                    at,
                    next_began,
                };
                settle(done, &mut outcomes, &flows);
            }
            prober.the_rest(pairs, &mut outcomes, &mut flows);
            ended = Some((pairs, Instant::now()));
            if crate::interrupt::requested() {
                break 'phases;
            }
        }
    }
    prober.bar.finish_and_clear();
    Ok((outcomes, flows))
}

/// Now, on the clock the kernel stamps captured frames with.
fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// What probing a batch needs.
struct Prober<'a> {
    lab: &'a Lab,
    probes: &'a ProbePlan,
    sockets: &'a [std::os::fd::OwnedFd],
    bar: indicatif::ProgressBar,
    /// First contacts in flight at once across the lab.
    first_window: usize,
}

impl Prober<'_> {
    fn first_contacts(&self, pairs: &[usize], outcomes: &mut Outcomes) {
        let first = self.probes.first_contact(self.lab, pairs);
        let (run, sockets) = (self.probes.run, self.sockets);
        run_phase(run, &first, sockets, self.first_window, &self.bar, outcomes);
    }

    /// The steady-state pings of the pairs whose first contact was answered, then the TCP
    /// and UDP probes.
    fn the_rest(&self, pairs: &[usize], outcomes: &mut Outcomes, flows: &mut Flows) {
        let (lab, run, sockets) = (self.lab, self.probes.run, self.sockets);
        let steady = self.probes.steady(lab, pairs, outcomes);
        let hidden = indicatif::ProgressBar::hidden();
        run_phase(run, &steady, sockets, WINDOW_LAB, &hidden, outcomes);
        let transports = self.probes.transport(lab, pairs);
        run_transport(lab, run, &transports, outcomes, flows);
    }
}

/// One phase: every sending pod on a thread of its own, within the shared window.
fn run_phase(
    run: u32,
    per_pod: &[Vec<ProbeSpec>],
    sockets: &[std::os::fd::OwnedFd],
    window_lab: usize,
    bar: &indicatif::ProgressBar,
    outcomes: &mut Outcomes,
) {
    let id = |spec: &ProbeSpec| spec.id;
    let finished: HashMap<usize, AtomicU8> = per_pod
        .iter()
        .flatten()
        .map(|s| (id(s).pair, AtomicU8::new(0)))
        .collect();
    let window = probe::Window::new(WINDOW_PER_POD, window_lab);
    std::thread::scope(|scope| {
        let threads: Vec<_> = per_pod
            .iter()
            .zip(sockets)
            .map(|(specs, socket)| {
                let (finished, window) = (&finished, &window);
                scope.spawn(move || {
                    let on_done = |i: usize| {
                        let pair = id(&specs[i]).pair;
                        if finished[&pair].fetch_add(1, Ordering::Relaxed) == 1 {
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
                outcomes.insert(id(spec), outcome);
            }
        }
    });
}

/// A phase's TCP and UDP probes: every sending pod on a thread of its own, within the shared
/// window.
fn run_transport(
    lab: &Lab,
    run: u32,
    per_pod: &[Vec<transport::TransportSpec>],
    outcomes: &mut Outcomes,
    flows: &mut Flows,
) {
    let window = probe::Window::new(WINDOW_PER_POD, WINDOW_LAB);
    std::thread::scope(|scope| {
        let threads: Vec<_> = per_pod
            .iter()
            .zip(&lab.pods)
            .map(|(specs, pod)| {
                let window = &window;
                scope.spawn(move || transport::run(&pod.namespace, run, specs, window))
            })
            .collect();
        for ((specs, thread), pod) in per_pod.iter().zip(threads).zip(&lab.pods) {
            let results = thread
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            for (spec, sent) in specs.iter().zip(results) {
                let id = spec.id;
                for port in sent.client_ports {
                    flows.insert((pod.ip, port, spec.dst), id);
                }
                outcomes.insert(id, sent.outcome);
            }
        }
    });
}

/// Every pod's TCP and UDP listener, when any such probe is asked for.
fn start_listeners(
    lab: &Lab,
    transports: &[transport::Proto],
) -> Result<Option<listener::Listeners>, VerifyError> {
    if transports.is_empty() {
        return Ok(None);
    }
    let pods = lab
        .pods
        .iter()
        .map(|p| (p.node.as_str(), p.namespace.as_str()));
    Ok(Some(listener::Listeners::start(pods)?))
}

/// Every captured frame, dissected once and sorted to its probe; the rest kept for lab-wide
/// checks.
struct Collected {
    seen: observe::Sightings,
    unclaimed: Vec<(PointId, crate::wire::Wire)>,
    undissectable: usize,
}

fn collect(
    lab: &Lab,
    flows: &Flows,
    points: &[CapturePoint],
    observed: Vec<Observed>,
) -> Collected {
    let pod_nodes: BTreeSet<&str> = lab.pods.iter().map(|p| p.node.as_str()).collect();
    let between_nodes: Vec<bool> = points
        .iter()
        .map(|p| !pod_nodes.contains(p.id.node.as_str()))
        .collect();
    let undissectable = observed.iter().map(|o| o.undissectable).sum();
    let named = points.iter().map(|p| p.id.clone()).zip(observed).collect();
    let (mut seen, others) = observe::Sightings::new(named, |s| match s.owner {
        Owner::Probe { id, .. } => Some(id.probe()),
        Owner::Segment { flow, .. } => flows.get(&flow).copied(),
        Owner::Unclaimed => None,
    });
    let mut unclaimed = Vec::new();
    for (p, i) in others {
        // Taken out either way: what is not checked for leaks is of no further use.
        let Some((name, s)) = seen.take_frame(p, i) else {
            continue;
        };
        if between_nodes[p]
            && matches!(
                s.wire,
                crate::wire::Wire::Plain(_) | crate::wire::Wire::Vxlan { .. }
            )
        {
            unclaimed.push((name.clone(), s.wire));
        }
    }
    Collected {
        seen,
        unclaimed,
        undissectable,
    }
}

/// How each point's capture thread reads its frames, point by point.
fn observers(
    lab: &Lab,
    points: &[CapturePoint],
    probes: &ProbePlan,
    keep_raw: bool,
) -> Vec<observe::Observer> {
    let pod_nodes: BTreeSet<&str> = lab.pods.iter().map(|p| p.node.as_str()).collect();
    points
        .iter()
        .map(|p| observe::Observer {
            run: probes.run,
            pairs: probes.pairs.len(),
            vxlan_ports: vxlan_ports(lab),
            pod_point: pod_nodes.contains(p.id.node.as_str()),
            keep_raw,
        })
        .collect()
}

/// The UDP ports whose datagrams are read as VXLAN: the lab's own, then the well-known ones
/// (a VTEP configured with another port shows up there).
fn vxlan_ports(lab: &Lab) -> Vec<u16> {
    let mut ports = vec![crate::plan::VXLAN_PORT, 8472];
    if let Some(v) = lab.encap.vxlan() {
        ports.insert(0, v.port);
    }
    ports
}

/// What judging a pair needs beyond its own probes.
struct PairJudge<'a> {
    lab: &'a Lab,
    probes: &'a ProbePlan,
    fdbs: &'a [learned::HostFdb],
    host_macs: &'a [(String, judge::Mac)],
    max_loss: f64,
    gaps: Vec<learned::FloodGap>,
}

impl<'a> PairJudge<'a> {
    fn new(prepared: &'a Prepared, max_loss: f64) -> PairJudge<'a> {
        let lab = &prepared.lab;
        PairJudge {
            lab,
            probes: &prepared.probes,
            fdbs: &prepared.fdbs,
            host_macs: &prepared.host_macs,
            max_loss,
            gaps: gaps(lab, &prepared.fdbs),
        }
    }

    /// Pair `k`'s row, its outcomes and sightings taken out of `outcomes` and `seen`.
    fn row(&self, k: usize, outcomes: &mut Outcomes, seen: &mut observe::Sightings) -> PairRow {
        let mut result = |kind| {
            let id = ProbeId::new(k, kind);
            ProbeResult {
                outcome: outcomes
                    .remove(&id)
                    .unwrap_or(Outcome::NoReply { attempts: 0 }),
                seen: seen.take(&id),
            }
        };
        let (ping, mtu) = (result(ProbeKind::Ping), result(ProbeKind::FullSize));
        let steady: Vec<ProbeResult> = (0..STEADY_PINGS)
            .map(|n| result(ProbeKind::Steady(n)))
            .filter(|r| r.outcome != Outcome::NoReply { attempts: 0 })
            .collect();
        let transport: Vec<_> = self
            .probes
            .transports
            .iter()
            .map(|&p| (p, result(ProbeKind::Transport(p))))
            .collect();
        let (a, b) = self.probes.pairs[k];
        let plan = self.plan(k);
        let mut verdict = judge::judge_probes(&plan, &ping, &mtu, &steady, &transport);
        self.apply_gaps_and_expectations(a, b, &ping, &mut verdict);
        let lab = self.lab;
        PairRow {
            from: lab.pods[a].node.clone(),
            to: lab.pods[b].node.clone(),
            from_ip: lab.pods[a].ip,
            to_ip: lab.pods[b].ip,
            verdict,
        }
    }

    /// What pair `k`'s probes should show.
    fn plan(&self, k: usize) -> PairPlan {
        let (lab, (a, b)) = (self.lab, self.probes.pairs[k]);
        let mut plan = pair_plan(lab, a, b);
        plan.mtu = self.probes.full_size[k];
        plan.max_loss = self.max_loss;
        plan.host_macs = self.host_macs.to_vec();
        if host_of(lab, a).rack != host_of(lab, b).rack {
            // Across racks a host's next hop is its router, not the peer: no host MAC to check.
            plan.host_macs.clear();
        }
        plan.flood = (
            learned::flood_list(self.fdbs, &host_of(lab, a).node),
            learned::flood_list(self.fdbs, &host_of(lab, b).node),
        );
        plan
    }

    /// Puts first what learning hid (a missing flood entry), and holds a pair the lab
    /// declares broken to that declaration.
    fn apply_gaps_and_expectations(
        &self,
        a: usize,
        b: usize,
        ping: &ProbeResult,
        verdict: &mut judge::PairVerdict,
    ) {
        let lab = self.lab;
        let (src_host, dst_host) = (host_of(lab, a), host_of(lab, b));
        for gap in self
            .gaps
            .iter()
            .filter(|g| g.node == src_host.node && g.peer == dst_host.underlay_ip)
        {
            verdict.reasons.insert(0, gap.reason());
        }
        let Some(e) = src_host.expect_fail.as_ref() else {
            return;
        };
        if e.to.contains(dst_host.index) {
            let path = expect::PairPath {
                src_pod: &lab.pods[a].node,
                src_host: &src_host.node,
            };
            let held = expect::check(e, &path, ping);
            let dst = lab.pods[b].ip;
            let routed =
                matches!(held, expect::Held::Yes { .. }) && expect::has_route_at(e, lab, dst);
            let held = expect::for_want_of_a_route(held, e, dst, routed);
            expect::apply(e, held, verdict);
        }
    }
}

/// Each point's frames and capture drops, and a note for each capture that ended early or
/// dropped frames.
fn captures_of(
    points: &[CapturePoint],
    captured: Vec<capture::Captured>,
) -> (Vec<Observed>, Vec<u32>, Vec<String>) {
    let mut notes = Vec::new();
    let mut dropped = Vec::with_capacity(points.len());
    let frames = points
        .iter()
        .zip(captured)
        .map(|(point, captured)| {
            if let Some(e) = captured.ended_early {
                notes.push(format!(
                    "capture on {} stopped early ({e}): is the interface down?",
                    point.id
                ));
            }
            if captured.dropped > 0 {
                notes.push(format!(
                    "capture on {} dropped {} frame(s) (its capture ring was full): frames missing there are not blamed on the lab",
                    point.id, captured.dropped
                ));
            }
            dropped.push(captured.dropped);
            captured.observed
        })
        .collect();
    (frames, dropped, notes)
}

/// Problems of the lab as a whole: pod MTUs, and pod traffic no probe claims.
fn lab_findings(
    lab: &Lab,
    pod_mtus: &[Option<u32>],
    unclaimed: &[(PointId, crate::wire::Wire)],
) -> Vec<String> {
    let mut findings = judge::pod_mtus(
        lab.pods
            .iter()
            .zip(pod_mtus)
            .map(|(p, &mtu)| (p.node.as_str(), p.pod_if.as_str(), p.mtu, mtu)),
    );
    let pod_ips: BTreeSet<_> = lab.pods.iter().map(|p| p.ip).collect();
    let pod_nets: Vec<ipnet::Ipv4Net> = lab.hosts.iter().map(|h| h.pod_subnet).collect();
    findings.extend(judge::leaks(
        lab.encap,
        &pod_ips,
        &pod_nets,
        unclaimed
            .iter()
            .filter(|(_, w)| !direct_plain(lab, w))
            .map(|(p, w)| (p, w)),
    ));
    findings
}

/// A plain packet between pods whose hosts route each other directly (DirectRouting): the
/// lab's own traffic, not a leak out of the tunnel.
fn direct_plain(lab: &Lab, wire: &crate::wire::Wire) -> bool {
    matches!(wire, crate::wire::Wire::Plain(ip) if lab.plain_between(ip.src, ip.dst))
}

/// A frame "not seen" where the capture itself dropped frames may simply be one of those:
/// that reason becomes a remark, and the pair is judged on everything else.
fn excuse_capture_drops(rows: &mut [PairRow], points: &[CapturePoint], dropped: &[u32]) {
    for (point, &n) in points.iter().zip(dropped).filter(|(_, &n)| n > 0) {
        for row in rows.iter_mut() {
            let v = &mut row.verdict;
            let (excused, kept): (Vec<Reason>, Vec<Reason>) = v
                .reasons
                .drain(..)
                .partition(|r| r.rests_on_absence_at(&point.id));
            v.reasons = kept;
            v.remarks.extend(
                excused
                    .into_iter()
                    .map(|r| format!("{r}, where the capture dropped {n} frame(s): not judged")),
            );
        }
    }
}

/// Hosts that can reach a peer's VTEP only by what they learnt; VXLAN labs only, and only
/// where VTEPs are found by flooding (where the file fixes each VTEP's MAC, [`programmed`]
/// names the missing entry itself).
fn gaps(lab: &Lab, fdbs: &[learned::HostFdb]) -> Vec<learned::FloodGap> {
    let flooding = lab.hosts.iter().all(|h| h.vtep_mac.is_none());
    match lab.mode() {
        crate::plan::Mode::Vxlan if flooding => learned::flood_gaps(fdbs),
        _ => Vec::new(),
    }
}

fn host_of(lab: &Lab, pod: usize) -> &crate::lab::LabHost {
    lab.host(lab.pods[pod].host)
        .expect("Lab checks every pod has its host")
}

/// Each point's frames copied to user space and dropped by the kernel.
fn summaries(points: &[CapturePoint], copied: &[usize], dropped: &[u32]) -> Vec<CaptureSummary> {
    points
        .iter()
        .zip(copied)
        .zip(dropped)
        .map(|((point, &copied), &dropped)| CaptureSummary {
            point: point.id.clone(),
            frames: copied,
            dropped,
            pcap: None,
        })
        .collect()
}

/// Writes one pcap file per point and `lab.pcapng` into `dir`, then lets go of the frames'
/// bytes: judging needs none of them. Returns the path of `lab.pcapng`.
fn write_pcaps(
    lab: &Lab,
    probes: &ProbePlan,
    flows: &Flows,
    points: &[CapturePoint],
    observed: &mut [Observed],
    dir: &Path,
    captures: &mut [CaptureSummary],
) -> Result<PathBuf, VerifyError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VerifyError::Pcap { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    for ((point, observed), summary) in points.iter().zip(observed.iter()).zip(captures) {
        let path = dir.join(format!("{}.pcap", point.id));
        let frames = observed
            .kept
            .iter()
            .filter_map(|k| Some((k.ts, k.raw.as_deref()?)));
        pcap::write(&path, frames).map_err(err(&path))?;
        summary.pcap = Some(path);
    }
    let path = dir.join(pcap::LAB_FILE);
    let who = |pair: usize| {
        let (a, b) = probes.pairs[pair];
        (lab.pods[a].node.clone(), lab.pods[b].node.clone())
    };
    let comment = |s: &observe::Sighting| {
        let segment_of = match s.owner {
            Owner::Segment { flow, .. } => flows.get(&flow).copied(),
            _ => None,
        };
        pcap::comment(s, segment_of, who)
    };
    pcap::write_lab(
        &path,
        &section_comment(lab, probes),
        points,
        observed,
        comment,
    )
    .map_err(err(&path))?;
    for kept in observed.iter_mut().flat_map(|o| o.kept.iter_mut()) {
        kept.raw = None;
    }
    Ok(path)
}

/// What `lab.pcapng` is, and how to read VXLAN on a port Wireshark does not decode itself.
fn section_comment(lab: &Lab, probes: &ProbePlan) -> String {
    let mut c = format!(
        "cnilab verify of lab {} ({}, {} hosts), run {:08x}: one interface per capture point",
        lab.name,
        lab.mode(),
        lab.hosts.len(),
        probes.run
    );
    if let Some(how) = lab
        .encap
        .vxlan()
        .and_then(|v| crate::pcapng::decode_as_vxlan(v.port))
    {
        c += &format!(". {how}");
    }
    c
}

/// The most memory this process has held at once (VmHWM), in KiB.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The kernel's ARP table is one table for every namespace, capped by the root namespace's
/// gc_thresh3 (1024 by default). A 50-host VXLAN lab needs several thousand entries; past the
/// cap, neighbours fail to resolve and pairs fail for a reason no capture shows.
fn neighbour_table_note() -> Option<String> {
    let cap = crate::neigh_limits::read().ok()?.thresh3;
    let entries = crate::neigh_limits::in_use();
    (entries * 10 >= cap * 9).then(|| {
        format!(
            "the kernel's ARP table, shared by all namespaces, holds {entries} entries of at most {cap} (net.ipv4.neigh.default.gc_thresh3); failures may come from that cap, not the lab"
        )
    })
}

/// Each host's underlay interface, then each router's capture interfaces, then each pod's own
/// interface (where a packet arrives, after everything its host did to it). A router's legs
/// belong with its host where each host has a router, and with the hosts in turn where routers
/// are shared.
pub fn capture_points(lab: &Lab) -> Vec<CapturePoint> {
    let point = |node: &str, namespace: &str, iface: &str, host: usize| CapturePoint {
        id: PointId::new(node, iface),
        namespace: namespace.to_string(),
        host,
    };
    let nth_host = |k: usize| lab.hosts[k % lab.hosts.len()].index;
    let per_host = lab.routers.len() == lab.hosts.len();
    lab.hosts
        .iter()
        .map(|h| point(&h.node, &h.namespace, &h.underlay_if, h.index))
        .chain(lab.routers.iter().enumerate().flat_map(|(j, r)| {
            r.capture.iter().enumerate().map(move |(m, iface)| {
                let host = nth_host(if per_host { j } else { m });
                point(&r.node, &r.namespace, iface, host)
            })
        }))
        .chain(
            lab.pods
                .iter()
                .map(|p| point(&p.node, &p.namespace, &p.pod_if, p.host)),
        )
        .collect()
}

/// One ordered pair per ordered pair of hosts (their first pods), and per host with several
/// pods its first pod to its second.
pub fn per_host_pairs(lab: &Lab) -> Vec<(usize, usize)> {
    let first_of = |host: usize| lab.pods.iter().position(|p| p.host == host);
    let mut pairs = Vec::new();
    for a in &lab.hosts {
        for b in &lab.hosts {
            let (Some(pa), Some(pb)) = (first_of(a.index), first_of(b.index)) else {
                continue;
            };
            if a.index != b.index {
                pairs.push((pa, pb));
            } else if let Some(second) =
                (pa + 1..lab.pods.len()).find(|&i| lab.pods[i].host == a.index)
            {
                pairs.push((pa, second));
            }
        }
    }
    pairs
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
        encap: lab.encap_between(pa.host, pb.host),
        src_pod: pa.ip,
        dst_pod: pb.ip,
        src_host: ha.underlay_ip,
        dst_host: hb.underlay_ip,
        src_point: PointId::new(&ha.node, &ha.underlay_if),
        dst_point: PointId::new(&hb.node, &hb.underlay_if),
        src_pod_point: PointId::new(&pa.node, &pa.pod_if),
        dst_pod_point: PointId::new(&pb.node, &pb.pod_if),
        mtu: pa.mtu,
        max_loss: 0.0,
        flood: (vec![], vec![]),
        host_macs: vec![],
        host_names: (ha.node.clone(), hb.node.clone()),
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

    fn harvest(stamps: &[u64]) -> Observed {
        Observed {
            kept: stamps
                .iter()
                .map(|&s| observe::Kept {
                    ts: Duration::from_secs(s),
                    sighting: None,
                    raw: None,
                })
                .collect(),
            ..Observed::default()
        }
    }

    fn stamps(observed: &Observed) -> Vec<u64> {
        observed.kept.iter().map(|k| k.ts.as_secs()).collect()
    }

    /// A harvest taken while the next phase runs holds some of its frames: they wait for
    /// that phase's batch, behind nothing of the phase judged now.
    #[test]
    fn frames_of_the_next_phase_are_carried_over_to_its_batch() {
        let mut judged = Judged::new(4, 1);
        let mut first = [harvest(&[1, 2, 3])];
        judged.carry_over(&mut first, Duration::from_secs(3));
        assert_eq!(stamps(&first[0]), [1, 2]);
        let mut second = [harvest(&[4, 5])];
        judged.carry_over(&mut second, Duration::from_secs(5));
        assert_eq!(stamps(&second[0]), [3, 4]);
        let mut last = [harvest(&[6])];
        judged.carry_over(&mut last, Duration::MAX);
        assert_eq!(stamps(&last[0]), [5, 6]);
        assert!(judged.carry[0].is_empty());
    }

    #[test]
    fn frames_missing_where_the_capture_dropped_are_not_blamed_on_the_lab() {
        let l = lab(Mode::Vxlan, 2);
        let points = capture_points(&l);
        let verdict = |reasons: &[Reason]| judge::PairVerdict {
            rtt: None,
            wire: String::new(),
            reasons: reasons.to_vec(),
            loss: judge::Loss::default(),
            remarks: vec![],
            expected_failure: None,
        };
        let row = |reasons: &[Reason]| PairRow {
            from: "pod1".into(),
            to: "pod2".into(),
            from_ip: l.pods[0].ip,
            to_ip: l.pods[1].ip,
            verdict: verdict(reasons),
        };
        use reason::{Direction, ProbeName};
        let not_seen = Reason::NotSeen {
            probe: ProbeName::Ping,
            direction: Direction::Reply,
            point: PointId::from("host2-eth1"),
        };
        let no_reply = Reason::ProbeFailed {
            probe: ProbeName::Ping,
            outcome: Outcome::NoReply { attempts: 3 },
        };
        let answered = Reason::AnsweredInItsName {
            probe: ProbeName::Ping,
            missed: PointId::from("pod2-eth1"),
        };
        let mut rows = vec![
            row(std::slice::from_ref(&not_seen)),
            row(&[not_seen, no_reply]),
            row(&[answered]),
        ];
        let mut dropped = vec![0; points.len()];
        dropped[1] = 7; // host2-eth1
        dropped[7] = 2; // pod2-eth1
        excuse_capture_drops(&mut rows, &points, &dropped);
        assert!(rows[0].verdict.passed(), "{:?}", rows[0].verdict);
        assert_eq!(
            rows[0].verdict.remarks,
            ["ping reply not seen on host2-eth1, where the capture dropped 7 frame(s): not judged"]
        );
        assert!(!rows[1].verdict.passed());
        assert_eq!(rows[1].verdict.texts(), ["ping: no reply after 3 attempts"]);
        assert!(rows[2].verdict.passed(), "{:?}", rows[2].verdict);
        assert!(rows[2].verdict.remarks[0]
            .ends_with("where the capture dropped 2 frame(s): not judged"));
    }

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
            .map(|p| p.id.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "host1-eth1",
                "host2-eth1",
                "gw1-eth1",
                "gw1-eth2",
                "gw2-eth1",
                "gw2-eth2",
                "pod1-eth1",
                "pod2-eth1"
            ]
        );
        let hostgw = capture_points(&lab(Mode::HostGw, 3));
        assert_eq!(hostgw.len(), 3 + 3);
        assert_eq!(hostgw[2].namespace, "clab-host-gw-lab-host3");
        assert_eq!(capture_points(&lab(Mode::Ipip, 3)).len(), 3 + 3 + 3);
    }

    #[test]
    fn each_point_belongs_with_the_host_whose_number_its_node_carries() {
        for mode in [Mode::Vxlan, Mode::HostGw, Mode::Ipip] {
            let l = lab(mode, 3);
            let owners: Vec<(String, usize)> = capture_points(&l)
                .into_iter()
                .map(|p| (p.id.node, p.host))
                .collect();
            let mut shared = BTreeSet::new();
            for (node, host) in owners {
                match node.trim_end_matches(|c: char| c.is_ascii_digit()) == node {
                    // A router of every host's: its legs go to the hosts in turn.
                    true => assert!(shared.insert(host), "{mode:?}: {node}'s legs on {host}"),
                    false => assert!(node.ends_with(&host.to_string()), "{node} with {host}"),
                }
            }
        }
    }

    #[test]
    fn pair_plans_carry_the_file_s_addresses() {
        let l = lab(Mode::Vxlan, 3);
        let p = pair_plan(&l, 2, 0);
        assert_eq!(p.src_pod.to_string(), "172.16.2.2");
        assert_eq!(p.dst_host.to_string(), "10.0.1.2");
        assert_eq!(
            (p.src_point.to_string(), p.mtu),
            ("host3-eth1".into(), 1450)
        );
        assert_eq!(
            p.expected(false),
            "UDP/4789 VXLAN vni 1 between 10.0.3.2 and 10.0.1.2"
        );
    }
}
