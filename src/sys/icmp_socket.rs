//! A raw ICMP socket, for verify's and trace's echo probes: it sends an ICMP message to an
//! address (the kernel adds the IP header) and reads whole IPv4 packets back, IP header
//! included. Like every socket it keeps the namespace it was made in.

use nix::sys::socket::{
    recv, recvfrom, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag,
    SockProtocol, SockType, SockaddrIn, SockaddrIn6,
};
use nix::sys::time::TimeVal;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
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

/// A raw ICMPv6 socket in the calling thread's namespace. Unlike an ICMP one it reads the
/// ICMPv6 message alone, without the IPv6 header ([`recv6_within`] gives its source), and the
/// kernel computes the checksum of what it sends (RFC 3542).
pub fn open6() -> io::Result<OwnedFd> {
    Ok(socket(
        AddressFamily::Inet6,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::IcmpV6,
    )?)
}

/// Sends one ICMPv6 message to `dst`.
pub fn send_to6(socket: &OwnedFd, message: &[u8], dst: Ipv6Addr) -> io::Result<usize> {
    let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, 0));
    Ok(sendto(socket.as_raw_fd(), message, &to, MsgFlags::empty())?)
}

/// Reads one ICMPv6 message and its sender, waiting at most `wait` (zero: only what is
/// already waiting). Nothing in time is an error of kind `WouldBlock`.
pub fn recv6_within(
    socket: &OwnedFd,
    buf: &mut [u8],
    wait: Duration,
) -> io::Result<(usize, Option<Ipv6Addr>)> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    if poll(&mut fds, timeout)? == 0 {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    let (n, from) = recvfrom::<SockaddrIn6>(socket.as_raw_fd(), buf)?;
    Ok((n, from.map(|a| a.ip())))
}
