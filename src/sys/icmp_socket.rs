//! A raw ICMP socket, for verify's and trace's echo probes: it sends an ICMP message to an
//! address (the kernel adds the IP header) and reads whole IPv4 packets back, IP header
//! included. Like every socket it keeps the namespace it was made in.

use nix::sys::socket::{
    recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol,
    SockType, SockaddrIn,
};
use nix::sys::time::TimeVal;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// A raw ICMP socket in the calling thread's namespace.
pub fn open() -> io::Result<OwnedFd> {
    Ok(socket(
        AddressFamily::Inet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Icmp,
    )?)
}

/// Sends one ICMP message to `dst`.
pub fn send_to(socket: &OwnedFd, message: &[u8], dst: Ipv4Addr) -> io::Result<usize> {
    let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
    Ok(sendto(socket.as_raw_fd(), message, &to, MsgFlags::empty())?)
}

/// Reads one packet, waiting at most `wait` (at least a millisecond: zero would mean forever).
/// Nothing in time is an error of kind `WouldBlock`.
pub fn recv_within(socket: &OwnedFd, buf: &mut [u8], wait: Duration) -> io::Result<usize> {
    let wait = wait.max(Duration::from_millis(1));
    let timeout = TimeVal::new(wait.as_secs() as _, wait.subsec_micros() as _);
    setsockopt(socket, sockopt::ReceiveTimeout, &timeout)?;
    Ok(recv(socket.as_raw_fd(), buf, MsgFlags::empty())?)
}

/// Reads one packet that is already waiting; none is an error of kind `WouldBlock`.
pub fn try_recv(socket: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    Ok(recv(socket.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT)?)
}
