//! One tagged ICMP echo from inside the source pod, and the wait for its reply.
//!
//! The payload carries a nonce of this run, so the walk picks out this probe's frames even
//! when NAT rewrites its addresses, and ignores any other traffic of the lab.

use crate::sys::icmp_socket;
use crate::sys::netns::{in_netns, NetnsError};
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

pub const MAGIC: &[u8; 12] = b"cnilab-trace";
const PAYLOAD: usize = 56;

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

    fn echo(&self) -> Vec<u8> {
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
    dst: Ipv4Addr,
    wait: Duration,
) -> Result<Option<Duration>, ProbeError> {
    let err = |source| ProbeError::Socket {
        pod: pod.to_string(),
        source,
    };
    let socket = in_netns(namespace, icmp_socket::open)?.map_err(err)?;
    let sent = Instant::now();
    icmp_socket::send_to(&socket, &probe.echo(), dst).map_err(err)?;
    let mut buf = [0u8; 1500];
    while let Some(left) = wait.checked_sub(sent.elapsed()) {
        let n = match icmp_socket::recv_within(&socket, &mut buf, left) {
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
        if is_reply(probe, &buf[..n]) {
            return Ok(Some(sent.elapsed()));
        }
    }
    Ok(None)
}

/// A raw socket reads the IP header too: an echo reply (type 0) carrying our marker.
fn is_reply(probe: &Probe, packet: &[u8]) -> bool {
    let hl = packet.first().map_or(0, |b| (b & 0x0f) as usize * 4);
    packet.get(hl) == Some(&0) && probe.in_frame(packet)
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
        let m = p.echo();
        assert_eq!(checksum(&m), 0);
        assert!(p.in_frame(&m));
        assert!(!Probe {
            marker: b"cnilab-traceXXXX".to_vec(),
            ..p.clone()
        }
        .in_frame(&m));
    }
}
