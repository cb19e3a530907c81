//! Listening on every interface of every node: one packet socket per interface (see
//! [`crate::sys::packet_socket`]), each frame stamped by the kernel, not when read.
//!
//! The kernel stamps a frame once, when it crosses a device, so two capture points that see the
//! same skb within one namespace (a bridge port and its bridge) carry the same time; the walk
//! orders such ties itself.

use crate::sys::netns::{in_netns, NetnsError};
use crate::sys::packet_socket::{
    self, OpenError, PacketSocket, ReadError, Readers, RingSize, Stop,
};
use std::io;
use std::time::Duration;

/// After stop, a reader drains what is queued, but not for longer than this.
const DRAIN_LIMIT: Duration = Duration::from_millis(300);

/// An interface of a node, where trace listens.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Point {
    pub node: String,
    #[serde(skip)]
    pub namespace: String,
    pub iface: String,
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
    #[error("cannot start the capture readers: {0}")]
    Start(io::Error),
}

/// Every interface but loopback in the namespace of each `(node, namespace)`.
pub fn points(nodes: &[(String, String)]) -> Result<Vec<Point>, CaptureError> {
    let mut out = Vec::new();
    for (node, namespace) in nodes {
        let names = in_netns(namespace, up_interfaces)?.map_err(|e| CaptureError::Open {
            point: format!("{node}:*"),
            source: e.into(),
        })?;
        for (iface, _) in names.into_iter().filter(|(n, _)| n != "lo") {
            out.push(Point {
                node: node.clone(),
                namespace: namespace.clone(),
                iface,
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

pub fn open(point: &Point) -> Result<PacketSocket, CaptureError> {
    packet_socket::open(&point.namespace, &point.iface, None, RingSize::WIRE).map_err(|e| match e {
        OpenError::Netns(e) => CaptureError::Netns(e),
        other => CaptureError::Open {
            point: point.label(),
            source: io::Error::other(other.to_string()),
        },
    })
}

/// Readers running until [`Running::stop`].
pub struct Running(Readers<Result<Vec<Frame>, CaptureError>>);

pub fn start(points: &[Point], sockets: Vec<PacketSocket>) -> Result<Running, CaptureError> {
    let labels: Vec<String> = points.iter().map(Point::label).collect();
    packet_socket::start(sockets, move |i, socket, stop| {
        read(&socket, i, &labels[i], stop)
    })
    .map(Running)
    .map_err(CaptureError::Start)
}

impl Running {
    /// Every frame of every point; a point whose socket failed is an error.
    pub fn stop(self) -> Result<Vec<Frame>, CaptureError> {
        let mut all = Vec::new();
        for frames in self.0.stop() {
            all.extend(frames?);
        }
        Ok(all)
    }
}

fn read(
    socket: &PacketSocket,
    point: usize,
    label: &str,
    stop: &Stop,
) -> Result<Vec<Frame>, CaptureError> {
    let mut frames = Vec::new();
    let read = socket.read_until(stop, DRAIN_LIMIT, |f| {
        frames.push(Frame {
            ts: f.ts,
            point,
            outgoing: f.outgoing,
            ethernet: f.ethernet,
            data: f.data.to_vec(),
        })
    });
    match read {
        Ok(()) => Ok(frames),
        // The interface went down under the capture: what it saw so far still counts.
        Err(ReadError::Os(e)) if e.raw_os_error() == Some(libc::ENETDOWN) => Ok(frames),
        Err(ReadError::Os(source)) => Err(CaptureError::Open {
            point: label.to_string(),
            source,
        }),
    }
}
