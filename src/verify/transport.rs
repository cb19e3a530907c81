//! TCP and UDP probes from inside a pod to the destination pod's [`listener`]: a network that
//! forwards ICMP and rejects TCP fails its pairs, as every real workload on it would.
//!
//! Each probe sends its [`Tag`] (marked as the request) as its payload and waits for the same
//! tag marked as the reply, so captures find the probe's packets exactly, as they do a ping's.
//! Ordinary kernel sockets, made inside the sending pod's namespace: the kernel does the
//! handshake, and an ICMP error or a reset comes back as the socket's error.

use super::dissect::Tag;
use super::judge::Outcome;
use super::listener;
use super::probe::{Window, ATTEMPT_TIMEOUTS};
use crate::netns::NetnsGuard;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
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
}

/// One TCP or UDP probe: its number in the run (as in its tag), where, and how.
#[derive(Debug, Clone, Copy)]
pub struct TransportSpec {
    pub number: u32,
    pub dst: Ipv4Addr,
    pub proto: Proto,
}

/// Sends every probe of one pod, from inside its namespace, up to `window.per_pod` at once.
/// Outcomes come back in the order of `specs`.
pub fn run(namespace: &str, run: u32, specs: &[TransportSpec], window: &Window) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(specs.len());
    for chunk in specs.chunks(window.per_pod) {
        std::thread::scope(|scope| {
            let threads: Vec<_> = chunk
                .iter()
                .map(|spec| scope.spawn(move || probe(namespace, run, spec, window)))
                .collect();
            outcomes.extend(
                threads
                    .into_iter()
                    .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            );
        });
    }
    outcomes
}

/// One probe with its retries: each attempt on a fresh socket, waiting longer each time.
fn probe(namespace: &str, run: u32, spec: &TransportSpec, window: &Window) -> Outcome {
    let _inside = match NetnsGuard::enter(namespace) {
        Ok(guard) => guard,
        Err(e) => {
            return Outcome::Failed {
                error: e.to_string(),
            }
        }
    };
    let mut last = Outcome::NoReply { attempts: 0 };
    for (attempt, &timeout) in ATTEMPT_TIMEOUTS.iter().enumerate() {
        if crate::interrupt::requested() {
            break;
        }
        let tag = Tag {
            run,
            probe: spec.number,
            attempt: attempt as u8,
        };
        let attempts = attempt as u8 + 1;
        window.acquire_blocking();
        let result = once(spec, tag, timeout);
        window.release();
        last = match result {
            Ok(rtt) => return Outcome::Reply { rtt, attempts },
            Err(e) if is_timeout(&e) => Outcome::NoReply { attempts },
            Err(e) => Outcome::Failed {
                error: describe(spec.proto, &e),
            },
        };
    }
    last
}

/// One attempt: connect (TCP) or address (UDP) the listener, send the tag, read the echo.
fn once(spec: &TransportSpec, tag: Tag, timeout: Duration) -> io::Result<Duration> {
    let started = Instant::now();
    let to = SockAddr::from(SocketAddrV4::new(spec.dst, listener::PORT));
    let socket = match spec.proto {
        Proto::Tcp => {
            let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
            s.connect_timeout(&to, timeout)?;
            s
        }
        Proto::Udp => {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            // Connected, so an ICMP error for the datagram comes back as this socket's error.
            s.connect(&to)?;
            s
        }
    };
    (&socket).write_all(&tag.transport_payload(false))?;
    let mut answer = [0u8; Tag::TRANSPORT_LEN];
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        socket.set_read_timeout(Some(left))?;
        let n = match spec.proto {
            Proto::Tcp => (&socket).read_exact(&mut answer).map(|()| answer.len())?,
            Proto::Udp => (&socket).read(&mut answer)?,
        };
        if Tag::parse_transport(&answer[..n]) == Some((tag, true)) {
            return Ok(started.elapsed());
        }
        if spec.proto == Proto::Tcp {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the listener answered with something else than the probe's tag",
            ));
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) || e.raw_os_error() == Some(libc::EINPROGRESS)
}

/// An error of the probe's socket, in words that say what sends it.
fn describe(proto: Proto, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) if proto == Proto::Tcp => format!(
            "connection to port {} refused (a TCP reset or an ICMP port unreachable came back: something rejects TCP, or the listener is not reached)",
            listener::PORT
        ),
        Some(libc::ECONNREFUSED) => format!(
            "datagram to port {} refused (an ICMP port unreachable came back: something rejects UDP, or the listener is not reached)",
            listener::PORT
        ),
        Some(libc::EHOSTUNREACH) => "host unreachable (an ICMP error came back)".to_string(),
        Some(libc::ENETUNREACH) => "network unreachable".to_string(),
        Some(libc::ECONNRESET) => "connection reset".to_string(),
        _ => e.to_string(),
    }
}
