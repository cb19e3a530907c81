//! What verify's TCP and UDP probes talk to: in every pod, a TCP listener that echoes the tag a
//! connection sends, and a UDP socket that echoes each tagged datagram. Both are bound inside
//! the pod's namespace (a socket stays in the namespace it was made in), then served from
//! ordinary threads until verify is done.

use crate::family::Family;
use crate::sys::netns::{in_netns, NetnsError};
use crate::wire::dissect::Tag;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    bind as bind_to, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag,
    SockProtocol, SockType, SockaddrIn, SockaddrIn6,
};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The port of every pod's listener, TCP and UDP alike. See [`super::probe`] for the marker a
/// capture filter can match.
pub const PORT: u16 = 47277;
/// How often a serving thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// How long a connection may take to send its tag.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("cannot listen on {proto} port {port} over {family} in pod `{pod}`: {source}")]
    Bind {
        pod: String,
        proto: &'static str,
        port: u16,
        family: Family,
        source: io::Error,
    },
}

/// A tag a listener heard: which pod heard it, over which protocol, and from which address
/// and port it came (after whatever NAT the way did). Service probes read these to learn
/// which endpoint answered and what source it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub pod: String,
    pub tcp: bool,
    pub tag: Tag,
    pub from: std::net::SocketAddr,
}

/// Where listeners write what they hear, when asked to.
pub type HeardLog = Arc<std::sync::Mutex<Vec<Heard>>>;

/// The running listeners of every pod; they stop when this is dropped.
pub struct Listeners {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Listeners {
    /// Binds both listeners in each `(pod, namespace)`, in each of `families`, and starts
    /// serving them.
    pub fn start<'a>(
        pods: impl IntoIterator<Item = (&'a str, &'a str)>,
        families: &[Family],
    ) -> Result<Listeners, ListenerError> {
        let at = pods
            .into_iter()
            .flat_map(|(p, n)| families.iter().map(move |&f| (p, n, PORT, f)));
        Self::start_in(at, None)
    }

    /// Binds both listeners on each `(pod, namespace, port, family)`; with `log`, each
    /// records every tag it hears there (a Service's targetPort, `outside`'s egress port).
    pub fn start_on<'a>(
        pods: impl IntoIterator<Item = (&'a str, &'a str, u16, Family)>,
        log: Option<HeardLog>,
    ) -> Result<Listeners, ListenerError> {
        Self::start_in(pods, log)
    }

    /// Binds both listeners on each `(pod, namespace, port, family)`: a socket of each family
    /// of its own (IPv6 ones IPv6 only), so each family's probes are answered by its own.
    fn start_in<'a>(
        pods: impl IntoIterator<Item = (&'a str, &'a str, u16, Family)>,
        log: Option<HeardLog>,
    ) -> Result<Listeners, ListenerError> {
        let mut listeners = Listeners {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        };
        for (pod, namespace, port, family) in pods {
            let (tcp, udp) = in_netns(namespace, || bind(pod, port, family))??;
            let ear = log.clone().map(|log| (pod.to_string(), log));
            let stop = listeners.stop.clone();
            let tcp_ear = ear.clone();
            listeners.threads.push(std::thread::spawn(move || {
                serve_tcp(&tcp, &stop, tcp_ear.as_ref())
            }));
            let stop = listeners.stop.clone();
            listeners.threads.push(std::thread::spawn(move || {
                serve_udp(&udp, &stop, ear.as_ref())
            }));
        }
        Ok(listeners)
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Both sockets, bound to `port` on every address of `family` of the calling thread's
/// namespace.
fn bind(pod: &str, port: u16, family: Family) -> Result<(TcpListener, UdpSocket), ListenerError> {
    let err = |proto: &'static str| {
        move |source: io::Error| ListenerError::Bind {
            pod: pod.to_string(),
            proto,
            port,
            family,
            source,
        }
    };
    let tcp = open(SockType::Stream, SockProtocol::Tcp, port, family).map_err(err("TCP"))?;
    listen(&tcp, Backlog::new(128).expect("a valid backlog")).map_err(|e| err("TCP")(e.into()))?;
    let tcp = TcpListener::from(tcp);
    // accept() honours no read timeout: wait in poll(2), then accept without blocking.
    tcp.set_nonblocking(true).map_err(err("TCP"))?;
    let udp = UdpSocket::from(
        open(SockType::Datagram, SockProtocol::Udp, port, family).map_err(err("UDP"))?,
    );
    udp.set_read_timeout(Some(POLL)).map_err(err("UDP"))?;
    Ok((tcp, udp))
}

/// A socket bound to [`PORT`] with SO_REUSEADDR (which std cannot set before binding), so a
/// verify right after another finds the port free.
fn open(ty: SockType, proto: SockProtocol, port: u16, family: Family) -> io::Result<OwnedFd> {
    let domain = match family {
        Family::Ipv4 => AddressFamily::Inet,
        Family::Ipv6 => AddressFamily::Inet6,
    };
    let socket = socket(domain, ty, SockFlag::SOCK_CLOEXEC, proto)?;
    setsockopt(&socket, sockopt::ReuseAddr, &true)?;
    match family {
        Family::Ipv4 => {
            let any = SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
            bind_to(socket.as_raw_fd(), &any)?;
        }
        Family::Ipv6 => {
            // Its own family only: the IPv4 socket beside it answers IPv4.
            setsockopt(&socket, sockopt::Ipv6V6Only, &true)?;
            let any = SockaddrIn6::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
            bind_to(socket.as_raw_fd(), &any)?;
        }
    }
    Ok(socket)
}

/// Accepts connections and answers each one's tag with the same tag marked as the reply, all
/// on this one thread. Sleeps in poll(2) until a connection or a tag is waiting: a hundred
/// pods' listeners that woke every few milliseconds to try accept() cost a fifth of verify's
/// CPU time at 100 hosts, and a thread per connection cost one spawn per probe.
/// The pod a listener serves and the log it writes what it hears to.
type Ear = (String, HeardLog);

fn hear(ear: Option<&Ear>, tcp: bool, tag: Tag, from: std::net::SocketAddr) {
    if let Some((pod, log)) = ear {
        let heard = Heard {
            pod: pod.clone(),
            tcp,
            tag,
            from,
        };
        log.lock().unwrap_or_else(|p| p.into_inner()).push(heard);
    }
}

fn serve_tcp(listener: &TcpListener, stop: &AtomicBool, ear: Option<&Ear>) {
    let wait = PollTimeout::try_from(POLL).unwrap_or(PollTimeout::MAX);
    let mut open: Vec<Echo> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            open.iter()
                .map(|e| PollFd::new(e.stream.as_fd(), PollFlags::POLLIN)),
        );
        match poll(&mut fds, wait) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => std::thread::sleep(POLL),
        }
        let ready: Vec<bool> = fds[1..]
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        open = open
            .into_iter()
            .zip(ready)
            .filter_map(|(echo, ready)| if ready { echo.serve(ear) } else { echo.keep() })
            .collect();
        accept_all(listener, &mut open);
    }
}

fn accept_all(listener: &TcpListener, open: &mut Vec<Echo>) {
    loop {
        match listener.accept() {
            Ok((stream, _)) if stream.set_nonblocking(true).is_ok() => open.push(Echo {
                stream,
                got: Vec::with_capacity(Tag::TRANSPORT_LEN),
                since: Instant::now(),
                answered: false,
            }),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                std::thread::sleep(POLL);
                return;
            }
        }
    }
}

/// One accepted connection, until its tag is in and echoed, and then until the client ends it.
struct Echo {
    stream: TcpStream,
    got: Vec<u8>,
    since: Instant,
    /// The echo is sent: the listener waits for the client's reset rather than closing first.
    answered: bool,
}

impl Echo {
    /// Reads what has come; once the whole tag is in, echoes it. Done (None) when the client
    /// has ended the connection.
    ///
    /// verify's client ends a probe's connection with a reset once it holds the echo (see
    /// [`super::transport`]). Closing here first would send a FIN that the client answers
    /// with its own FIN or reset: segments that prove nothing more, each forwarded across the
    /// lab and captured at every point on its way. Until the client's reset comes, this
    /// socket is also the one that retransmits an echo the lab dropped.
    fn serve(mut self, ear: Option<&Ear>) -> Option<Echo> {
        if self.answered {
            return self.await_end();
        }
        let mut buf = [0u8; Tag::TRANSPORT_LEN];
        let want = Tag::TRANSPORT_LEN - self.got.len();
        match self.stream.read(&mut buf[..want]) {
            Ok(0) => return None,
            Ok(n) => self.got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return self.keep(),
            Err(_) => return None,
        }
        if self.got.len() < Tag::TRANSPORT_LEN {
            return self.keep();
        }
        if let Some((tag, false)) = Tag::parse_transport(&self.got) {
            if let Ok(from) = self.stream.peer_addr() {
                hear(ear, true, tag, from);
            }
            // The reply is a few dozen bytes into an empty send buffer: it does not block.
            if self.stream.write_all(&tag.transport_payload(true)).is_ok() {
                self.answered = true;
                return self.keep();
            }
        }
        None
    }

    /// After the echo: done once the client's reset (or FIN, from a client that closes
    /// normally) arrives; anything it sends meanwhile is read and ignored.
    fn await_end(self) -> Option<Echo> {
        let mut buf = [0u8; 64];
        match (&self.stream).read(&mut buf) {
            Ok(0) => None,
            Ok(_) => self.keep(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.keep(),
            Err(_) => None,
        }
    }

    /// Keeps waiting for the tag or the client's end, but not past READ_TIMEOUT.
    fn keep(self) -> Option<Echo> {
        (self.since.elapsed() < READ_TIMEOUT).then_some(self)
    }
}

/// Echoes every tagged datagram to its sender, marked as the reply.
fn serve_udp(socket: &UdpSocket, stop: &AtomicBool, ear: Option<&Ear>) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if let Some((tag, false)) = Tag::parse_transport(&buf[..n]) {
            hear(ear, false, tag, from);
            let _ = socket.send_to(&tag.transport_payload(true), from);
        }
    }
}
