//! Listening on the lab's wires: one packet socket per capture point (see
//! [`crate::sys::packet_socket`]), read on a thread of its own that dissects each frame as it
//! arrives (see [`super::observe`]).

use super::observe::{Observed, Observer};
use crate::lab::point::PointId;
use crate::sys::netns::NetnsError;
use crate::sys::packet_socket::{self, OpenError, PacketSocket, ReadError, Readers, RingSize};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// After stop, a reader drains what is queued, but not for longer than this.
const DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// How long after its last frame is sent every point's frames can be harvested from rings cut
/// as `ring`: a frame may wait in a block the kernel is still filling for the ring's retire
/// time (see [`Running::harvest`]); twice that, for a busy machine, and never less than
/// [`SHORTEST_SETTLE`].
pub fn settle_time(ring: RingSize) -> Duration {
    (2 * ring.retire()).max(SHORTEST_SETTLE)
}

/// The settle time of the shortest timers: a `--capture-ring-kib` ring retires its blocks
/// after 5 ms, which a kernel ticking at 100 or 250 Hz stretches to 8 or 10, so twice that
/// leaves a busy machine no margin.
pub const SHORTEST_SETTLE: Duration = Duration::from_millis(100);

/// Partly filled blocks the lab's rings may hand over per second, at most, as their retire
/// timers fire. Each hand-over wakes a reader, mostly for a few frames: at 254 hosts (1,016
/// points) a 50 ms timer woke readers 20,000 times a second, and a 200 ms one made the whole
/// verify about a third faster (docs/benchmarks.md).
const HANDOVERS_PER_SECOND: u64 = 5_000;
/// The longest retire time: what each batch's harvest, and the end of the run, may wait.
const LONGEST_RETIRE_MS: u32 = 200;

/// `ring` with a retire time that keeps `points` rings to about 5,000 hand-overs a second: a
/// small lab keeps the ring's own, a large one waits longer for a block to fill.
pub fn paced(ring: RingSize, points: usize) -> RingSize {
    let spread = (points as u64).saturating_mul(1000) / HANDOVERS_PER_SECOND;
    let retire_ms = u32::try_from(spread).unwrap_or(u32::MAX);
    RingSize {
        retire_ms: retire_ms.clamp(ring.retire_ms, LONGEST_RETIRE_MS.max(ring.retire_ms)),
        ..ring
    }
}

/// An interface in a node that verify listens on.
#[derive(Debug, Clone)]
pub struct CapturePoint {
    /// The node and interface; `<node>-<iface>` is also the pcap file's stem.
    pub id: PointId,
    pub namespace: String,
    /// The lab host whose traffic the point carries: its own, its pod's, its router's. Points
    /// of one host are busy at the same moments, so capture readers spread them.
    pub host: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("node `{node}` has no interface `{iface}` (namespace {namespace}); is the lab fully deployed?")]
    MissingInterface {
        node: String,
        iface: String,
        namespace: String,
    },
    #[error("cannot start the capture readers: {0}")]
    Start(io::Error),
    #[error("cannot capture on {node}:{iface}: {source}")]
    Open {
        node: String,
        iface: String,
        source: io::Error,
    },
}

/// An open capture socket, not yet read; `mac` is the interface's own address.
pub type Opened = PacketSocket;

/// Opens a capture on `point`, read through a ring of `ring`'s size, that passes only the
/// frames `filter` (a classic BPF program, see [`super::bpf`]) accepts: the kernel drops the
/// rest before they are copied.
pub fn open_filtered(
    point: &CapturePoint,
    filter: &[libc::sock_filter],
    ring: RingSize,
) -> Result<Opened, CaptureError> {
    packet_socket::open(&point.namespace, &point.id.iface, Some(filter), ring).map_err(
        |e| match e {
            OpenError::Netns(e) => CaptureError::Netns(e),
            OpenError::NoInterface { .. } => CaptureError::MissingInterface {
                node: point.id.node.clone(),
                iface: point.id.iface.clone(),
                namespace: point.namespace.clone(),
            },
            OpenError::Os(e) => CaptureError::Open {
                node: point.id.node.clone(),
                iface: point.id.iface.clone(),
                source: e.into(),
            },
        },
    )
}

/// Captures running on their threads until [`Running::stop`]; [`Running::harvest`] takes
/// what they kept so far.
pub struct Running {
    readers: Readers<Vec<(usize, Captured)>>,
    taps: Vec<Arc<Tap>>,
}

/// One point's socket and what its frames left, shared by its reader and the harvester.
struct Tap {
    socket: PacketSocket,
    observer: Observer,
    observed: Mutex<Observed>,
}

impl Tap {
    fn observe(&self, frame: packet_socket::Frame<'_>) {
        if self.observer.outgoing_only && !frame.outgoing {
            return;
        }
        let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        let cut = frame.wire_len.saturating_sub(frame.data.len());
        let framed;
        let data = match frame.ethernet {
            true => frame.data,
            false => {
                framed = with_ethernet(frame.data);
                &framed
            }
        };
        self.observer
            .observe_cut(frame.ts, data, cut, &mut observed);
    }

    /// What was kept so far, with every frame the kernel has handed over read first.
    fn take(&self) -> Observed {
        // The ring's own lock comes first, as on the reader's side, so the two never wait
        // for each other in opposite order.
        self.socket.read_ready(|f| self.observe(f));
        let mut observed =
            std::mem::take(&mut *self.observed.lock().unwrap_or_else(|p| p.into_inner()));
        observed.done();
        observed
    }
}

/// A bare IP packet (from a device without a link-layer header, such as a WireGuard device)
/// behind an Ethernet header with no addresses, so the one dissector and judge read it as they
/// read every other point's frames.
pub fn with_ethernet(packet: &[u8]) -> Vec<u8> {
    let ethertype: u16 = match packet.first().map(|b| b >> 4) {
        Some(6) => 0x86dd,
        _ => 0x0800,
    };
    let mut frame = vec![0u8; 12];
    frame.extend(ethertype.to_be_bytes());
    frame.extend_from_slice(packet);
    frame
}

/// Points one reader thread serves. A thousand points on a thousand threads keep the
/// scheduler busy for nothing: most rings are quiet at any moment, and one epoll wait over a
/// group wakes its thread for whichever of them has frames.
const POINTS_PER_READER: usize = 16;

/// Reads every socket, a group of them per thread, each frame handed to its point's observer
/// as it arrives: `observers` go with `opened`, point by point. `together` names, per point,
/// what it belongs with (a lab host): such points are busy at the same moments, so they are
/// given to different readers.
pub fn start(
    opened: Vec<Opened>,
    observers: Vec<Observer>,
    together: &[usize],
) -> Result<Running, CaptureError> {
    assert_eq!(opened.len(), observers.len(), "one observer per point");
    assert_eq!(opened.len(), together.len(), "one key per point");
    let taps: Vec<Arc<Tap>> = opened
        .into_iter()
        .zip(observers)
        .map(|(socket, observer)| {
            Arc::new(Tap {
                socket,
                observer,
                observed: Mutex::default(),
            })
        })
        .collect();
    let groups: Vec<Vec<(usize, Arc<Tap>)>> = reader_groups(together)
        .into_iter()
        .map(|group| group.into_iter().map(|i| (i, taps[i].clone())).collect())
        .collect();
    let readers = packet_socket::start(groups, |_, group, stop| read_group(group, stop));
    let readers = readers.map_err(CaptureError::Start)?;
    Ok(Running { readers, taps })
}

/// Which points each reader serves: points in turn, taken in the order of what they belong
/// with, so that one host's points (its underlay, its router's legs, its pod), busy at the same
/// moments, go to different readers, and so do neighbouring hosts'. Dealt in the order the
/// points come, a lab of 100 hosts put each host's four points on one reader of 25, whose
/// rings overflowed while that host was a busy receiver.
fn reader_groups(together: &[usize]) -> Vec<Vec<usize>> {
    let readers = together.len().div_ceil(POINTS_PER_READER);
    let mut order: Vec<usize> = (0..together.len()).collect();
    order.sort_by_key(|&i| (together[i], i));
    let mut groups = vec![Vec::new(); readers];
    for (turn, i) in order.into_iter().enumerate() {
        groups[turn % readers].push(i);
    }
    groups
}

/// Reads one reader's points until `stop`; what each kept, with its point's index.
fn read_group(group: Vec<(usize, Arc<Tap>)>, stop: &packet_socket::Stop) -> Vec<(usize, Captured)> {
    let sockets: Vec<&PacketSocket> = group.iter().map(|(_, t)| &t.socket).collect();
    let ended =
        packet_socket::read_all_until(&sockets, stop, DRAIN_LIMIT, |k, f| group[k].1.observe(f));
    let captured = group
        .iter()
        .zip(ended)
        .map(|((i, tap), read)| {
            let captured = Captured {
                observed: tap.take(),
                ended_early: read.err(),
                dropped: tap.socket.drops(),
            };
            (*i, captured)
        })
        .collect();
    // Unless the harvester still holds them, the sockets close here.
    crate::sys::side_by_side::drop_all(group);
    captured
}

impl Running {
    /// Takes what every point kept so far, in the order the points were opened, after reading
    /// every frame the kernel has handed over. A frame still in a block the kernel is filling
    /// comes with a later harvest, or with [`Running::stop`]: wait the ring's retire time
    /// ([`RingSize::retire`]) after the last frame of interest before harvesting.
    pub fn harvest(&self) -> Vec<Observed> {
        self.taps.iter().map(|t| t.take()).collect()
    }

    /// Stops every reader once it has drained its queue, and returns what each point kept
    /// since the last harvest, in the order the points were opened.
    pub fn stop(self) -> Vec<Captured> {
        // The readers then hold the last reference to each socket, and close them all at once
        // (see side_by_side::drop_all).
        drop(self.taps);
        let mut captured: Vec<(usize, Captured)> =
            self.readers.stop().into_iter().flatten().collect();
        captured.sort_by_key(|(i, _)| *i);
        captured.into_iter().map(|(_, c)| c).collect()
    }
}

/// What one capture point saw, and why it stopped early if it did.
pub struct Captured {
    pub observed: Observed,
    /// A socket error ends that point's capture, not the run: an interface taken down is a
    /// fault of the lab that its pairs should show, not a reason to throw every verdict away.
    pub ended_early: Option<ReadError>,
    /// Frames the kernel dropped because the socket's buffer was full (PACKET_STATISTICS):
    /// the capture's fault, not the lab's.
    pub dropped: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netns::testing::Scratch;
    use crate::verify::id::{ProbeId, ProbeKind};
    use crate::verify::observe::Owner;
    use crate::wire::dissect::build::plain;
    use crate::wire::dissect::Tag;
    use std::collections::BTreeSet;
    use std::os::fd::AsRawFd;

    const RUN: u32 = 0x0bad_cafe;

    /// A namespace of one test's own with each of `veths` (one end, the other), both up.
    fn scratch(test: &str, veths: &[(&str, &str)]) -> Scratch {
        let steps: Vec<String> = veths
            .iter()
            .flat_map(|(a, b)| {
                [
                    format!("link add {a} type veth peer name {b}"),
                    format!("link set {a} up"),
                    format!("link set {b} up"),
                ]
            })
            .collect();
        let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
        Scratch::new(test, &steps)
    }

    /// Sends pair `pair`'s ping out of `iface` in `scratch`, to be captured on its peer.
    fn send_probe(scratch: &Scratch, iface: &str, pair: usize) {
        use nix::sys::socket::{sendto, MsgFlags};
        let id = ProbeId::new(pair, ProbeKind::Ping);
        let tag = Tag {
            run: RUN,
            probe: id.emit(),
            attempt: 0,
        };
        let frame = plain("172.16.0.2", "172.16.1.2", false, Some(tag));
        let iface = iface.to_string();
        crate::sys::netns::in_netns(scratch.name(), move || {
            let fd = crate::sys::packet_socket::unbound().unwrap();
            let index = nix::net::if_::if_nametoindex(iface.as_str()).unwrap();
            let to = crate::sys::packet_socket::link_addr(index);
            sendto(fd.as_raw_fd(), &frame, &to, MsgFlags::empty()).unwrap();
        })
        .unwrap();
    }

    fn capture(scratch: &Scratch, iface: &str) -> PacketSocket {
        packet_socket::open(scratch.name(), iface, None, RingSize::PROBES).unwrap()
    }

    fn observer() -> Observer {
        Observer {
            run: RUN,
            pairs: 8,
            vxlan_ports: vec![4789],
            pod_point: true,
            keep_raw: false,
            outgoing_only: false,
        }
    }

    fn pairs_kept(observed: &Observed) -> Vec<usize> {
        let mut pairs: Vec<usize> = observed
            .kept
            .iter()
            .filter_map(|k| match k.sighting.as_ref()?.owner {
                Owner::Probe { id, .. } => Some(id.pair),
                _ => None,
            })
            .collect();
        pairs.sort();
        pairs
    }

    /// A small lab's rings keep their own retire time; a large one's wait longer, within the
    /// longest, so that their timers do not wake the readers tens of thousands of times a second.
    #[test]
    fn retire_times_grow_with_the_points_within_bounds() {
        let retire = |ring: RingSize, points| paced(ring, points).retire_ms;
        assert_eq!(retire(RingSize::PROBES, 0), 50);
        assert_eq!(retire(RingSize::PROBES, 120), 50, "a 30-host lab");
        assert_eq!(retire(RingSize::PROBES, 400), 80, "a 100-host lab");
        assert_eq!(retire(RingSize::PROBES, 1016), 200, "a 254-host lab");
        assert_eq!(retire(RingSize::PROBES, usize::MAX), LONGEST_RETIRE_MS);
        let slow = RingSize {
            retire_ms: 500,
            ..RingSize::PROBES
        };
        assert_eq!(retire(slow, 1016), 500, "never below the ring's own");
        let paced = paced(RingSize::PROBES_WHOLE, 1016);
        assert_eq!(
            (paced.block, paced.blocks),
            (32 << 10, 8),
            "only the timer changes"
        );
        assert_eq!(settle_time(paced), Duration::from_millis(400));
        let sized = RingSize::sized(64 << 10);
        assert_eq!(settle_time(sized), SHORTEST_SETTLE, "a 5 ms timer's floor");
    }

    /// What verify judges phase by phase rests on this: a harvest holds every frame captured
    /// a settle time before it, and a frame is handed over once, by one harvest or by stop.
    #[test]
    fn a_harvest_takes_what_was_captured_so_far_and_stop_only_what_came_after() {
        let scratch = scratch("harvest", &[("va", "vb")]);
        let running = start(vec![capture(&scratch, "va")], vec![observer()], &[0]).unwrap();
        for pair in 0..3 {
            send_probe(&scratch, "vb", pair);
        }
        std::thread::sleep(settle_time(RingSize::PROBES));
        let first = running.harvest();
        send_probe(&scratch, "vb", 3);
        std::thread::sleep(settle_time(RingSize::PROBES));
        let second = running.harvest();
        let third = running.harvest();
        send_probe(&scratch, "vb", 4);
        let last = running.stop();
        assert_eq!(pairs_kept(&first[0]), [0, 1, 2]);
        assert_eq!(pairs_kept(&second[0]), [3]);
        assert_eq!(
            pairs_kept(&third[0]),
            [0usize; 0],
            "a frame was handed over twice"
        );
        assert_eq!(pairs_kept(&last[0].observed), [4]);
    }

    /// Points share reader threads: an interface that goes away ends its own capture, with
    /// the reason, and the points read beside it keep capturing.
    #[test]
    fn a_point_whose_interface_goes_ends_alone_on_a_shared_reader() {
        let scratch = scratch("shared", &[("va", "vb"), ("wa", "wb")]);
        let sockets = vec![capture(&scratch, "va"), capture(&scratch, "wa")];
        assert!(
            sockets.len() <= POINTS_PER_READER,
            "both points on one reader"
        );
        let running = start(sockets, vec![observer(), observer()], &[0, 1]).unwrap();
        let gone = std::process::Command::new("ip")
            .args(["-n", scratch.name(), "link", "del", "wa"])
            .status();
        assert!(gone.is_ok_and(|s| s.success()));
        send_probe(&scratch, "vb", 1);
        std::thread::sleep(settle_time(RingSize::PROBES));
        let captured = running.stop();
        assert_eq!(pairs_kept(&captured[0].observed), [1]);
        assert!(captured[0].ended_early.is_none());
        assert!(
            captured[1].ended_early.is_some(),
            "the capture on the deleted interface did not end"
        );
    }

    #[test]
    fn one_host_s_points_go_to_different_readers_and_every_reader_gets_its_share() {
        // As verify lists a 100-host lab's points: underlays, then the routers' two legs,
        // then pods, each class in host order.
        let hosts = 100;
        let together: Vec<usize> = (0..4).flat_map(|_| 1..=hosts).collect();
        let groups = reader_groups(&together);
        assert_eq!(groups.len(), 400 / POINTS_PER_READER);
        assert!(groups.iter().all(|g| g.len() == POINTS_PER_READER));
        let all: BTreeSet<usize> = groups.iter().flatten().copied().collect();
        assert_eq!(all.len(), together.len(), "every point once");
        for group in &groups {
            let owners: BTreeSet<usize> = group.iter().map(|&i| together[i]).collect();
            assert_eq!(
                owners.len(),
                group.len(),
                "one reader has two points of a host"
            );
        }
    }
}
