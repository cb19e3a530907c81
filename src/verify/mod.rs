//! `cnilab verify`: probe every ordered pod pair, capture the underlay, dissect, judge.
//!
//! Everything checked comes from the lab file (through [`crate::lab::Lab`]). This module
//! runs the steps in order; each job has a module of its own:
//! - what is probed and where it is captured: `targets`, [`schedule`], [`id`];
//! - the probing, phase by phase: `phases`, [`probe`], [`transport`], [`listener`];
//! - capturing and sorting frames to probes: [`capture`], [`bpf`], [`observe`], `collect`;
//! - the kernel state read around the probes: [`learned`], [`programmed`], [`underlay`];
//! - judging, which is pure: [`judge`], [`same_host`], [`expect`], [`reason`], `pair_judge`;
//! - the run's own findings and the report: `findings`, [`report`], [`pcap`].

pub mod bpf;
pub mod capture;
pub mod cold_cost;
pub mod copies;
pub mod expect;
pub mod export;
pub mod id;
pub mod judge;
pub mod last_seen;
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
pub mod sealed;
pub mod services;
pub mod transport;
pub mod underlay;
pub mod wg_state;

mod collect;
mod findings;
mod pair_judge;
mod phases;
mod seal_rows;
mod stopped;
mod targets;
use collect::*;
use findings::*;
use pair_judge::*;
use phases::*;
use targets::*;

use crate::lab::file::LabFile;
use crate::lab::point::PointId;
use crate::lab::{Lab, LabError};
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
    /// Each capture point's ring in bytes, rounded to pages (None: sized for the run).
    pub capture_ring: Option<usize>,
    /// Warnings (state programmed other than planned that the wire does not show) fail too.
    pub strict: bool,
}

/// Every ordered pod pair, or one per ordered host pair (and one per host with several pods):
/// with many pods per host, the second covers every path at a fraction of the cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PairChoice {
    /// Every ordered pod pair.
    #[default]
    All,
    /// One pod pair per ordered host pair.
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
    #[error(transparent)]
    Services(#[from] services::ServiceProbeError),
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
    let lab = ready.lab.clone();
    let mut report = ready.judge(probed, opts, started)?;
    report.inferred = file.inferred.as_ref().map(|i| i.summary.clone());
    if let Some(services) = &lab.services {
        report.services = services::verify(&lab, services, run_id())?;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
    }
    Ok(report)
}

/// A number that tells this run's Service probes from any earlier run's.
fn run_id() -> u32 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32)
}

/// Everything verify reads and opens before the first probe. The listeners stop when it is
/// dropped, at the end of verify.
struct Prepared {
    lab: Lab,
    points: Vec<CapturePoint>,
    /// Taken when the captures start.
    opened: Vec<capture::Opened>,
    sockets: Vec<probe::PodSockets>,
    /// Each pod's MTU as judged: its own, or where its planned MTU is its tunnel's rather than
    /// one the lab sets on it, at most that (the excess is a warning, [`inferred_mtu_warnings`]).
    pod_mtus: Vec<Option<u32>>,
    /// Pods whose own MTU is above what an inferred plan's tunnel carries: pod, own MTU.
    mtu_above_tunnel: Vec<(usize, u32)>,
    fdbs: Vec<learned::HostFdb>,
    floods: learned::FloodLists,
    /// Hosts that reach a peer's VTEP only by what they learnt ([`pair_judge::gaps`]).
    flood_gaps: Vec<learned::FloodGap>,
    faults: Vec<programmed::Fault>,
    /// Per host, what the programmed check read that the flush's survey needs too
    /// ([`programmed::Checked`]).
    read_before: HashMap<String, learned::ReadBefore>,
    probes: ProbePlan,
    host_macs: std::sync::Arc<[(String, judge::Mac)]>,
    /// Per host, what its exec lines say about forwarding, for the reason a probe stopped.
    forwarding_hints: std::collections::BTreeMap<String, String>,
    /// The topology file's folder: an encrypted lab's WireGuard folders are relative to it.
    lab_dir: PathBuf,
    /// How long after a batch's last probe its frames are all in the rings' handed-over blocks.
    settle: Duration,
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
    /// An encrypted lab's frames between nodes, every IPv4 one (see [`sealed`]).
    watched: Option<sealed::Watched>,
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
    /// Per pair, when its probes were out (an encrypted lab's tunnel is looked for then).
    windows: Vec<Option<sealed::Window>>,
}

impl Prepared {
    fn new(file: &LabFile, opts: &VerifyOptions) -> Result<Prepared, VerifyError> {
        let lab = deployed(file)?.clone();
        // Probes sent before the routing daemons agree would only measure how far they got.
        let timeout = opts
            .converge_timeout
            .unwrap_or(crate::runtime::converge::TIMEOUT);
        crate::runtime::converge::wait_for_file(file, timeout)?;
        let points = capture_points(&lab);
        let (snap, ring) = probe_ring(opts, points.len());
        let filter = bpf::program(lab.vxlan(), &vxlan_ports(&lab), snap);
        // A WireGuard device has no link-layer header: its packets start at the IP header.
        let bare = bpf::bare_ipv4(snap);
        let filter_of = |p: &CapturePoint| match p.id.role {
            Some(crate::lab::point::Role::HostWireguard) => &bare,
            _ => &filter,
        };
        let opened =
            packet_socket::open_all(&points, |p| capture::open_filtered(p, filter_of(p), ring))?;
        let sockets = lab
            .pods
            .iter()
            .map(|p| probe::open_all(&p.node, &p.namespace, &lab.families()))
            .collect::<Result<Vec<_>, _>>()?;
        // Each pod's socket lives in the pod's namespace, so it can ask for the pod's own MTU.
        let pod_mtus: Vec<Option<u32>> = sockets
            .iter()
            .zip(&lab.pods)
            .map(|(s, p)| crate::sys::ifreq::mtu(s.any(), &p.pod_if))
            .collect();
        // Read back what the lab learnt before verify wipes it: it names faults that learning hid.
        let fdbs = learned::read_hosts(&lab)?;
        // What the labels say each host programs, read before any traffic: the named causes.
        let checked = programmed::check(&lab, &fdbs)?;
        let (pod_mtus, mtu_above_tunnel) = capped_at_tunnel(&lab, pod_mtus);
        let probes = ProbePlan::new(&lab, &pod_mtus, opts);
        let listeners = start_listeners(&lab, &opts.transports)?;
        // Each host's underlay MAC, from its capture point (hosts come first in `points`).
        let host_macs = points
            .iter()
            .zip(&opened)
            .take(lab.hosts.len())
            .filter_map(|(p, o)| Some((p.id.node.clone(), o.mac?)))
            .collect();
        let forwarding_hints = stopped::forwarding_hints(&file.topo, &lab);
        let flood_gaps = pair_judge::gaps(&lab, &fdbs);
        Ok(Prepared {
            lab,
            points,
            opened,
            sockets,
            pod_mtus,
            mtu_above_tunnel,
            floods: learned::FloodLists::new(&fdbs),
            flood_gaps,
            fdbs,
            faults: checked.faults,
            read_before: checked.read_before,
            probes,
            host_macs,
            forwarding_hints,
            lab_dir: file
                .abs_path()
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            settle: capture::settle_time(ring),
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
        let watch = match lab.encryption {
            Some(_) => Some(sealed::Watch::start(&self.points, |p| {
                collect::decrypts_in_place(lab, p)
            })?),
            None => None,
        };
        let flush = learned::plan_flush(lab, &self.fdbs, &self.read_before)?;
        let mut judged = Judged::new(self.probes.pairs.len(), self.points.len());
        let settle_time = self.settle;
        let mut settle = |ended: Ended<'_>, outcomes: &mut Outcomes, flows: &Flows| {
            // The pcap files want every frame: they are judged all at once, at the end.
            if keep_raw {
                return;
            }
            let settled = ended.at + settle_time;
            std::thread::sleep(settled.saturating_duration_since(Instant::now()));
            let mut observed = running.harvest();
            judged.take_in(&mut observed, ended.next_began);
            self.judge_batch(&mut judged, ended.pairs, observed, outcomes, flows, opts);
        };
        let ran = run_phases(lab, &self.probes, &self.sockets, &flush, opts, &mut settle);
        std::thread::sleep(GRACE);
        let captured = running.stop();
        let watched = watch.map(sealed::Watch::stop);
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
            watched,
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
            let (row, window) = judge.row(k, outcomes, &mut seen);
            judged.rows[k] = Some(row);
            judged.windows[k] = window;
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
            watched,
        } = probed;
        judged.take_in(&mut observed, Duration::MAX);
        let (captures, lab_pcap) =
            self.write_captures(&flows, &mut observed, &judged.copied, &dropped, opts)?;
        let pending = judged.pending();
        self.judge_batch(&mut judged, &pending, observed, &mut outcomes, &flows, opts);
        let findings = lab_findings(lab, &self.pod_mtus, &judged.unclaimed);
        if let Some(watched) = &watched {
            self.seal_rows(&mut judged, watched, opts.max_loss);
        }
        let mut rows: Vec<PairRow> = judged.rows.into_iter().flatten().collect();
        excuse_capture_drops(&mut rows, points, &dropped);
        let mut warnings = programmed::blame(lab, &mut rows, &self.faults);
        warnings.extend(inferred_mtu_warnings(lab, &self.mtu_above_tunnel));
        warnings.extend(stopped::inherited_forwarding(lab, &self.forwarding_hints));
        if rows.iter().any(|r| !r.verdict.passed()) {
            notes.extend(neighbour_table_notes(&lab.families()));
        }
        Ok(Report {
            notes,
            lab: lab.name.clone(),
            inferred: None,
            mode: lab.mode(),
            hosts: lab.hosts.len(),
            start: match opts.warm {
                true => report::Start::Warm,
                false => report::Start::Cold {
                    phases: self.probes.phases.len(),
                },
            },
            probed: opts.pairs,
            families: lab.families(),
            pairs: rows,
            findings,
            warnings,
            strict: opts.strict,
            captures,
            lab_pcap,
            undissectable: judged.undissectable,
            elapsed_ms: started.elapsed().as_millis() as u64,
            peak_memory_kib: peak_memory_kib(),
            services: Vec::new(),
        })
    }
}

/// An inferred plan states no MTU (`cnilab.mtu-from: tunnel`): the lab's author never said the
/// pods' MTU should be the tunnel's. A pod above it is the classic blackhole risk, but not a
/// broken path, where its gateway answers with frag-needed: so it is a warning, and the
/// full-size probe is sized to what the tunnel carries.
fn capped_at_tunnel(lab: &Lab, own: Vec<Option<u32>>) -> (Vec<Option<u32>>, Vec<(usize, u32)>) {
    let mut above = Vec::new();
    let capped = own
        .into_iter()
        .enumerate()
        .map(|(i, mtu)| {
            let planned = u32::from(lab.pods[i].mtu);
            if !lab.pods[i].mtu_from_tunnel {
                return mtu;
            }
            mtu.map(|m| {
                if m > planned {
                    above.push((i, m));
                }
                m.min(planned)
            })
        })
        .collect();
    (capped, above)
}

fn inferred_mtu_warnings(lab: &Lab, above: &[(usize, u32)]) -> Vec<report::Warning> {
    above
        .iter()
        .map(|&(i, own)| {
            let pod = &lab.pods[i];
            report::Warning {
                kind: "pod_mtu",
                node: pod.node.clone(),
                message: format!(
                    "{}'s {} has MTU {own}, more than the {} its host's tunnel carries: its \
                     full-size packets rely on frag-needed from its gateway (path MTU discovery), \
                     the classic blackhole where ICMP is filtered; CNIs set a pod's MTU to the \
                     tunnel's",
                    pod.node, pod.pod_if, pod.mtu
                ),
            }
        })
        .collect()
}

impl Judged {
    fn new(pairs: usize, points: usize) -> Judged {
        Judged {
            rows: vec![None; pairs],
            unclaimed: Vec::new(),
            undissectable: 0,
            copied: vec![0; points],
            carry: (0..points).map(|_| Vec::new()).collect(),
            windows: vec![None; pairs],
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
    /// next batch. Each point's frames stay in a vector of their exact size, as
    /// [`Observed::split_off_from`] leaves them.
    fn carry_over(&mut self, observed: &mut [Observed], next_began: Duration) {
        for (observed, carry) in observed.iter_mut().zip(&mut self.carry) {
            let later = observed.split_off_from(next_began);
            let earlier = std::mem::replace(carry, later);
            if earlier.is_empty() {
                continue;
            }
            let mut kept = Vec::with_capacity(earlier.len() + observed.kept.len());
            kept.extend(earlier);
            kept.append(&mut observed.kept);
            observed.kept = kept;
        }
    }

    /// The pairs not judged yet.
    fn pending(&self) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|&k| self.rows[k].is_none())
            .collect()
    }
}

/// The lab as its file states it, after checking that verify can run on it at all. Whether
/// it is deployed is [`crate::lifecycle::ready_to_probe`]'s to say, for every command alike.
fn deployed(file: &LabFile) -> Result<&Lab, VerifyError> {
    let lab = file.lab()?;
    if !nix::unistd::geteuid().is_root() {
        return Err(VerifyError::NotRoot);
    }
    Ok(lab)
}

/// The snap length and ring of each capture point: whole frames in larger rings for
/// `--pcap`, a ring of the user's size for `--capture-ring-kib`, and otherwise retire times
/// paced to the number of points.
fn probe_ring(opts: &VerifyOptions, points: usize) -> (u32, RingSize) {
    let (snap, ring) = match opts.pcap_dir {
        Some(_) => (bpf::WHOLE, RingSize::PROBES_WHOLE),
        None => (bpf::PROBE_SNAP, RingSize::PROBES),
    };
    let ring = opts
        .capture_ring
        .map_or(capture::paced(ring, points), RingSize::sized);
    (snap, ring)
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
    Ok(Some(listener::Listeners::start(pods, &lab.families())?))
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
                    copies: 1,
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
            family: crate::family::Family::Ipv4,
            from_ip: l.pods[0].v4().into(),
            to_ip: l.pods[1].v4().into(),
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
        let pair = ProbePair {
            from: 2,
            to: 0,
            family: crate::family::Family::Ipv4,
        };
        let p = pair_plan(&l, pair);
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
