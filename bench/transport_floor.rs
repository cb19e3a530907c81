//! The TCP and UDP part of verify's floor (bench/verify_floor.py): the segments and datagrams
//! of verify's transport probes, sent with nothing captured, dissected or judged.
//!
//! `transport_floor serve PORT` echoes, in the network namespace it runs in, the first
//! [`PAYLOAD`] bytes of each TCP connection and each UDP datagram to PORT, and holds each
//! connection until its client resets it, as verify's listener does. It prints `ready` once
//! both sockets are bound.
//!
//! `transport_floor probe PORT ADDR...` gives each ADDR what verify's TCP and UDP probes give a
//! pair: a connection that sends [`PAYLOAD`] bytes, reads their echo and ends with a reset
//! (SO_LINGER 0), then one datagram and its echo. It prints how many probes failed.
//!
//! Blocking std sockets: a sender goes from one address to the next, the senders of a phase run
//! side by side (one process each), as fping's do, and the listener serves each connection on a
//! thread of its own. The floor is the kernel's cost of the traffic.

use cnilab::verify::probe::ATTEMPT_TIMEOUTS;
use cnilab::verify::transport::end_with_reset;
use cnilab::wire::dissect::Tag;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// A transport probe's payload: verify's tag and its direction byte.
const PAYLOAD: usize = Tag::TRANSPORT_LEN;
/// As long as verify's first attempt waits for a reply.
const WAIT: Duration = ATTEMPT_TIMEOUTS[0];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.split_first() {
        Some((mode, rest)) if mode == "serve" && rest.len() == 1 => port(&rest[0]).and_then(serve),
        Some((mode, rest)) if mode == "probe" && !rest.is_empty() => {
            port(&rest[0]).and_then(|p| probe_all(p, &rest[1..]))
        }
        _ => Err(io::Error::other(
            "usage: transport_floor serve PORT | probe PORT ADDR...",
        )),
    };
    if let Err(e) = outcome {
        eprintln!("transport_floor: {e}");
        std::process::exit(2);
    }
}

fn port(text: &str) -> io::Result<u16> {
    text.parse()
        .map_err(|_| io::Error::other(format!("not a port: {text}")))
}

fn serve(port: u16) -> io::Result<()> {
    let tcp = TcpListener::bind(("0.0.0.0", port))?;
    let udp = UdpSocket::bind(("0.0.0.0", port))?;
    println!("ready");
    io::stdout().flush()?;
    std::thread::spawn(move || echo_datagrams(&udp));
    for stream in tcp.incoming().flatten() {
        // Connections side by side, as verify's listener serves them: one served after
        // another would keep clients waiting on each other and slow the floor itself.
        std::thread::spawn(move || echo_connection(stream));
    }
    Ok(())
}

fn echo_datagrams(udp: &UdpSocket) {
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = udp.recv_from(&mut buf) {
        let _ = udp.send_to(&buf[..n.min(PAYLOAD)], from);
    }
}

fn echo_connection(mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(WAIT * 4))?;
    let mut buf = [0u8; PAYLOAD];
    stream.read_exact(&mut buf)?;
    stream.write_all(&buf)?;
    // Until the client's reset: closing first would send a FIN that verify's listener never does.
    let mut rest = [0u8; 64];
    while stream.read(&mut rest)? > 0 {}
    Ok(())
}

fn probe_all(port: u16, addrs: &[String]) -> io::Result<()> {
    let mut failed = 0;
    for addr in addrs {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| io::Error::other(format!("not an address: {addr}")))?;
        let to = SocketAddr::new(ip, port);
        for (proto, outcome) in [("TCP", tcp_probe(to)), ("UDP", udp_probe(to))] {
            if let Err(e) = outcome {
                eprintln!("transport_floor: {proto} probe to {to}: {e}");
                failed += 1;
            }
        }
    }
    println!("{failed}");
    Ok(())
}

fn tcp_probe(to: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&to, WAIT)?;
    stream.set_read_timeout(Some(WAIT))?;
    stream.write_all(&[1; PAYLOAD])?;
    let mut echo = [0u8; PAYLOAD];
    stream.read_exact(&mut echo)?;
    end_with_reset(&stream);
    Ok(())
}

fn udp_probe(to: SocketAddr) -> io::Result<()> {
    let udp = UdpSocket::bind(("0.0.0.0", 0))?;
    // Connected, as verify's probe is, so that an ICMP error ends the wait at once.
    udp.connect(to)?;
    udp.set_read_timeout(Some(WAIT))?;
    udp.send(&[2; PAYLOAD])?;
    let mut echo = [0u8; PAYLOAD];
    udp.recv(&mut echo).map(|_| ())
}
