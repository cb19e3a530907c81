//! Listening on the lab's wires: one AF_PACKET socket per capture point, opened inside the
//! node's namespace through pnet's datalink channel, read on a thread of its own.
//!
//! A socket keeps the namespace it was created in, so only the opening happens inside the
//! namespace (on a scoped thread, see [`crate::netns::in_netns`]); the reading thread never
//! changes namespace. The sender half of the channel is dropped unused: verify never injects.

use crate::netns::{in_netns, NetnsError};
use pnet_datalink::{self as datalink, Channel, Config, DataLinkReceiver};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a reader wakes up to look at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// After stop, a reader drains what is queued, but not for longer than this.
const DRAIN_LIMIT: Duration = Duration::from_millis(500);
/// Room for bursts: every pod probes every other pod at once, and a router leg sees many pairs.
const RCVBUF: libc::c_int = 32 << 20;

/// One captured frame and when it was read.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Since the Unix epoch, as pcap wants it.
    pub ts: Duration,
    pub data: Vec<u8>,
}

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
    #[error("cannot capture on {node}:{iface}: {source}")]
    Open {
        node: String,
        iface: String,
        source: io::Error,
    },
}

/// An open capture socket, not yet read.
pub struct Opened {
    rx: Box<dyn DataLinkReceiver>,
    /// The socket under `rx`, kept to ask the kernel how many frames it dropped.
    fd: libc::c_int,
    /// The interface's own MAC address.
    pub mac: Option<[u8; 6]>,
}

/// Opens a capture on `point` that sees every frame.
pub fn open(point: &CapturePoint) -> Result<Opened, CaptureError> {
    open_with(point, None)
}

/// Opens a capture on `point` that passes only the frames `filter` (a classic BPF program,
/// see [`super::bpf`]) accepts: the kernel drops the rest before they are copied.
pub fn open_filtered(
    point: &CapturePoint,
    filter: &[libc::sock_filter],
) -> Result<Opened, CaptureError> {
    open_with(point, Some(filter))
}

fn open_with(
    point: &CapturePoint,
    filter: Option<&[libc::sock_filter]>,
) -> Result<Opened, CaptureError> {
    let open_err = |source| CaptureError::Open {
        node: point.node.clone(),
        iface: point.iface.clone(),
        source,
    };
    in_netns(&point.namespace, || {
        let Some(iface) = datalink::interfaces()
            .into_iter()
            .find(|i| i.name == point.iface)
        else {
            return Err(CaptureError::MissingInterface {
                node: point.node.clone(),
                iface: point.iface.clone(),
                namespace: point.namespace.clone(),
            });
        };
        // Protocol 0 receives nothing until pnet binds it to the interface with ETH_P_ALL, so
        // no frame from another interface slips in; the larger buffer is set before that.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        if fd < 0 {
            return Err(open_err(io::Error::last_os_error()));
        }
        let size = RCVBUF;
        // SO_RCVBUFFORCE (root) goes past net.core.rmem_max; failing that the default stays.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        // Attached before pnet binds the socket, so no unfiltered frame is ever queued.
        if let Some(Err(e)) = filter.map(|f| super::bpf::attach(fd, f)) {
            unsafe { libc::close(fd) };
            return Err(open_err(e));
        }
        let config = Config {
            read_buffer_size: 65536,
            read_timeout: Some(POLL),
            socket_fd: Some(fd),
            ..Default::default()
        };
        match datalink::channel(&iface, config) {
            Ok(Channel::Ethernet(_tx, rx)) => Ok(Opened {
                rx,
                fd,
                mac: iface.mac.map(|m| m.octets()),
            }),
            Ok(_) => Err(open_err(io::Error::other("not an Ethernet channel"))),
            Err(e) => Err(open_err(e)),
        }
    })?
}

/// Captures running on their threads until [`Running::stop`].
pub struct Running {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Captured>>,
}

pub fn start(opened: Vec<Opened>) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = opened
        .into_iter()
        .map(|o| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let Opened { mut rx, fd, .. } = o;
                let mut captured = read(rx.as_mut(), &stop);
                // Asked before `rx`, which owns the socket, is dropped.
                captured.dropped = dropped(fd);
                captured
            })
        })
        .collect();
    Running { stop, threads }
}

impl Running {
    /// Stops every reader once it has drained its queue, and returns the frames per point, in
    /// the order the points were opened.
    pub fn stop(self) -> Vec<Captured> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    }
}

/// What one capture point saw, and why it stopped early if it did.
pub struct Captured {
    pub frames: Vec<Frame>,
    /// A socket error ends that point's capture, not the run: an interface taken down is a
    /// fault of the lab that its pairs should show, not a reason to throw every verdict away.
    pub ended_early: Option<io::Error>,
    /// Frames the kernel dropped because the socket's buffer was full (PACKET_STATISTICS):
    /// the capture's fault, not the lab's.
    pub dropped: u32,
}

/// The kernel's count of frames dropped on this packet socket since it was opened.
fn dropped(fd: libc::c_int) -> u32 {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut stats as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        stats.tp_drops
    } else {
        0
    }
}

fn read(rx: &mut dyn DataLinkReceiver, stop: &AtomicBool) -> Captured {
    let mut frames = Vec::new();
    let mut stopping_since: Option<Instant> = None;
    loop {
        if stopping_since.is_none() && stop.load(Ordering::Relaxed) {
            stopping_since = Some(Instant::now());
        }
        let done = |frames, ended_early| Captured {
            frames,
            ended_early,
            dropped: 0,
        };
        if stopping_since.is_some_and(|t| t.elapsed() > DRAIN_LIMIT) {
            return done(frames, None);
        }
        match rx.next() {
            Ok(data) => {
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                frames.push(Frame {
                    ts,
                    data: data.to_vec(),
                });
            }
            // A quiet interval: nothing queued, so once stopping there is nothing left to drain.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                if stopping_since.is_some() {
                    return done(frames, None);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return done(frames, Some(e)),
        }
    }
}
