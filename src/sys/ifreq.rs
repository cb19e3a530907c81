//! Reading an interface's flags and MTU, and setting its flags, with the classic ioctls. They answer for the network
//! namespace of the socket they are asked through, so a socket made inside a lab namespace
//! asks about that namespace's interfaces.
//!
//! nix has the ioctl macros but neither these requests nor `struct ifreq`, so both come from
//! libc.

use std::os::fd::AsRawFd;

nix::ioctl_read_bad!(siocgifflags, libc::SIOCGIFFLAGS, libc::ifreq);
nix::ioctl_read_bad!(siocgifmtu, libc::SIOCGIFMTU, libc::ifreq);
nix::ioctl_write_ptr_bad!(siocsifflags, libc::SIOCSIFFLAGS, libc::ifreq);

/// `SIOCGIFFLAGS`: IFF_UP, IFF_RUNNING and friends.
pub fn flags(socket: &impl AsRawFd, name: &str) -> Option<i32> {
    let mut req = named(name)?;
    // SAFETY: the ifreq is valid and SIOCGIFFLAGS writes only its ifr_flags, read back after.
    unsafe {
        siocgifflags(socket.as_raw_fd(), &mut req).ok()?;
        Some(i32::from(req.ifr_ifru.ifru_flags))
    }
}

/// `SIOCSIFFLAGS`: sets the interface's flags to `flags` (as [`flags`] read them).
pub fn set_flags(socket: &impl AsRawFd, name: &str, flags: i32) -> std::io::Result<()> {
    let too_long = || std::io::Error::from_raw_os_error(libc::ENAMETOOLONG);
    let mut req = named(name).ok_or_else(too_long)?;
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: the ifreq is valid, names the interface and carries the flags to set.
    unsafe { siocsifflags(socket.as_raw_fd(), &req) }?;
    Ok(())
}

/// `SIOCGIFMTU`.
pub fn mtu(socket: &impl AsRawFd, name: &str) -> Option<u32> {
    let mut req = named(name)?;
    // SAFETY: the ifreq is valid and SIOCGIFMTU writes only its ifr_mtu, read back after.
    unsafe {
        siocgifmtu(socket.as_raw_fd(), &mut req).ok()?;
        u32::try_from(req.ifr_ifru.ifru_mtu).ok()
    }
}

/// A zeroed ifreq naming `name`, with room left for its NUL terminator.
fn named(name: &str) -> Option<libc::ifreq> {
    // SAFETY: ifreq is plain old data, valid when zeroed.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return None;
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Some(req)
}
