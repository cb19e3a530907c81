//! The one way cnilab listens on a wire, for verify, trace and bench alike: an AF_PACKET
//! socket opened in a node's namespace and bound to one interface, optionally behind a
//! classic BPF filter, read through a receive ring (see [`crate::sys::packet_ring`]) whose frames
//! carry the time the kernel captured them, and which can say how many frames the kernel
//! dropped on it (PACKET_STATISTICS).
//!
//! A socket keeps the namespace it was created in, so only the opening happens inside the
//! namespace (on a scoped thread, see [`crate::sys::netns::in_netns`]); the reading thread never
//! changes namespace.
//!
//! The kernel stamps a frame once, when it crosses the device, and every packet socket on
//! that device (tcpdump's included) reads the same stamp: so the time here is the wire's time,
//! not the moment cnilab got round to reading the frame. SO_TIMESTAMPNS stays set although a
//! ring reports the time in each frame's header: it is what turns the kernel's stamping of
//! frames on (`net_enable_timestamp`), without which each socket would read its own clock.

use crate::sys::netns::{in_netns, NetnsError};
pub use crate::sys::packet_ring::RingSize;
use crate::sys::packet_ring::{Ring, RingFrame};
use nix::poll::PollTimeout;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::socket::{
    bind, getsockopt, setsockopt, socket, sockopt, AddressFamily, LinkAddr, SockFlag, SockType,
    SockaddrLike,
};
use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    #[error(transparent)]
    Os(#[from] io::Error),
}

/// An open capture socket bound to one interface.
pub struct PacketSocket {
    // Unmapped before the socket closes: fields drop in order.
    ring: Ring,
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
    /// The frame, or as much of it as fits a ring block.
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: usize,
}

impl<'a> From<RingFrame<'a>> for Frame<'a> {
    fn from(f: RingFrame<'a>) -> Frame<'a> {
        Frame {
            ts: f.ts,
            outgoing: f.pkttype == PACKET_OUTGOING,
            ethernet: f.hatype == libc::ARPHRD_ETHER,
            data: f.data,
            wire_len: f.wire_len,
        }
    }
}

/// Opens a capture on `iface` in `namespace`, read through a ring of `ring`'s size. With
/// `filter`, only the frames that classic BPF program accepts are copied to user space; the
/// kernel drops the rest.
pub fn open(
    namespace: &str,
    iface: &str,
    filter: Option<&[libc::sock_filter]>,
    ring: RingSize,
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
        // Unbound, so no other interface's frame slips in, and the filter is in place
        // before the first frame is queued.
        let fd = unbound()?;
        setsockopt(&fd, sockopt::ReceiveTimestampns, &true)?;
        if let Some(program) = filter {
            attach_filter(&fd, program)?;
        }
        let ring = Ring::attach(fd.as_fd(), ring)?;
        bind(fd.as_raw_fd(), &link_addr(ifindex))?;
        Ok(PacketSocket {
            ring,
            fd,
            mac: mac_of(iface),
        })
    })?
}

/// A raw packet socket of protocol 0: it receives nothing until bound, and can send whole
/// Ethernet frames on any interface of its namespace.
pub fn unbound() -> nix::Result<OwnedFd> {
    socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
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
pub fn link_addr(ifindex: u32) -> LinkAddr {
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

/// The link-layer address of `iface` in the calling thread's namespace; none for an
/// all-zero one (a tunnel device's).
pub fn mac_of(iface: &str) -> Option<[u8; 6]> {
    nix::ifaddrs::getifaddrs()
        .ok()?
        .filter(|a| a.interface_name == iface)
        .find_map(|a| a.address?.as_link_addr()?.addr())
        .filter(|m| *m != [0; 6])
}

impl PacketSocket {
    /// Frames the kernel dropped on this socket because its ring was full, since the last
    /// time this was asked (the kernel resets the counters on each read).
    pub fn drops(&self) -> u32 {
        getsockopt(&self.fd, PacketStatistics).map_or(0, |s| s.tp_drops)
    }

    /// Hands every frame to `on_frame` until `stop` is given; then drains what is still
    /// coming, for at most `drain_limit`. An error of the socket ends the reading.
    pub fn read_until(
        &self,
        stop: &Stop,
        drain_limit: Duration,
        mut on_frame: impl FnMut(Frame<'_>),
    ) -> Result<(), ReadError> {
        let mut ended = read_all_until(&[self], stop, drain_limit, |_, f| on_frame(f));
        ended.pop().unwrap_or(Ok(()))
    }

    /// Hands every frame the kernel has passed over so far to `on_frame`, without waiting;
    /// returns how many blocks were read. Safe beside a thread in [`Self::read_until`]: the
    /// two take turns, and each frame goes to one of them.
    pub fn read_ready(&self, mut on_frame: impl FnMut(Frame<'_>)) -> usize {
        self.ring.drain(|f| on_frame(Frame::from(f)))
    }

    /// The error that ended this socket (its interface gone, most often).
    fn error(&self) -> ReadError {
        match getsockopt(&self.fd, sockopt::SocketError) {
            Ok(err) => io::Error::from_raw_os_error(err).into(),
            Err(e) => io::Error::from(e).into(),
        }
    }
}

/// Reads several sockets on one thread: each frame goes to `on_frame` with the index of its
/// socket, until `stop` is given; then what is still coming is drained, for at most
/// `drain_limit`. An error of one socket ends its reading alone, and is returned in its place.
pub fn read_all_until(
    sockets: &[&PacketSocket],
    stop: &Stop,
    drain_limit: Duration,
    mut on_frame: impl FnMut(usize, Frame<'_>),
) -> Vec<Result<(), ReadError>> {
    let mut waiter = match Waiter::new(sockets, stop) {
        Ok(waiter) => waiter,
        // Every socket ends with the reason: an io::Error is not Clone, its OS error is.
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            return (sockets.iter())
                .map(|_| Err(io::Error::from_raw_os_error(errno).into()))
                .collect();
        }
    };
    let mut ended: Vec<Option<ReadError>> = sockets.iter().map(|_| None).collect();
    let mut drain = |i: usize| sockets[i].ring.drain(|f| on_frame(i, Frame::from(f)));
    while !stop.given() && ended.iter().any(Option::is_none) {
        for i in waiter.wait(sockets, &mut ended, None) {
            drain(i);
        }
    }
    // A block the kernel is still filling is handed over within the ring's retire time:
    // stop once a wait that long brings nothing.
    waiter.forget_stop(stop);
    let since = Instant::now();
    let retire = sockets.iter().map(|s| s.ring.size().retire()).max();
    let quiet = retire.unwrap_or_default() * 2;
    while since.elapsed() < drain_limit && ended.iter().any(Option::is_none) {
        let ready = waiter.wait(sockets, &mut ended, Some(quiet));
        let live = (0..sockets.len()).filter(|&i| ended[i].is_none());
        let read: usize = live.map(&mut drain).sum();
        if read == 0 && ready.is_empty() {
            break;
        }
    }
    ended.into_iter().map(|e| e.map_or(Ok(()), Err)).collect()
}

/// One reader's sockets and its stop, waited on together. epoll rather than poll(2): the
/// sockets stay registered from one wait to the next, where poll walks every socket and hooks
/// onto and off its wait queue on each call; that was about 7% of a 254-host verify's CPU,
/// with 16 sockets per reader waking it for one.
struct Waiter {
    epoll: Epoll,
    events: Vec<EpollEvent>,
}

/// The key of the stop's pipe among a reader's sockets, which are keyed by their index.
const STOP_KEY: u64 = u64::MAX;

impl Waiter {
    fn new(sockets: &[&PacketSocket], stop: &Stop) -> io::Result<Waiter> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        for (i, socket) in sockets.iter().enumerate() {
            epoll.add(
                socket.fd.as_fd(),
                EpollEvent::new(EpollFlags::EPOLLIN, i as u64),
            )?;
        }
        epoll.add(
            stop.wake.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, STOP_KEY),
        )?;
        let events = vec![EpollEvent::empty(); sockets.len() + 1];
        Ok(Waiter { epoll, events })
    }

    /// Once stop is given its pipe stays readable: the drain that follows waits without it.
    fn forget_stop(&mut self, stop: &Stop) {
        let _ = self.epoll.delete(stop.wake.as_fd());
    }

    /// Sleeps until a socket has a block for cnilab, stop is given, or `timeout` passes;
    /// returns the sockets that are ready. A socket's error is put in its `ended` slot, and the
    /// socket is waited on no more.
    fn wait(
        &mut self,
        sockets: &[&PacketSocket],
        ended: &mut [Option<ReadError>],
        timeout: Option<Duration>,
    ) -> Vec<usize> {
        let timeout = timeout.map_or(PollTimeout::NONE, |t| {
            PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX)
        });
        let n = match self.epoll.wait(&mut self.events, timeout) {
            Ok(n) => n,
            Err(nix::Error::EINTR) => 0,
            Err(e) => {
                for slot in ended.iter_mut().filter(|e| e.is_none()) {
                    *slot = Some(io::Error::from(e).into());
                }
                return Vec::new();
            }
        };
        let mut ready = Vec::new();
        for event in &self.events[..n] {
            let Some(i) = usize::try_from(event.data())
                .ok()
                .filter(|&i| i < sockets.len())
            else {
                continue;
            };
            if event.events().contains(EpollFlags::EPOLLERR) {
                ended[i] = Some(sockets[i].error());
                let _ = self.epoll.delete(sockets[i].fd.as_fd());
            } else if event.events().contains(EpollFlags::EPOLLIN) {
                ready.push(i);
            }
        }
        ready
    }
}

/// Puts the calling thread ahead of normal ones (nice −10). A reader kept off the CPU while
/// its ring fills loses frames, and in a large lab hundreds of probe threads and the lab's
/// own forwarding want the CPU at once; a reader asks for little, so it can come first.
/// Without the right to do so (not root), the thread stays as it was.
fn ahead_of_the_lab() {
    // SAFETY: plain system calls on this thread's own id, no memory passed.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, -10) };
}

/// Runs `open` for every item side by side (see [`crate::sys::side_by_side`]), and gives back what
/// they opened in the order of `items`, or the first error in that order (closing whatever
/// did open).
pub fn open_all<I, T, E, F>(items: &[I], open: F) -> Result<Vec<T>, E>
where
    I: Sync,
    T: Send,
    E: Send,
    F: Fn(&I) -> Result<T, E> + Sync,
{
    let opened = crate::sys::side_by_side::map(items, open);
    let (good, bad): (Vec<_>, Vec<_>) = opened.into_iter().partition(Result::is_ok);
    match bad.into_iter().find_map(Result::err) {
        None => Ok(good.into_iter().filter_map(Result::ok).collect()),
        Some(e) => {
            crate::sys::side_by_side::drop_all(good);
            Err(e)
        }
    }
}

/// Tells readers to stop: a flag, and a pipe whose closed write end wakes every reader
/// sleeping in poll at once.
pub struct Stop {
    given: AtomicBool,
    wake: OwnedFd,
    writer: std::sync::Mutex<Option<OwnedFd>>,
}

impl Stop {
    fn new() -> io::Result<Stop> {
        let (wake, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(Stop {
            given: AtomicBool::new(false),
            wake,
            writer: std::sync::Mutex::new(Some(writer)),
        })
    }

    fn give(&self) {
        self.given.store(true, Ordering::SeqCst);
        // Closing the write end leaves the read end readable (at end of file) for good.
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    pub fn given(&self) -> bool {
        self.given.load(Ordering::SeqCst)
    }
}

/// Sockets read each on a thread of its own until [`Readers::stop`].
pub struct Readers<T> {
    stop: Arc<Stop>,
    threads: Vec<JoinHandle<T>>,
}

/// Starts one reading thread per socket (or per anything that holds one): `read(index,
/// socket, stop)` runs there, and what it returns is handed back by [`Readers::stop`], in the
/// order of `sockets`. Fails only when the stop signal's pipe cannot be made (the process is
/// out of file descriptors).
pub fn start<S, T, F>(sockets: Vec<S>, read: F) -> io::Result<Readers<T>>
where
    S: Send + 'static,
    T: Send + 'static,
    F: Fn(usize, S, &Stop) -> T + Send + Clone + 'static,
{
    let stop = Arc::new(Stop::new()?);
    let threads = sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let (stop, read) = (stop.clone(), read.clone());
            std::thread::spawn(move || {
                ahead_of_the_lab();
                read(i, socket, &stop)
            })
        })
        .collect();
    Ok(Readers { stop, threads })
}

impl<T> Readers<T> {
    /// Tells every reader to stop once it has drained its queue, and waits for them.
    pub fn stop(self) -> Vec<T> {
        self.stop.give();
        self.threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its drops, as a socket's close would be counted.
    struct Held<'a>(usize, &'a AtomicUsize);

    impl Drop for Held<'_> {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn open_all_keeps_the_order_and_closes_what_opened_when_one_fails() {
        let closed = AtomicUsize::new(0);
        let items: Vec<usize> = (0..50).collect();
        let opened = open_all(&items, |&i| Ok::<_, usize>(Held(i, &closed))).unwrap();
        assert_eq!(opened.iter().map(|h| h.0).collect::<Vec<_>>(), items);
        drop(opened);
        closed.store(0, Ordering::SeqCst);

        let failed = open_all(&items, |&i| match i % 20 {
            7 => Err(i),
            _ => Ok(Held(i, &closed)),
        });
        assert_eq!(
            failed.err(),
            Some(7),
            "the first failure in the items' order"
        );
        assert_eq!(
            closed.load(Ordering::SeqCst),
            47,
            "every opened item is closed"
        );
    }
}
