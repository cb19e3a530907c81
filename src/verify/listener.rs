//! What verify's TCP and UDP probes talk to: in every pod, a TCP listener that echoes the tag a
//! connection sends, and a UDP socket that echoes each tagged datagram. Both are bound inside
//! the pod's namespace (a socket stays in the namespace it was made in), then served from
//! ordinary threads until verify is done.

use super::dissect::Tag;
use crate::netns::{in_netns, NetnsError};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    #[error("cannot listen on {proto} port {port} in pod `{pod}`: {source}")]
    Bind {
        pod: String,
        proto: &'static str,
        port: u16,
        source: io::Error,
    },
}

/// The running listeners of every pod; they stop when this is dropped.
pub struct Listeners {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Listeners {
    /// Binds both listeners in each `(pod, namespace)` and starts serving them.
    pub fn start<'a>(
        pods: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Listeners, ListenerError> {
        let mut listeners = Listeners {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        };
        for (pod, namespace) in pods {
            let (tcp, udp) = in_netns(namespace, || bind(pod))??;
            let (tcp, udp) = (TcpListener::from(tcp), UdpSocket::from(udp));
            let stop = listeners.stop.clone();
            listeners
                .threads
                .push(std::thread::spawn(move || serve_tcp(&tcp, &stop)));
            let stop = listeners.stop.clone();
            listeners
                .threads
                .push(std::thread::spawn(move || serve_udp(&udp, &stop)));
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

/// Both sockets, bound to [`PORT`] on every address of the calling thread's namespace.
fn bind(pod: &str) -> Result<(Socket, Socket), ListenerError> {
    let any = SockAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT));
    let open = |ty: Type, proto: Protocol, name: &'static str| {
        let err = |source| ListenerError::Bind {
            pod: pod.to_string(),
            proto: name,
            port: PORT,
            source,
        };
        let socket = Socket::new(Domain::IPV4, ty, Some(proto)).map_err(err)?;
        socket.set_reuse_address(true).map_err(err)?;
        socket.bind(&any).map_err(err)?;
        socket.set_read_timeout(Some(POLL)).map_err(err)?;
        Ok::<_, ListenerError>(socket)
    };
    let tcp = open(Type::STREAM, Protocol::TCP, "TCP")?;
    tcp.listen(128).map_err(|source| ListenerError::Bind {
        pod: pod.to_string(),
        proto: "TCP",
        port: PORT,
        source,
    })?;
    // accept() honours no read timeout: poll a non-blocking listener instead.
    tcp.set_nonblocking(true)
        .map_err(|source| ListenerError::Bind {
            pod: pod.to_string(),
            proto: "TCP",
            port: PORT,
            source,
        })?;
    let udp = open(Type::DGRAM, Protocol::UDP, "UDP")?;
    Ok((tcp, udp))
}

/// Accepts connections and answers each one's tag with the same tag marked as the reply.
fn serve_tcp(listener: &TcpListener, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((conn, _)) => {
                // A thread each, so a client whose tag is lost on the way (it waits at most
                // READ_TIMEOUT) holds up no other probe.
                std::thread::spawn(move || echo_stream(conn));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL / 10),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn echo_stream(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut payload = [0u8; Tag::TRANSPORT_LEN];
    stream.read_exact(&mut payload)?;
    if let Some((tag, false)) = Tag::parse_transport(&payload) {
        stream.write_all(&tag.transport_payload(true))?;
    }
    Ok(())
}

/// Echoes every tagged datagram to its sender, marked as the reply.
fn serve_udp(socket: &UdpSocket, stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if let Some((tag, false)) = Tag::parse_transport(&buf[..n]) {
            let _ = socket.send_to(&tag.transport_payload(true), from);
        }
    }
}
