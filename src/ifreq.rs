//! Reading an interface's flags and MTU with the classic ioctls. They answer for the network
//! namespace of the socket they are asked through, so a socket made inside a lab namespace
//! asks about that namespace's interfaces.

use std::os::fd::AsRawFd;

/// `SIOCGIFFLAGS`: IFF_UP, IFF_RUNNING and friends.
pub fn flags(socket: &impl AsRawFd, name: &str) -> Option<i32> {
    // SAFETY: SIOCGIFFLAGS writes only ifr_flags of the ifreq it is given.
    ifreq(socket, name, libc::SIOCGIFFLAGS).map(|req| i32::from(unsafe { req.ifr_ifru.ifru_flags }))
}

/// `SIOCGIFMTU`.
pub fn mtu(socket: &impl AsRawFd, name: &str) -> Option<u32> {
    // SAFETY: SIOCGIFMTU writes only ifr_mtu of the ifreq it is given.
    ifreq(socket, name, libc::SIOCGIFMTU)
        .and_then(|req| u32::try_from(unsafe { req.ifr_ifru.ifru_mtu }).ok())
}

fn ifreq(socket: &impl AsRawFd, name: &str, request: libc::Ioctl) -> Option<libc::ifreq> {
    // SAFETY: ifreq is plain old data; the name is copied with room for its NUL terminator.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        if name.len() >= req.ifr_name.len() {
            return None;
        }
        for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        (libc::ioctl(socket.as_raw_fd(), request, &mut req) >= 0).then_some(req)
    }
}
