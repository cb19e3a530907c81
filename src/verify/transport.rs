//! TCP and UDP probes from inside a pod to the destination pod's [`listener`]: a network that
//! forwards ICMP and rejects TCP fails its pairs, as every real workload on it would.
//!
//! Each probe sends its [`Tag`] (marked as the request) as its payload and waits for the same
//! tag marked as the reply, so captures find the probe's packets exactly, as they do a ping's.
//! Ordinary kernel sockets, made inside the sending pod's namespace: the kernel does the
//! handshake, and an ICMP error or a reset comes back as the socket's error.

use super::id::ProbeId;
use super::judge::Outcome;
use super::listener;
use super::probe::{Window, ATTEMPT_TIMEOUTS};
use crate::sys::netns::NetnsGuard;
use crate::wire::dissect::{Tag, Wire, L4};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    bind, connect, getsockname, getsockopt, setsockopt, socket, sockopt, AddressFamily, SockFlag,
    SockProtocol, SockType, SockaddrStorage,
};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which transport a probe uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Proto {
    #[serde(rename = "tcp")]
    Tcp,
    #[serde(rename = "udp")]
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        }
    }

    /// The probe's name in a verdict's reasons.
    pub fn probe_name(self) -> super::reason::ProbeName {
        match self {
            Proto::Tcp => super::reason::ProbeName::Tcp,
            Proto::Udp => super::reason::ProbeName::Udp,
        }
    }
}

/// One TCP or UDP probe: which, where, and how.
#[derive(Debug, Clone, Copy)]
pub struct TransportSpec {
    pub id: ProbeId,
    pub dst: IpAddr,
    pub proto: Proto,
}

/// How a TCP or UDP probe ended, and the local ports its TCP attempts used: the handshake
/// carries no tag, so its segments are found by the client's port.
#[derive(Debug, Clone)]
pub struct Sent {
    pub outcome: Outcome,
    pub client_ports: Vec<u16>,
}

/// Sends every probe of one pod, from inside its namespace, up to `window.per_pod` at once.
/// Results come back in the order of `specs`.
pub fn run(namespace: &str, run: u32, specs: &[TransportSpec], window: &Window) -> Vec<Sent> {
    let _inside = match NetnsGuard::enter(namespace) {
        Ok(guard) => guard,
        Err(e) => return specs.iter().map(|_| failed(e.to_string())).collect(),
    };
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Sent>>> = specs.iter().map(|_| Mutex::new(None)).collect();
    // A thread starts in the namespace of the thread that made it, so the workers need not
    // enter it themselves; each takes the next probe as soon as its last one is done.
    std::thread::scope(|scope| {
        for _ in 0..window.per_pod.min(specs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(spec) = specs.get(i) else { break };
                let sent = probe(run, spec, window);
                *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(sent);
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.into_inner().unwrap_or_else(|p| p.into_inner()))
        // Every index below the count was taken by a worker, and a worker that panicked has
        // ended the scope already.
        .map(|r| r.expect("every probe ran"))
        .collect()
}

fn failed(error: String) -> Sent {
    Sent {
        outcome: Outcome::Failed { error },
        client_ports: Vec::new(),
    }
}

/// One probe with its retries: each attempt on a fresh socket, waiting longer each time.
fn probe(run: u32, spec: &TransportSpec, window: &Window) -> Sent {
    let mut sent = Sent {
        outcome: Outcome::NoReply { attempts: 0 },
        client_ports: Vec::new(),
    };
    for (attempt, &timeout) in ATTEMPT_TIMEOUTS.iter().enumerate() {
        if crate::interrupt::requested() {
            break;
        }
        let tag = spec.id.at(attempt as u8).tag(run);
        let attempts = attempt as u8 + 1;
        window.acquire_blocking();
        let result = once(spec, tag, timeout, &mut sent.client_ports);
        window.release();
        sent.outcome = match result {
            Ok(rtt) => Outcome::Reply { rtt, attempts },
            Err(e) if is_timeout(&e) => Outcome::NoReply { attempts },
            Err(e) => Outcome::Failed {
                error: describe(spec.proto, &e),
            },
        };
        if matches!(sent.outcome, Outcome::Reply { .. }) {
            break;
        }
    }
    sent
}

/// One attempt: connect (TCP) or address (UDP) the listener, send the tag, read the echo.
fn once(
    spec: &TransportSpec,
    tag: Tag,
    timeout: Duration,
    client_ports: &mut Vec<u16>,
) -> io::Result<Duration> {
    let started = Instant::now();
    // Past the timeout there is still one short look: a thread kept off the CPU until then
    // must read an answer that came in time, not call it lost. A read that finds nothing
    // fails with WouldBlock, which is a timeout.
    let left = || {
        timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    };
    let to = SocketAddr::new(spec.dst, listener::PORT);
    let request = tag.transport_payload(false);
    let mut answer = [0u8; Tag::TRANSPORT_LEN];
    match spec.proto {
        Proto::Tcp => {
            let mut stream = connect_tcp(to, timeout, client_ports)?;
            stream.write_all(&request)?;
            stream.set_read_timeout(Some(left()))?;
            stream.read_exact(&mut answer)?;
            if Tag::parse_transport(&answer) == Some((tag, true)) {
                end_with_reset(&stream);
                return Ok(started.elapsed());
            }
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the listener answered with something else than the probe's tag",
            ))
        }
        Proto::Udp => {
            let socket = UdpSocket::bind(any_port(spec.dst))?;
            // Connected, so an ICMP error for the datagram comes back as this socket's error.
            socket.connect(to)?;
            socket.send(&request)?;
            loop {
                socket.set_read_timeout(Some(left()))?;
                let n = socket.recv(&mut answer)?;
                if Tag::parse_transport(&answer[..n]) == Some((tag, true)) {
                    return Ok(started.elapsed());
                }
            }
        }
    }
}

/// A TCP connection to `to` within `timeout`, from a port bound first so it is known (and
/// recorded in `client_ports`) before the SYN leaves, which std's TcpStream cannot do.
fn connect_tcp(
    to: SocketAddr,
    timeout: Duration,
    client_ports: &mut Vec<u16>,
) -> io::Result<TcpStream> {
    let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
    let family = match to {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(family, SockType::Stream, flags, SockProtocol::Tcp)?;
    bind(fd.as_raw_fd(), &SockaddrStorage::from(any_port(to.ip())))?;
    let port = getsockname::<SockaddrStorage>(fd.as_raw_fd())?;
    let port = (port.as_sockaddr_in().map(|a| a.port()))
        .or_else(|| port.as_sockaddr_in6().map(|a| a.port()))
        .unwrap_or(0);
    client_ports.push(port);
    match connect(fd.as_raw_fd(), &SockaddrStorage::from(to)) {
        Ok(()) | Err(Errno::EINPROGRESS) => wait_connected(&fd, timeout)?,
        Err(e) => return Err(e.into()),
    }
    let stream = TcpStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Makes the stream's close send a reset: the probe holds its echo, and a FIN exchange would
/// add three or four segments that prove nothing, each forwarded across the lab and captured
/// at every point on its way (at 254 hosts, about a tenth of a cold verify's CPU time). The
/// listener waits for this reset instead of closing first (see [`super::listener`]).
pub fn end_with_reset(stream: &TcpStream) {
    let now = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // Without it the close sends a FIN: a longer teardown, the same verdict.
    let _ = setsockopt(stream, sockopt::Linger, &now);
}

/// Any address of the calling thread's namespace in `dst`'s family, any port.
fn any_port(dst: IpAddr) -> SocketAddr {
    match dst {
        IpAddr::V4(_) => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
        IpAddr::V6(_) => SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0),
    }
}

/// Waits for a non-blocking connect to finish: its error, or `TimedOut` after `timeout`.
fn wait_connected(fd: &OwnedFd, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        // At least a millisecond: a zero timeout would report the connection lost at once.
        let left = deadline.saturating_duration_since(Instant::now());
        let wait =
            PollTimeout::try_from(left.max(Duration::from_millis(1))).unwrap_or(PollTimeout::MAX);
        match poll(&mut [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)], wait) {
            Ok(0) => return Err(io::ErrorKind::TimedOut.into()),
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    match getsockopt(fd, sockopt::SocketError)? {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// A TCP connection of a probe, as the client sees it: its address and port, and the server
/// pod's address.
pub type Flow = (IpAddr, u16, IpAddr);

/// The probe connection an untagged TCP segment (the handshake, the teardown) belongs to, and
/// whether it goes from the listener back to the client.
pub fn segment_flow(wire: &Wire) -> Option<(Flow, bool)> {
    let ip = wire.innermost()?;
    match ip.l4 {
        L4::Tcp {
            src_port, dst_port, ..
        } if dst_port == listener::PORT => Some(((ip.src, src_port, ip.dst), false)),
        L4::Tcp {
            src_port, dst_port, ..
        } if src_port == listener::PORT => Some(((ip.dst, dst_port, ip.src), true)),
        _ => None,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) || errno(e) == Errno::EINPROGRESS
}

fn errno(e: &io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// An error of the probe's socket, in words that say what sends it.
fn describe(proto: Proto, e: &io::Error) -> String {
    match errno(e) {
        Errno::ECONNREFUSED if proto == Proto::Tcp => format!(
            "connection to port {} refused (a TCP reset or an ICMP port unreachable came back: something rejects TCP, or the listener is not reached)",
            listener::PORT
        ),
        Errno::ECONNREFUSED => format!(
            "datagram to port {} refused (an ICMP port unreachable came back: something rejects UDP, or the listener is not reached)",
            listener::PORT
        ),
        Errno::EHOSTUNREACH => "host unreachable (an ICMP error came back)".to_string(),
        Errno::ENETUNREACH => "network unreachable".to_string(),
        Errno::ECONNRESET => "connection reset".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dissect::{build, dissect};

    /// The flags of every TCP segment to or from the listener seen on `lo`, with whether the
    /// listener sent it. Loopback frames carry an Ethernet header of zeros.
    fn listener_segments(frames: &[Vec<u8>]) -> Vec<(bool, u8)> {
        use pnet_packet::{ethernet::EthernetPacket, ipv4::Ipv4Packet, tcp::TcpPacket, Packet};
        let segment = |frame: &Vec<u8>| {
            let ether = EthernetPacket::new(frame)?;
            let ip = Ipv4Packet::new(ether.payload())?;
            let tcp = TcpPacket::new(ip.payload())?;
            let from_listener = tcp.get_source() == listener::PORT;
            (from_listener || tcp.get_destination() == listener::PORT)
                .then(|| (from_listener, tcp.get_flags()))
        };
        frames.iter().filter_map(segment).collect()
    }

    /// What `lo` in a scratch namespace carried while `talk` ran there, beside a pod's
    /// listeners, and for a moment after: each segment once, as it left (a socket on `lo`
    /// sees it leave and come back).
    fn on_loopback(test: &str, talk: impl FnOnce(&str)) -> Vec<(bool, u8)> {
        use crate::sys::packet_socket;
        let scratch = crate::sys::netns::testing::Scratch::new(test, &["link set lo up"]);
        let listeners =
            listener::Listeners::start([("pod", scratch.name())], &[crate::family::Family::Ipv4])
                .unwrap();
        let ring = crate::sys::packet_ring::RingSize::PROBES;
        let capture = packet_socket::open(scratch.name(), "lo", None, ring).unwrap();
        talk(scratch.name());
        // The listener looks at its connections every poll; the ring hands over a block
        // after its retire time.
        std::thread::sleep(Duration::from_millis(300) + 2 * ring.retire());
        let mut frames = Vec::new();
        capture.read_ready(|f| {
            if f.outgoing {
                frames.push(f.data.to_vec())
            }
        });
        drop(listeners);
        listener_segments(&frames)
    }

    const FIN: u8 = 0x01;
    const RST: u8 = 0x04;

    /// A probe's connection ends with the client's reset once it holds the echo: no FIN
    /// either way, and the listener does not answer the reset.
    #[test]
    fn a_tcp_probe_ends_its_connection_with_one_reset_and_no_fin() {
        let segments = on_loopback("tcp-reset", |namespace| {
            let spec = TransportSpec {
                id: ProbeId::new(0, super::super::id::ProbeKind::Transport(Proto::Tcp)),
                dst: IpAddr::V4(Ipv4Addr::LOCALHOST),
                proto: Proto::Tcp,
            };
            let sent = run(namespace, 7, &[spec], &Window::new(1, 1));
            assert!(
                matches!(sent[0].outcome, Outcome::Reply { attempts: 1, .. }),
                "{:?}",
                sent[0].outcome
            );
        });
        // The handshake's three segments, the tag and its echo (each ACKed on its own or not,
        // as the kernel's quick-ACK mode decides), then the reset, last.
        assert!(segments.len() >= 6, "{segments:?}");
        assert!(
            segments
                .last()
                .is_some_and(|&(from_listener, flags)| !from_listener && flags & RST != 0),
            "the client's reset does not come last: {segments:?}"
        );
        assert!(
            segments.iter().all(|(_, flags)| flags & FIN == 0),
            "a FIN was sent: {segments:?}"
        );
        let resets: Vec<bool> = (segments.iter())
            .filter(|(_, flags)| flags & RST != 0)
            .map(|(from_listener, _)| *from_listener)
            .collect();
        assert_eq!(
            resets,
            [false],
            "not one reset, from the client: {segments:?}"
        );
    }

    /// A client that closes normally, as other tools do, still has its connection closed by
    /// the listener at once, not only when the listener's read timeout ends it.
    #[test]
    fn the_listener_closes_after_a_client_s_fin() {
        let segments = on_loopback("tcp-fin", |namespace| {
            let _inside = NetnsGuard::enter(namespace).unwrap();
            let tag = ProbeId::new(0, super::super::id::ProbeKind::Transport(Proto::Tcp)).tag(7);
            let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, listener::PORT)).unwrap();
            stream.write_all(&tag.transport_payload(false)).unwrap();
            let mut answer = [0u8; Tag::TRANSPORT_LEN];
            stream.read_exact(&mut answer).unwrap();
            assert_eq!(Tag::parse_transport(&answer), Some((tag, true)));
        });
        let fins = |listener: bool| {
            (segments.iter())
                .filter(|&&(from_listener, flags)| from_listener == listener && flags & FIN != 0)
                .count()
        };
        assert_eq!(fins(false), 1, "the client's FIN: {segments:?}");
        assert_eq!(fins(true), 1, "the listener's FIN: {segments:?}");
        assert!(
            segments.iter().all(|(_, flags)| flags & RST == 0),
            "a reset was sent: {segments:?}"
        );
    }

    #[test]
    fn handshake_segments_lead_back_to_the_client_s_flow_either_way() {
        let (client, server) = (build::ip("172.16.0.2"), build::ip("172.16.1.2"));
        let syn = build::ipv4(
            client,
            server,
            6,
            &build::tcp(40001, listener::PORT, 0x02, &[]),
        );
        let synack = build::ipv4(
            server,
            client,
            6,
            &build::tcp(listener::PORT, 40001, 0x12, &[]),
        );
        let flow = (client.into(), 40001, server.into());
        let wire = dissect(&build::in_ipip(("10.0.1.2", "10.0.2.2"), &syn), &[]).unwrap();
        assert_eq!(segment_flow(&wire), Some((flow, false)));
        let wire = dissect(&build::ether(0x0800, &synack), &[]).unwrap();
        assert_eq!(segment_flow(&wire), Some((flow, true)));
        let other = build::ipv4(client, server, 6, &build::tcp(40001, 22, 0x02, &[]));
        let wire = dissect(&build::ether(0x0800, &other), &[]).unwrap();
        assert_eq!(segment_flow(&wire), None);
    }
}
