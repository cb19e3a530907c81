//! Flushing a namespace's dynamic IPv4 neighbour entries over rtnetlink, as `ip neigh flush
//! all` does (dump, then delete every entry that is neither permanent nor noarp), without
//! starting a process: verify flushes every node before every probe phase, and a process per
//! namespace per phase was most of a cold run's time.
//!
//! The caller's thread must be inside the namespace: a netlink socket belongs to the namespace
//! it was created in.

use std::io;

const NLMSG_HDR: usize = 16;
const NDMSG: usize = 12;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;
const RTM_GETNEIGH: u16 = 30;
const NDA_DST: u16 = 1;
const NUD_NOARP: u16 = 0x40;
const NUD_PERMANENT: u16 = 0x80;

/// One neighbour entry: enough to delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub ifindex: i32,
    pub state: u16,
    pub dst: [u8; 4],
}

impl Neighbour {
    /// Learned from traffic, as opposed to configured.
    pub fn is_dynamic(&self) -> bool {
        self.state & (NUD_PERMANENT | NUD_NOARP) == 0
    }
}

/// A netlink message: header, `ndmsg`, then attributes (each 4-byte aligned).
fn message(kind: u16, flags: u16, seq: u32, ifindex: i32, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = vec![0u8; NDMSG];
    body[0] = libc::AF_INET as u8;
    body[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    for (kind, value) in attrs {
        let len = 4 + value.len();
        body.extend_from_slice(&(len as u16).to_ne_bytes());
        body.extend_from_slice(&kind.to_ne_bytes());
        body.extend_from_slice(value);
        body.resize(body.len().next_multiple_of(4), 0);
    }
    let mut msg = Vec::with_capacity(NLMSG_HDR + body.len());
    msg.extend_from_slice(&((NLMSG_HDR + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// The neighbours in one buffer of a dump, and whether the dump is done.
fn parse_dump(mut buf: &[u8]) -> io::Result<(Vec<Neighbour>, bool)> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDR {
        let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
        let kind = u16::from_ne_bytes(buf[4..6].try_into().unwrap());
        if len < NLMSG_HDR || len > buf.len() {
            return Err(io::Error::other("truncated netlink message"));
        }
        match kind {
            NLMSG_DONE => return Ok((out, true)),
            NLMSG_ERROR => return Err(netlink_error(&buf[NLMSG_HDR..len])),
            RTM_NEWNEIGH => out.extend(parse_neighbour(&buf[NLMSG_HDR..len])),
            _ => {}
        }
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    Ok((out, false))
}

fn parse_neighbour(body: &[u8]) -> Option<Neighbour> {
    if body.len() < NDMSG || i32::from(body[0]) != libc::AF_INET {
        return None;
    }
    let ifindex = i32::from_ne_bytes(body[4..8].try_into().ok()?);
    let state = u16::from_ne_bytes(body[8..10].try_into().ok()?);
    let mut attrs = &body[NDMSG..];
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes(attrs[0..2].try_into().ok()?));
        let kind = u16::from_ne_bytes(attrs[2..4].try_into().ok()?);
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == NDA_DST && len == 8 {
            return Some(Neighbour {
                ifindex,
                state,
                dst: attrs[4..8].try_into().ok()?,
            });
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    None
}

fn netlink_error(body: &[u8]) -> io::Error {
    match body
        .get(0..4)
        .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
    {
        Some(errno) if errno < 0 => io::Error::from_raw_os_error(-errno),
        Some(_) => io::Error::other("netlink acknowledgement"),
        None => io::Error::other("truncated netlink error"),
    }
}

struct Netlink(libc::c_int);

impl Drop for Netlink {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

impl Netlink {
    fn open() -> io::Result<Netlink> {
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Netlink(fd))
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        let n = unsafe { libc::send(self.0, msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Every IPv4 neighbour entry of the calling thread's namespace.
pub fn list() -> io::Result<Vec<Neighbour>> {
    let nl = Netlink::open()?;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    nl.send(&message(RTM_GETNEIGH, flags, 1, 0, &[]))?;
    let mut buf = vec![0u8; 64 << 10];
    let mut all = Vec::new();
    loop {
        let n = nl.recv(&mut buf)?;
        let (mut some, done) = parse_dump(&buf[..n])?;
        all.append(&mut some);
        if done || n == 0 {
            return Ok(all);
        }
    }
}

/// Deletes every dynamic IPv4 neighbour entry of the calling thread's namespace. An entry that
/// vanished meanwhile (ENOENT) is fine.
pub fn flush_dynamic() -> io::Result<()> {
    let nl = Netlink::open()?;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    let mut buf = vec![0u8; 8 << 10];
    for (seq, n) in (2u32..).zip(list()?.into_iter().filter(Neighbour::is_dynamic)) {
        nl.send(&message(
            RTM_DELNEIGH,
            flags,
            seq,
            n.ifindex,
            &[(NDA_DST, &n.dst)],
        ))?;
        let len = nl.recv(&mut buf)?;
        match parse_dump(&buf[..len]) {
            Err(e) if e.raw_os_error().is_some_and(|c| c != libc::ENOENT) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_the_parser() {
        let msg = message(RTM_NEWNEIGH, 0, 7, 3, &[(NDA_DST, &[10, 0, 1, 1])]);
        let mut body = msg.clone();
        // As the kernel answers a dump: the entry, its state, then DONE.
        body[NLMSG_HDR + 8..NLMSG_HDR + 10].copy_from_slice(&0x02u16.to_ne_bytes());
        let done = {
            let mut d = vec![0u8; NLMSG_HDR + 4];
            d[0..4].copy_from_slice(&(NLMSG_HDR as u32 + 4).to_ne_bytes());
            d[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
            d
        };
        body.extend_from_slice(&done);
        let (found, finished) = parse_dump(&body).unwrap();
        assert!(finished);
        assert_eq!(
            found,
            [Neighbour {
                ifindex: 3,
                state: 2,
                dst: [10, 0, 1, 1]
            }]
        );
        assert!(found[0].is_dynamic());
        let permanent = Neighbour {
            state: NUD_PERMANENT,
            ..found[0].clone()
        };
        assert!(!permanent.is_dynamic());
    }

    /// In a namespace of its own: a permanent entry survives, a dynamic one goes.
    #[test]
    fn flush_spares_permanent_entries() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test needs root: it makes a private network namespace"
        );
        let result = std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            let ip = |line: &str| {
                let ok = std::process::Command::new("ip")
                    .args(line.split_whitespace())
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "ip {line}");
            };
            ip("link add d0 type veth peer name d1");
            ip("link set d1 up");
            ip("link set d0 up");
            ip("addr add 10.9.0.1/24 dev d0");
            ip("neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent");
            ip("neigh add 10.9.0.3 lladdr 02:00:00:00:00:03 dev d0 nud stale");
            flush_dynamic().unwrap();
            list().unwrap()
        })
        .join()
        .unwrap();
        let dsts: Vec<[u8; 4]> = result.iter().map(|n| n.dst).collect();
        assert_eq!(dsts, [[10, 9, 0, 2]], "{result:?}");
    }
}
