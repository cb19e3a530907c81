//! One tagged ICMP (or ICMPv6) echo from inside the source pod, and the wait for its reply.
//!
//! The payload carries a nonce of this run, so the walk picks out this probe's frames even
//! when NAT rewrites its addresses, and ignores any other traffic of the lab.

use crate::sys::icmp_socket;
use crate::sys::netns::{in_netns, NetnsError};
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

pub const MAGIC: &[u8; 12] = b"cnilab-trace";
const PAYLOAD: usize = 56;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("cannot send the probe from pod `{pod}`: {source}")]
    Socket { pod: String, source: io::Error },
}

/// What was sent: the echo identifier and sequence, and the payload's marker.
#[derive(Debug, Clone)]
pub struct Probe {
    pub id: u16,
    pub seq: u16,
    pub marker: Vec<u8>,
}

impl Probe {
    pub fn new() -> Probe {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let nonce = (nanos ^ std::process::id().rotate_left(16)).to_be_bytes();
        let mut marker = MAGIC.to_vec();
        marker.extend_from_slice(&nonce);
        Probe {
            id: (std::process::id() as u16) ^ (nanos as u16),
            seq: 1,
            marker,
        }
    }

    /// Whether a frame carries this probe (anywhere: outer headers differ by hop).
    pub fn in_frame(&self, frame: &[u8]) -> bool {
        frame
            .windows(self.marker.len())
            .any(|w| w == self.marker.as_slice())
    }

    /// The ICMP echo request; for IPv6, the ICMPv6 one, whose checksum the kernel fills in
    /// (it covers the IPv6 addresses, which a raw ICMPv6 socket leaves to the kernel).
    fn echo(&self, dst: IpAddr) -> Vec<u8> {
        if dst.is_ipv6() {
            let mut m = self.echo_v4();
            m[0] = ECHO_REQUEST_V6;
            m[2..4].copy_from_slice(&[0, 0]);
            return m;
        }
        self.echo_v4()
    }

    fn echo_v4(&self) -> Vec<u8> {
        let mut m = vec![8, 0, 0, 0];
        m.extend_from_slice(&self.id.to_be_bytes());
        m.extend_from_slice(&self.seq.to_be_bytes());
        m.extend_from_slice(&self.marker);
        m.resize(8 + PAYLOAD, 0);
        let sum = checksum(&m);
        m[2..4].copy_from_slice(&sum.to_be_bytes());
        m
    }
}

impl Default for Probe {
    fn default() -> Self {
        Probe::new()
    }
}

/// Sends the probe from the pod's namespace and waits up to `wait` for its reply; the reply's
/// arrival time, if any.
pub fn send_and_wait(
    probe: &Probe,
    pod: &str,
    namespace: &str,
    dst: IpAddr,
    wait: Duration,
) -> Result<Option<Duration>, ProbeError> {
    let err = |source| ProbeError::Socket {
        pod: pod.to_string(),
        source,
    };
    let open = match dst {
        IpAddr::V4(_) => icmp_socket::open,
        IpAddr::V6(_) => icmp_socket::open6,
    };
    let socket = in_netns(namespace, open)?.map_err(err)?;
    let sent = Instant::now();
    send(&socket, &probe.echo(dst), dst).map_err(err)?;
    let mut buf = [0u8; 1500];
    while let Some(left) = wait.checked_sub(sent.elapsed()) {
        let n = match recv(&socket, &mut buf, left, dst.is_ipv6()) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        };
        if is_reply(probe, &buf[..n], dst.is_ipv6()) {
            return Ok(Some(sent.elapsed()));
        }
    }
    Ok(None)
}

fn send(socket: &OwnedFd, message: &[u8], dst: IpAddr) -> io::Result<usize> {
    match dst {
        IpAddr::V4(v4) => icmp_socket::send_to(socket, message, v4),
        IpAddr::V6(v6) => icmp_socket::send_to6(socket, message, v6),
    }
}

fn recv(socket: &OwnedFd, buf: &mut [u8], wait: Duration, ipv6: bool) -> io::Result<usize> {
    if ipv6 {
        return icmp_socket::recv6_within(socket, buf, wait).map(|(n, _)| n);
    }
    icmp_socket::recv_within(socket, buf, wait)
}

/// An echo reply carrying our marker. A raw ICMP socket reads the IPv4 header too (the reply
/// is type 0 after it); a raw ICMPv6 socket reads the ICMPv6 message alone (type 129).
fn is_reply(probe: &Probe, packet: &[u8], ipv6: bool) -> bool {
    let (at, reply) = match ipv6 {
        true => (0, ECHO_REPLY_V6),
        false => (packet.first().map_or(0, |b| (b & 0x0f) as usize * 4), 0),
    };
    packet.get(at) == Some(&reply) && probe.in_frame(packet)
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_checksums_to_zero_and_carries_its_marker() {
        let p = Probe::new();
        let m = p.echo("10.0.2.2".parse().unwrap());
        assert_eq!(checksum(&m), 0);
        assert!(p.in_frame(&m));
        assert!(!Probe {
            marker: b"cnilab-traceXXXX".to_vec(),
            ..p.clone()
        }
        .in_frame(&m));
    }

    #[test]
    fn an_ipv6_echo_is_icmpv6_type_128_with_the_same_marker_and_its_reply_is_129() {
        let p = Probe::new();
        let m = p.echo("fd00:10:0:2::2".parse().unwrap());
        let v4 = p.echo("10.0.2.2".parse().unwrap());
        assert_eq!(m[0], 128);
        assert_eq!(&m[2..4], &[0, 0], "the kernel fills in the ICMPv6 checksum");
        assert_eq!((m.len(), &m[4..]), (v4.len(), &v4[4..]));
        let mut reply = m.clone();
        reply[0] = 129;
        assert!(is_reply(&p, &reply, true));
        assert!(!is_reply(&p, &m, true), "a request is not its own reply");
        let mut v4_reply = vec![0x45; 20];
        v4_reply.extend_from_slice(&v4);
        v4_reply[20] = 0;
        assert!(is_reply(&p, &v4_reply, false) && !is_reply(&p, &v4_reply, true));
    }
}
