//! The probing itself: phase after phase, each pair's first contact, full-size probe, steady
//! pings and TCP/UDP probes, with no host sending and receiving in one phase.

use super::*;

/// FxHash, as the capture's own maps: these are keyed by verify's own probe numbers, and
/// every probe of a 254-host run passes through them.
pub(super) type Outcomes = rustc_hash::FxHashMap<ProbeId, Outcome>;

/// Each TCP probe connection, by the client's side, to find its untagged handshake segments.
pub(super) type Flows = rustc_hash::FxHashMap<transport::Flow, ProbeId>;

/// A batch of pairs that is over, as [`run_phases`] hands it on.
pub(super) struct Ended<'p> {
    pub(super) pairs: &'p [usize],
    /// When its last probe was done.
    pub(super) at: Instant,
    /// When the next batch began to send, on the clock the kernel stamps frames with: a frame
    /// stamped later is the next batch's.
    pub(super) next_began: Duration,
}

/// What is done with a batch once it is over.
pub(super) type Settle<'a> = dyn FnMut(Ended<'_>, &mut Outcomes, &Flows) + 'a;

/// Probes phase after phase, each in batches (see [`schedule::Phase::batches`]); in a cold
/// run, learned state is wiped before each phase. Each batch but the last is handed to
/// `settle` once the next one's first contacts are done, so that the frames still on their
/// way arrive while verify works, not while it waits.
pub(super) fn run_phases(
    lab: &Lab,
    probes: &ProbePlan,
    sockets: &[probe::PodSockets],
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
            false => cold_first_window(lab.hosts.len(), schedule::backlog_queue()),
        },
    };
    let (mut outcomes, mut flows) = (Outcomes::default(), Flows::default());
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

/// First contacts a cold run lets fly at once in a lab of `hosts` hosts, on a machine whose
/// backlog queue per CPU is `backlog` (see [`schedule::first_contact_window`]).
pub(super) fn cold_first_window(hosts: usize, backlog: usize) -> usize {
    schedule::first_contact_window(hosts, backlog, WINDOW_LAB)
}

/// Now, on the clock the kernel stamps captured frames with.
pub(super) fn since_epoch() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// What probing a batch needs.
pub(super) struct Prober<'a> {
    pub(super) lab: &'a Lab,
    pub(super) probes: &'a ProbePlan,
    pub(super) sockets: &'a [probe::PodSockets],
    pub(super) bar: indicatif::ProgressBar,
    /// First contacts in flight at once across the lab.
    pub(super) first_window: usize,
}

impl Prober<'_> {
    pub(super) fn first_contacts(&self, pairs: &[usize], outcomes: &mut Outcomes) {
        let first = self.probes.first_contact(self.lab, pairs);
        let (run, sockets) = (self.probes.run, self.sockets);
        run_phase(run, &first, sockets, self.first_window, &self.bar, outcomes);
    }

    /// The steady-state pings of the pairs whose first contact was answered, then the TCP
    /// and UDP probes.
    pub(super) fn the_rest(&self, pairs: &[usize], outcomes: &mut Outcomes, flows: &mut Flows) {
        let (lab, run, sockets) = (self.lab, self.probes.run, self.sockets);
        let steady = self.probes.steady(lab, pairs, outcomes);
        let hidden = indicatif::ProgressBar::hidden();
        run_phase(run, &steady, sockets, WINDOW_LAB, &hidden, outcomes);
        let transports = self.probes.transport(lab, pairs);
        run_transport(lab, run, &transports, outcomes, flows);
    }
}

/// Each pod's probes split by family, with the socket each family's are sent on: a pod of a
/// dual-stack lab probes in IPv4 and IPv6 side by side, from two sockets.
fn lanes<'a>(
    per_pod: &[Vec<ProbeSpec>],
    sockets: &'a [probe::PodSockets],
) -> Vec<(Vec<ProbeSpec>, &'a probe::PodSocket)> {
    let mut lanes = Vec::new();
    for (specs, pod) in per_pod.iter().zip(sockets) {
        for socket in &pod.0 {
            let own: Vec<ProbeSpec> = specs
                .iter()
                .filter(|s| crate::family::Family::of(s.dst) == socket.family)
                .copied()
                .collect();
            if !own.is_empty() {
                lanes.push((own, socket));
            }
        }
    }
    lanes
}

/// One phase: every sending pod and family on a thread of its own, within the shared window.
pub(super) fn run_phase(
    run: u32,
    per_pod: &[Vec<ProbeSpec>],
    sockets: &[probe::PodSockets],
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
    let lanes = lanes(per_pod, sockets);
    std::thread::scope(|scope| {
        let threads: Vec<_> = lanes
            .iter()
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
        for ((specs, _), thread) in lanes.iter().zip(threads) {
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
pub(super) fn run_transport(
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
                let own = pod.addr(crate::family::Family::of(spec.dst));
                for port in sent.client_ports {
                    flows.insert((own, port, spec.dst), id);
                }
                outcomes.insert(id, sent.outcome);
            }
        }
    });
}
