//! The one way cnilab listens on a wire, for verify, trace and bench alike: an AF_PACKET
//! socket opened in a node's namespace and bound to one interface, optionally behind a
//! classic BPF filter, whose frames carry the time the kernel captured them (SO_TIMESTAMPNS),
//! and which can say how many frames the kernel dropped on it (PACKET_STATISTICS).
//!
//! A socket keeps the namespace it was created in, so only the opening happens inside the
//! namespace (on a scoped thread, see [`crate::netns::in_netns`]); the reading thread never
//! changes namespace.
//!
//! The kernel stamps a frame once, when it crosses the device, and every packet socket on
//! that device (tcpdump's included) reads the same stamp: so the time here is the wire's time,
//! not the moment cnilab got round to reading the frame.

use crate::netns::{in_netns, NetnsError};
use nix::sys::socket::{
    bind, getsockopt, recvmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned,
    LinkAddr, MsgFlags, SockFlag, SockType, SockaddrLike,
};
use nix::sys::time::TimeVal;
use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};
use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a reader wakes up to look at the stop flag.
const POLL: Duration = Duration::from_millis(20);
/// Room for bursts: every pod probes every other pod at once, and a router leg sees many pairs.
const RCVBUF: usize = 32 << 20;
/// The largest frame read whole; a longer one (a GSO super-packet) is cut here.
pub const SNAPLEN: usize = 65536;
const PACKET_OUTGOING: u8 = 4;

sockopt_impl!(
    /// SO_ATTACH_FILTER: a classic BPF program that decides which frames reach the socket.
    AttachFilter,
    SetOnly,
    libc::SOL_SOCKET,
    libc::SO_ATTACH_FILTER,
    libc::sock_fprog
);
sockopt_impl!(
    /// PACKET_STATISTICS: frames queued and dropped since last asked.
    PacketStatistics,
    GetOnly,
    libc::SOL_PACKET,
    libc::PACKET_STATISTICS,
    libc::tpacket_stats
);

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("no interface `{iface}` in namespace {namespace}")]
    NoInterface { iface: String, namespace: String },
    #[error("{0}")]
    Os(#[from] nix::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the kernel gave no capture timestamp for a frame")]
    NoTimestamp,
    #[error(transparent)]
    Os(#[from] io::Error),
}

/// An open capture socket bound to one interface.
pub struct PacketSocket {
    fd: OwnedFd,
    /// The interface's own MAC address, when it has one (a tunnel device has none).
    pub mac: Option<[u8; 6]>,
}

/// One frame as the kernel handed it over.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Since the Unix epoch: when the kernel captured the frame.
    pub ts: Duration,
    /// Sent by this interface, rather than received.
    pub outgoing: bool,
    /// An Ethernet frame; otherwise a bare IP packet, as on an ipip tunnel device.
    pub ethernet: bool,
    /// At most [`SNAPLEN`] bytes of the frame.
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: usize,
}

/// Opens a capture on `iface` in `namespace`. With `filter`, only the frames that classic BPF
/// program accepts are copied to user space; the kernel drops the rest.
pub fn open(
    namespace: &str,
    iface: &str,
    filter: Option<&[libc::sock_filter]>,
) -> Result<PacketSocket, OpenError> {
    in_netns(namespace, || {
        let ifindex = match nix::net::if_::if_nametoindex(iface) {
            Ok(i) => i,
            Err(nix::Error::ENODEV) => {
                return Err(OpenError::NoInterface {
                    iface: iface.to_string(),
                    namespace: namespace.to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        // Protocol 0 receives nothing until bound, so no other interface's frame slips in,
        // and the filter is in place before the first frame is queued.
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        // Past net.core.rmem_max needs root, which capturing needs anyway; failing that the
        // default buffer stays.
        let _ = setsockopt(&fd, sockopt::RcvBufForce, &RCVBUF);
        setsockopt(&fd, sockopt::ReceiveTimestampns, &true)?;
        setsockopt(
            &fd,
            sockopt::ReceiveTimeout,
            &TimeVal::new(0, POLL.as_micros() as _),
        )?;
        if let Some(program) = filter {
            attach_filter(&fd, program)?;
        }
        bind(fd.as_raw_fd(), &link_addr(ifindex))?;
        Ok(PacketSocket {
            fd,
            mac: mac_of(iface),
        })
    })?
}

/// Attaches a classic BPF `program` to `socket` (SO_ATTACH_FILTER); the kernel checks the
/// program here and refuses one that is not valid.
pub fn attach_filter(socket: &impl AsFd, program: &[libc::sock_filter]) -> nix::Result<()> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| nix::Error::EINVAL)?,
        filter: program.as_ptr().cast_mut(),
    };
    setsockopt(socket, AttachFilter, &fprog)
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

/// The link-layer address of `iface` in the current namespace.
fn mac_of(iface: &str) -> Option<[u8; 6]> {
    nix::ifaddrs::getifaddrs()
        .ok()?
        .filter(|a| a.interface_name == iface)
        .find_map(|a| a.address?.as_link_addr()?.addr())
        .filter(|m| *m != [0; 6])
}

impl PacketSocket {
    /// Shrinks the socket's receive buffer to `bytes` (the kernel doubles it and keeps a
    /// floor of a few KiB): a full buffer makes the kernel drop frames and count them.
    pub fn set_buffer(&self, bytes: usize) -> nix::Result<()> {
        setsockopt(&self.fd, sockopt::RcvBufForce, &bytes)
    }

    /// Frames the kernel dropped on this socket because its buffer was full, since the last
    /// time this was asked (the kernel resets the counters on each read).
    pub fn drops(&self) -> u32 {
        getsockopt(&self.fd, PacketStatistics).map_or(0, |s| s.tp_drops)
    }

    /// Hands every frame to `on_frame` until `stop` is set; then drains what is queued, for at
    /// most `drain_limit`. An error of the socket ends the reading.
    pub fn read_until(
        &self,
        stop: &AtomicBool,
        drain_limit: Duration,
        mut on_frame: impl FnMut(Frame<'_>),
    ) -> Result<(), ReadError> {
        let mut buf = vec![0u8; SNAPLEN];
        let mut stopping_since: Option<Instant> = None;
        loop {
            if stopping_since.is_none() && stop.load(Ordering::Relaxed) {
                stopping_since = Some(Instant::now());
            }
            if stopping_since.is_some_and(|t| t.elapsed() > drain_limit) {
                return Ok(());
            }
            match self.receive(&mut buf)? {
                Some(m) => on_frame(Frame {
                    ts: m.ts,
                    outgoing: m.outgoing,
                    ethernet: m.ethernet,
                    data: &buf[..m.wire_len.min(SNAPLEN)],
                    wire_len: m.wire_len,
                }),
                // Nothing queued: once stopping, there is nothing left to drain.
                None if stopping_since.is_some() => return Ok(()),
                None => {}
            }
        }
    }

    /// One frame into `buf`, and what the kernel said of it; None when the wait timed out.
    fn receive(&self, buf: &mut [u8]) -> Result<Option<Received>, ReadError> {
        let mut iov = [IoSliceMut::new(buf)];
        let mut space = nix::cmsg_space!(nix::sys::time::TimeSpec);
        let msg = match recvmsg::<LinkAddr>(
            self.fd.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_TRUNC,
        ) {
            Ok(msg) => msg,
            Err(nix::Error::EAGAIN | nix::Error::EINTR) => return Ok(None),
            Err(e) => return Err(io::Error::from(e).into()),
        };
        let outgoing = msg.address.is_some_and(|a| a.pkttype() == PACKET_OUTGOING);
        let ethernet = msg
            .address
            .map_or(true, |a| a.hatype() == libc::ARPHRD_ETHER);
        let ts = msg
            .cmsgs()
            .map_err(io::Error::from)?
            .find_map(|c| match c {
                ControlMessageOwned::ScmTimestampns(t) => {
                    Some(Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
                }
                _ => None,
            })
            .ok_or(ReadError::NoTimestamp)?;
        Ok(Some(Received {
            ts,
            outgoing,
            ethernet,
            wire_len: msg.bytes,
        }))
    }
}

struct Received {
    ts: Duration,
    outgoing: bool,
    ethernet: bool,
    wire_len: usize,
}

/// Sockets read each on a thread of its own until [`Readers::stop`].
pub struct Readers<T> {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<T>>,
}

/// Starts one reading thread per socket: `read(index, socket, stop)` runs there, and what it
/// returns is handed back by [`Readers::stop`], in the order of `sockets`.
pub fn start<T, F>(sockets: Vec<PacketSocket>, read: F) -> Readers<T>
where
    T: Send + 'static,
    F: Fn(usize, PacketSocket, &AtomicBool) -> T + Send + Clone + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let threads = sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let (stop, read) = (stop.clone(), read.clone());
            std::thread::spawn(move || read(i, socket, &stop))
        })
        .collect();
    Readers { stop, threads }
}

impl<T> Readers<T> {
    /// Tells every reader to stop once it has drained its queue, and waits for them.
    pub fn stop(self) -> Vec<T> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    }
}
