//! Listening on the lab's wires: one packet socket per capture point (see
//! [`crate::packet_socket`]), read on a thread of its own that dissects each frame as it
//! arrives (see [`super::observe`]).

use super::observe::{Observed, Observer};
use crate::netns::NetnsError;
use crate::packet_socket::{self, OpenError, PacketSocket, ReadError, Readers, RingSize};
use std::io;
use std::time::Duration;

/// After stop, a reader drains what is queued, but not for longer than this.
const DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// An interface in a node that verify listens on.
#[derive(Debug, Clone)]
pub struct CapturePoint {
    /// `<node>-<iface>`, also the pcap file's stem.
    pub name: String,
    pub node: String,
    pub namespace: String,
    pub iface: String,
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

/// For tests only: each capture ring's size in bytes, made so small that the kernel must
/// drop frames, to show that verify reports such drops as the capture's and not as the lab's.
/// Not a user setting: a real run keeps [`RingSize::PROBES`].
pub const TEST_BUFFER_ENV: &str = "CNILAB_TEST_CAPTURE_BUFFER";

/// Opens a capture on `point` that passes only the frames `filter` (a classic BPF program,
/// see [`super::bpf`]) accepts: the kernel drops the rest before they are copied.
pub fn open_filtered(
    point: &CapturePoint,
    filter: &[libc::sock_filter],
) -> Result<Opened, CaptureError> {
    let ring = std::env::var(TEST_BUFFER_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(RingSize::PROBES, RingSize::tiny);
    packet_socket::open(&point.namespace, &point.iface, Some(filter), ring).map_err(|e| match e {
        OpenError::Netns(e) => CaptureError::Netns(e),
        OpenError::NoInterface { .. } => CaptureError::MissingInterface {
            node: point.node.clone(),
            iface: point.iface.clone(),
            namespace: point.namespace.clone(),
        },
        OpenError::Os(e) => CaptureError::Open {
            node: point.node.clone(),
            iface: point.iface.clone(),
            source: e.into(),
        },
    })
}

/// Captures running on their threads until [`Running::stop`].
pub struct Running(Readers<Captured>);

/// Reads every socket on a thread of its own, each frame handed to its point's observer as it
/// arrives: `observers` go with `opened`, point by point.
pub fn start(opened: Vec<Opened>, observers: Vec<Observer>) -> Result<Running, CaptureError> {
    assert_eq!(opened.len(), observers.len(), "one observer per point");
    let observers = std::sync::Arc::new(observers);
    let readers = packet_socket::start(opened, move |i, socket, stop| {
        let mut observed = Observed::default();
        let read = socket.read_until(stop, DRAIN_LIMIT, |f| {
            observers[i].observe(f.ts, f.data, &mut observed)
        });
        observed.done();
        Captured {
            observed,
            ended_early: read.err(),
            dropped: socket.drops(),
        }
    });
    readers.map(Running).map_err(CaptureError::Start)
}

impl Running {
    /// Stops every reader once it has drained its queue, and returns what each point kept, in
    /// the order the points were opened.
    pub fn stop(self) -> Vec<Captured> {
        self.0.stop()
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
