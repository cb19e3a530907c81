//! Listening on every interface of every node: one AF_PACKET socket per interface, opened in
//! the node's namespace, each frame stamped by the kernel (SO_TIMESTAMPNS), not when read.
//!
//! The kernel stamps a frame once, when it crosses a device, so two capture points that see the
//! same skb within one namespace (a bridge port and its bridge) carry the same time; the walk
//! orders such ties itself.

use crate::netns::{in_netns, NetnsError};
use nix::sys::socket::{
    bind, recvmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned, LinkAddr,
    MsgFlags, SockFlag, SockType, SockaddrLike,
};
use nix::sys::time::TimeVal;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a reader wakes up to look at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// After stop, a reader drains what is queued, but not for longer than this.
const DRAIN_LIMIT: Duration = Duration::from_millis(300);
const SNAPLEN: usize = 65536;
const PACKET_OUTGOING: u8 = 4;

/// An interface of a node, where trace listens.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Point {
    pub node: String,
    #[serde(skip)]
    pub namespace: String,
    pub iface: String,
    #[serde(skip)]
    pub ifindex: u32,
}

impl Point {
    pub fn label(&self) -> String {
        format!("{}:{}", self.node, self.iface)
    }
}

/// One frame, with the kernel's time and the point (index into the points) that saw it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub ts: Duration,
    pub point: usize,
    pub outgoing: bool,
    /// An Ethernet frame; otherwise a bare IP packet, as on an ipip tunnel device.
    pub ethernet: bool,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("cannot capture on {point}: {source}")]
    Open { point: String, source: io::Error },
    #[error("the kernel gave no capture timestamp for a frame on {0}")]
    NoTimestamp(String),
}

/// Every interface but loopback in the namespace of each `(node, namespace)`.
pub fn points(nodes: &[(String, String)]) -> Result<Vec<Point>, CaptureError> {
    let mut out = Vec::new();
    for (node, namespace) in nodes {
        let names = in_netns(namespace, up_interfaces)?.map_err(|e| CaptureError::Open {
            point: format!("{node}:*"),
            source: e.into(),
        })?;
        for (iface, ifindex) in names.into_iter().filter(|(n, _)| n != "lo") {
            out.push(Point {
                node: node.clone(),
                namespace: namespace.clone(),
                iface,
                ifindex,
            });
        }
    }
    Ok(out)
}

/// Interfaces that are up, with their indexes. One that is down (such as the `tunl0` that
/// loading the ipip module puts in every namespace) carries nothing, and a packet socket bound
/// to it fails with ENETDOWN.
fn up_interfaces() -> nix::Result<Vec<(String, u32)>> {
    use nix::net::if_::InterfaceFlags;
    let mut out: Vec<(String, u32)> = Vec::new();
    for a in nix::ifaddrs::getifaddrs()? {
        let up = a.flags.contains(InterfaceFlags::IFF_UP);
        if up && !out.iter().any(|(n, _)| *n == a.interface_name) {
            let index = nix::net::if_::if_nametoindex(a.interface_name.as_str())?;
            out.push((a.interface_name, index));
        }
    }
    out.sort_by_key(|(_, i)| *i);
    Ok(out)
}

pub fn open(point: &Point) -> Result<OwnedFd, CaptureError> {
    let err = |e: nix::Error| CaptureError::Open {
        point: point.label(),
        source: e.into(),
    };
    in_netns(&point.namespace, || {
        // Protocol 0 receives nothing until bound, so no other interface's frame slips in.
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(err)?;
        setsockopt(&fd, sockopt::ReceiveTimestampns, &true).map_err(err)?;
        setsockopt(
            &fd,
            sockopt::ReceiveTimeout,
            &TimeVal::new(0, POLL.as_micros() as _),
        )
        .map_err(err)?;
        bind(fd.as_raw_fd(), &link_addr(point.ifindex)).map_err(err)?;
        Ok(fd)
    })?
}

/// `sockaddr_ll` for every protocol on one interface; nix builds a LinkAddr only from raw.
fn link_addr(ifindex: u32) -> LinkAddr {
    // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = ifindex as i32;
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the pointer is to a live, fully initialised sockaddr_ll of `len` bytes.
    unsafe { LinkAddr::from_raw((&sll as *const libc::sockaddr_ll).cast(), Some(len)) }
        .expect("a sockaddr_ll is a LinkAddr")
}

/// Readers running until [`Running::stop`].
pub struct Running {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<Vec<Frame>, CaptureError>>>,
}

pub fn start(points: &[Point], fds: Vec<OwnedFd>) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = fds
        .into_iter()
        .enumerate()
        .map(|(i, fd)| {
            let stop = stop.clone();
            let label = points[i].label();
            std::thread::spawn(move || read(fd, i, &label, &stop))
        })
        .collect();
    Running { stop, threads }
}

impl Running {
    /// Every frame of every point; a point whose socket failed is an error.
    pub fn stop(self) -> Result<Vec<Frame>, CaptureError> {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Vec::new();
        for t in self.threads {
            all.extend(t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?);
        }
        Ok(all)
    }
}

fn read(
    fd: OwnedFd,
    point: usize,
    label: &str,
    stop: &AtomicBool,
) -> Result<Vec<Frame>, CaptureError> {
    let mut frames = Vec::new();
    let mut buf = vec![0u8; SNAPLEN];
    let mut stopping_since: Option<Instant> = None;
    loop {
        if stopping_since.is_none() && stop.load(Ordering::Relaxed) {
            stopping_since = Some(Instant::now());
        }
        if stopping_since.is_some_and(|t| t.elapsed() > DRAIN_LIMIT) {
            return Ok(frames);
        }
        match receive(&fd, &mut buf) {
            Ok(Some((len, outgoing, ethernet, ts))) => {
                let ts = ts.ok_or_else(|| CaptureError::NoTimestamp(label.to_string()))?;
                frames.push(Frame {
                    ts,
                    point,
                    outgoing,
                    ethernet,
                    data: buf[..len].to_vec(),
                });
            }
            // Nothing queued: once stopping, there is nothing left to drain.
            Ok(None) if stopping_since.is_some() => return Ok(frames),
            Ok(None) => {}
            // The interface went down under the capture: what it saw so far still counts.
            Err(e) if e.raw_os_error() == Some(libc::ENETDOWN) => return Ok(frames),
            Err(source) => {
                return Err(CaptureError::Open {
                    point: label.to_string(),
                    source,
                })
            }
        }
    }
}

type Received = Option<(usize, bool, bool, Option<Duration>)>;

/// One frame with its length, direction and kernel timestamp; None when the wait timed out.
fn receive(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Received> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let msg = match recvmsg::<LinkAddr>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_TRUNC,
    ) {
        Ok(msg) => msg,
        Err(nix::Error::EAGAIN | nix::Error::EINTR) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let outgoing = msg.address.is_some_and(|a| a.pkttype() == PACKET_OUTGOING);
    let ethernet = msg
        .address
        .map_or(true, |a| a.hatype() == libc::ARPHRD_ETHER);
    let ts = msg.cmsgs()?.find_map(|c| match c {
        ControlMessageOwned::ScmTimestampns(t) => {
            Some(Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
        }
        _ => None,
    });
    Ok(Some((msg.bytes.min(SNAPLEN), outgoing, ethernet, ts)))
}
