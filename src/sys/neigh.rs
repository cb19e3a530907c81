//! Flushing a namespace's learned forwarding state over rtnetlink, without starting a process:
//! dynamic IPv4 neighbours, as `ip neigh flush all` does, and learned bridge and VXLAN FDB
//! entries, as `bridge fdb flush ... dynamic` does. Both dump the table, then delete every
//! entry that is neither permanent nor noarp. verify flushes every node before every probe
//! phase, and a process per namespace per phase was most of a cold run's time.
//!
//! The caller's thread must be inside the namespace: a netlink socket belongs to the namespace
//! it was created in.

use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

const NLMSG_HDR: usize = 16;
const NDMSG: usize = 12;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;
const RTM_GETNEIGH: u16 = 30;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NDA_VLAN: u16 = 5;
const NDA_PROTOCOL: u16 = 12;
const NTF_SELF: u8 = 0x02;
const NTF_MASTER: u8 = 0x04;
const NUD_NOARP: u16 = 0x40;
const NUD_PERMANENT: u16 = 0x80;
/// REACHABLE, STALE, DELAY, PROBE, NOARP or PERMANENT: an entry that has an address.
const NUD_VALID: u16 = 0xde;

/// The protocol verify's own neighbour entries carry (NDA_PROTOCOL, as routes carry theirs), so
/// that they are told from the static entries a lab makes: 203, which no routing daemon claims.
pub const TAUGHT_BY_VERIFY: u8 = 203;

/// One neighbour or FDB entry: enough to delete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// AF_INET for the ARP table, AF_BRIDGE for an FDB.
    pub family: u8,
    pub ifindex: i32,
    pub state: u16,
    /// NTF_SELF (the device's own FDB, a VXLAN device's) or NTF_MASTER (its bridge's).
    pub flags: u8,
    pub dst: Option<[u8; 4]>,
    /// An IPv6 neighbour's address, or an FDB entry's IPv6 VTEP (an IPv6 underlay).
    pub dst6: Option<[u8; 16]>,
    pub lladdr: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    /// Who made the entry (NDA_PROTOCOL), when it says.
    pub protocol: Option<u8>,
}

impl Neighbour {
    /// Learned from traffic, as opposed to configured.
    pub fn is_dynamic(&self) -> bool {
        self.state & (NUD_PERMANENT | NUD_NOARP) == 0
    }

    /// Resolved: traffic to it leaves at once, without an ARP request first.
    pub fn is_valid(&self) -> bool {
        self.state & NUD_VALID != 0
    }

    /// The attributes that name this entry in a delete request.
    fn key(&self) -> Vec<(u16, Vec<u8>)> {
        let mut attrs = Vec::new();
        if let Some(mac) = self.lladdr {
            attrs.push((NDA_LLADDR, mac.to_vec()));
        }
        if let Some(dst) = self.dst {
            attrs.push((NDA_DST, dst.to_vec()));
        }
        if let Some(dst) = self.dst6 {
            attrs.push((NDA_DST, dst.to_vec()));
        }
        if let Some(vlan) = self.vlan {
            attrs.push((NDA_VLAN, vlan.to_ne_bytes().to_vec()));
        }
        attrs
    }
}

/// The `ndmsg` fields a request sets.
#[derive(Debug, Clone, Copy)]
struct Ndmsg {
    family: u8,
    ifindex: i32,
    flags: u8,
}

/// A netlink message: header, `ndmsg`, then attributes (each 4-byte aligned).
fn message(kind: u16, nl_flags: u16, seq: u32, nd: Ndmsg, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = vec![0u8; NDMSG];
    body[0] = nd.family;
    body[4..8].copy_from_slice(&nd.ifindex.to_ne_bytes());
    body[10] = nd.flags;
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
    msg.extend_from_slice(&nl_flags.to_ne_bytes());
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
    if body.len() < NDMSG {
        return None;
    }
    let mut n = Neighbour {
        family: body[0],
        ifindex: i32::from_ne_bytes(body[4..8].try_into().ok()?),
        state: u16::from_ne_bytes(body[8..10].try_into().ok()?),
        flags: body[10],
        dst: None,
        dst6: None,
        lladdr: None,
        vlan: None,
        protocol: None,
    };
    let mut attrs = &body[NDMSG..];
    while attrs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes(attrs[0..2].try_into().ok()?));
        let kind = u16::from_ne_bytes(attrs[2..4].try_into().ok()?);
        if len < 4 || len > attrs.len() {
            return None;
        }
        let value = &attrs[4..len];
        match kind {
            NDA_DST if value.len() == 16 => n.dst6 = value.try_into().ok(),
            NDA_DST => n.dst = value.try_into().ok(),
            NDA_LLADDR => n.lladdr = value.try_into().ok(),
            NDA_VLAN => n.vlan = value.try_into().ok().map(u16::from_ne_bytes),
            NDA_PROTOCOL => n.protocol = value.first().copied(),
            _ => {}
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    Some(n)
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

struct Netlink(OwnedFd);

impl Netlink {
    fn open() -> io::Result<Netlink> {
        Ok(Netlink(socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?))
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        send(self.0.as_raw_fd(), msg, MsgFlags::empty())?;
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(recv(self.0.as_raw_fd(), buf, MsgFlags::empty())?)
    }
}

/// Every entry of one family's table (AF_INET: neighbours; AF_BRIDGE: FDBs) in the calling
/// thread's namespace.
pub fn list(family: u8) -> io::Result<Vec<Neighbour>> {
    let nl = Netlink::open()?;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let nd = Ndmsg {
        family,
        ifindex: 0,
        flags: 0,
    };
    nl.send(&message(RTM_GETNEIGH, flags, 1, nd, &[]))?;
    let mut buf = vec![0u8; 64 << 10];
    let mut all = Vec::new();
    loop {
        let n = nl.recv(&mut buf)?;
        let (mut some, done) = parse_dump(&buf[..n])?;
        all.append(&mut some);
        if done || n == 0 {
            all.retain(|e| e.family == family);
            return Ok(all);
        }
    }
}

/// Deletes every dynamic IPv4 neighbour, with `ipv6` every dynamic IPv6 one (what NDP
/// learnt), and every learned FDB entry (a bridge's or a VXLAN device's, over either underlay
/// family) of the calling thread's namespace. An entry that vanished meanwhile (ENOENT) is
/// fine.
pub fn flush_dynamic(ipv6: bool) -> io::Result<()> {
    let mut tables = vec![libc::AF_INET as u8];
    if ipv6 {
        tables.push(libc::AF_INET6 as u8);
    }
    tables.push(libc::AF_BRIDGE as u8);
    delete_dynamic(&tables)
}

/// Deletes every learned FDB entry of the calling thread's namespace, and nothing else.
pub fn flush_learned_fdb() -> io::Result<()> {
    delete_dynamic(&[libc::AF_BRIDGE as u8])
}

/// Deletes the dynamic entries of each of `tables` (AF_INET, AF_INET6, AF_BRIDGE).
fn delete_dynamic(tables: &[u8]) -> io::Result<()> {
    let nl = Netlink::open()?;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    let mut buf = vec![0u8; 8 << 10];
    let mut learned = Vec::new();
    for &family in tables {
        learned.extend(list(family)?);
    }
    for (seq, n) in (2u32..).zip(learned.into_iter().filter(Neighbour::is_dynamic)) {
        let key = n.key();
        let attrs: Vec<(u16, &[u8])> = key.iter().map(|(k, v)| (*k, &v[..])).collect();
        let nd = Ndmsg {
            family: n.family,
            ifindex: n.ifindex,
            // Which FDB holds the entry; the dump's other flags (router, offloaded...) are
            // not the delete's business.
            flags: n.flags & (NTF_SELF | NTF_MASTER),
        };
        nl.send(&message(RTM_DELNEIGH, flags, seq, nd, &attrs))?;
        let len = nl.recv(&mut buf)?;
        match parse_dump(&buf[..len]) {
            Err(e) if e.raw_os_error().is_some_and(|c| c != libc::ENOENT) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// Writes neighbours into the calling thread's namespace's ARP or NDP table as static entries
/// (NUD_PERMANENT): used at once, never probed, never aged out and never garbage-collected.
/// A dynamic entry would be: a stale one unused for gc_stale_time (60 s) is deleted once the
/// shared table holds more than gc_thresh1 entries, and one whose unicast probe goes
/// unanswered in a busy moment fails; either way its router broadcasts for the peer again in
/// the middle of a run. [`Teacher::forget`] takes them out again.
pub struct Teacher {
    nl: Netlink,
    seq: u32,
    buf: Vec<u8>,
}

impl Teacher {
    pub fn open() -> io::Result<Teacher> {
        Ok(Teacher {
            nl: Netlink::open()?,
            seq: 1,
            buf: vec![0u8; 4 << 10],
        })
    }

    /// Writes `dst` at `lladdr` on `ifindex`: into the ARP table for an IPv4 address, the
    /// NDP table for an IPv6 one.
    pub fn teach(&mut self, ifindex: i32, dst: IpAddr, lladdr: [u8; 6]) -> io::Result<()> {
        let flags =
            (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_REPLACE)
                as u16;
        let octets = octets(dst);
        let attrs: [(u16, &[u8]); 3] = [
            (NDA_DST, &octets),
            (NDA_LLADDR, &lladdr),
            (NDA_PROTOCOL, &[TAUGHT_BY_VERIFY]),
        ];
        let mut msg = self.message(RTM_NEWNEIGH, flags, ifindex, dst, &attrs);
        msg[NLMSG_HDR + 8..NLMSG_HDR + 10].copy_from_slice(&NUD_PERMANENT.to_ne_bytes());
        self.ask(&msg, false)
    }

    /// Deletes a neighbour taught before; one already gone is fine.
    pub fn forget(&mut self, ifindex: i32, dst: IpAddr) -> io::Result<()> {
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
        let octets = octets(dst);
        let msg = self.message(RTM_DELNEIGH, flags, ifindex, dst, &[(NDA_DST, &octets)]);
        self.ask(&msg, true)
    }

    fn message(
        &mut self,
        kind: u16,
        flags: u16,
        ifindex: i32,
        dst: IpAddr,
        attrs: &[(u16, &[u8])],
    ) -> Vec<u8> {
        let family = match dst {
            IpAddr::V4(_) => libc::AF_INET,
            IpAddr::V6(_) => libc::AF_INET6,
        };
        let nd = Ndmsg {
            family: family as u8,
            ifindex,
            flags: 0,
        };
        self.seq += 1;
        message(kind, flags, self.seq, nd, attrs)
    }

    fn ask(&mut self, msg: &[u8], gone_is_fine: bool) -> io::Result<()> {
        self.nl.send(msg)?;
        let len = self.nl.recv(&mut self.buf)?;
        match parse_dump(&self.buf[..len]) {
            Err(e) if gone_is_fine && e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            Err(e) if e.raw_os_error().is_some() => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_the_parser() {
        let nd = Ndmsg {
            family: libc::AF_BRIDGE as u8,
            ifindex: 3,
            flags: NTF_SELF,
        };
        let mac = [0x32, 0x35, 0x7b, 0xdd, 0x33, 0xb3];
        let attrs: [(u16, &[u8]); 2] = [(NDA_LLADDR, &mac), (NDA_DST, &[10, 0, 1, 1])];
        let mut body = message(RTM_NEWNEIGH, 0, 7, nd, &attrs);
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
        let entry = Neighbour {
            dst6: None,
            family: libc::AF_BRIDGE as u8,
            ifindex: 3,
            state: 2,
            flags: NTF_SELF,
            dst: Some([10, 0, 1, 1]),
            lladdr: Some(mac),
            vlan: None,
            protocol: None,
        };
        assert_eq!(found, std::slice::from_ref(&entry));
        assert!(found[0].is_dynamic());
        assert_eq!(
            entry.key(),
            [(NDA_LLADDR, mac.to_vec()), (NDA_DST, vec![10, 0, 1, 1])]
        );
        let permanent = Neighbour {
            state: NUD_PERMANENT,
            ..entry
        };
        assert!(!permanent.is_dynamic());
    }

    /// Runs `tool` with the words of `line`, in the calling thread's namespace, and fails the
    /// test if it fails.
    pub(crate) fn ip(tool: &str, line: &str) {
        let ok = std::process::Command::new(tool)
            .args(line.split_whitespace())
            .status()
            .unwrap()
            .success();
        assert!(ok, "{tool} {line}");
    }

    /// In a namespace of its own: permanent neighbour and FDB entries survive, dynamic ones
    /// (a neighbour, a bridge-learned MAC, a VXLAN-learned MAC) go.
    #[test]
    fn flush_spares_permanent_entries() {
        let hung = "flushing hung";
        let (neighbours, fdb) = crate::sys::netns::testing::in_private_netns(hung, || {
            for line in [
                "link add d0 type veth peer name d1",
                "link set d1 up",
                "link set d0 up",
                "addr add 10.9.0.1/24 dev d0",
                "neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev d0 nud permanent",
                "neigh add 10.9.0.3 lladdr 02:00:00:00:00:03 dev d0 nud stale",
                "link add br0 type bridge",
                "link add p0 type veth peer name p1",
                "link set p0 master br0",
                "link set br0 up",
                "link set p0 up",
                "link set p1 address 02:00:00:00:00:11",
                "link set p1 up",
                "addr add 10.9.1.1/24 dev p1",
                "link add vx0 type vxlan id 1 dstport 8472 local 10.9.0.1 dev d0",
            ] {
                ip("ip", line);
            }
            for line in [
                "fdb add 02:00:00:00:00:10 dev p0 master static",
                "fdb append 00:00:00:00:00:00 dev vx0 dst 10.9.0.2",
                "fdb add 02:00:00:00:00:12 dev vx0 dst 10.9.0.3 dynamic",
            ] {
                ip("bridge", line);
            }
            // The bridge learns p1's MAC from the ARP request a ping sends (and gets no answer).
            let _ = std::process::Command::new("ping")
                .args(["-c1", "-W1", "-I", "p1", "10.9.1.2"])
                .output();
            let learned = list(libc::AF_BRIDGE as u8).unwrap();
            assert!(
                learned
                    .iter()
                    .any(|n| n.lladdr == Some([2, 0, 0, 0, 0, 0x11]) && n.is_dynamic()),
                "the bridge did not learn p1's MAC: {learned:?}"
            );
            flush_dynamic(false).unwrap();
            let fdb = list(libc::AF_BRIDGE as u8).unwrap();
            (list(libc::AF_INET as u8).unwrap(), fdb)
        });
        let dsts: Vec<_> = neighbours.iter().filter_map(|n| n.dst).collect();
        assert!(dsts.contains(&[10, 9, 0, 2]), "{neighbours:?}");
        assert!(!dsts.contains(&[10, 9, 0, 3]), "{neighbours:?}");
        assert!(
            !neighbours.iter().any(Neighbour::is_dynamic),
            "{neighbours:?}"
        );
        let macs: Vec<[u8; 6]> = fdb.iter().filter_map(|n| n.lladdr).collect();
        let has = |last: u8| {
            macs.iter()
                .any(|m| m[..5] == [2, 0, 0, 0, 0] && m[5] == last)
        };
        assert!(has(0x10), "the static bridge entry stays: {fdb:?}");
        assert!(macs.contains(&[0; 6]), "the flood entry stays: {fdb:?}");
        assert!(!has(0x11), "the learned bridge entry goes: {fdb:?}");
        assert!(!has(0x12), "the learned VXLAN entry goes: {fdb:?}");
    }

    /// Between two private namespaces: a taught neighbour is a static entry with the taught
    /// address, traffic to it flows with no ARP request of its own, and forget removes it.
    #[test]
    fn a_taught_neighbour_carries_traffic_until_it_is_forgotten() {
        use std::sync::mpsc::channel;
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test needs root: it makes private network namespaces"
        );
        let (tid_tx, tid_rx) = channel();
        let (go_tx, go_rx) = channel::<()>();
        let (ready_tx, ready_rx) = channel::<[u8; 6]>();
        let (end_tx, end_rx) = channel::<()>();
        // The answering side: a thread in a namespace of its own, alive until the test is done.
        let peer = std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
            go_rx.recv().unwrap();
            ip("ip", "addr add 10.9.2.2/24 dev r1");
            ip("ip", "link set r1 up");
            let mac = crate::sys::packet_socket::mac_of("r1").unwrap();
            ready_tx.send(mac).unwrap();
            let _ = end_rx.recv();
        });
        let found = std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            let peer_tid: i32 = tid_rx.recv().unwrap();
            ip("ip", "link add r0 type veth peer name r1");
            ip("ip", &format!("link set r1 netns {peer_tid}"));
            go_tx.send(()).unwrap();
            ip("ip", "addr add 10.9.2.1/24 dev r0");
            ip("ip", "link set r0 up");
            let mac = ready_rx.recv().unwrap();
            let index = nix::net::if_::if_nametoindex("r0").unwrap() as i32;
            let ping = || {
                std::process::Command::new("ping")
                    .args(["-c1", "-W1", "10.9.2.2"])
                    .output()
                    .unwrap()
                    .status
                    .success()
            };
            let mut teacher = Teacher::open().unwrap();
            // A wrong MAC taught: frames go to it, not to a broadcast ARP, so the ping fails.
            teacher
                .teach(index, "10.9.2.2".parse().unwrap(), [2, 0, 0, 0, 0, 0x99])
                .unwrap();
            let through_wrong = ping();
            teacher
                .teach(index, "10.9.2.2".parse().unwrap(), mac)
                .unwrap();
            let pinged = ping();
            let taught = list(libc::AF_INET as u8)
                .unwrap()
                .into_iter()
                .find(|n| n.ifindex == index && n.dst == Some([10, 9, 2, 2]));
            assert!(!through_wrong, "a ping went through a wrongly taught entry");
            teacher.forget(index, "10.9.2.2".parse().unwrap()).unwrap();
            teacher.forget(index, "10.9.2.2".parse().unwrap()).unwrap();
            let forgotten = list(libc::AF_INET as u8)
                .unwrap()
                .into_iter()
                .find(|n| n.ifindex == index && n.dst == Some([10, 9, 2, 2]));
            // The same in IPv6: an NDP entry, permanent, and gone after forget.
            let six: IpAddr = "fd00:9:2::2".parse().unwrap();
            let ndp = || {
                list(libc::AF_INET6 as u8)
                    .unwrap()
                    .into_iter()
                    .find(|n| n.ifindex == index && n.dst6.map(IpAddr::from) == Some(six))
            };
            teacher.teach(index, six, mac).unwrap();
            let taught6 = ndp();
            teacher.forget(index, six).unwrap();
            let forgotten6 = ndp();
            ((taught, taught6), mac, pinged, (forgotten, forgotten6))
        })
        .join()
        .unwrap();
        end_tx.send(()).unwrap();
        peer.join().unwrap();
        let ((entry, entry6), mac, pinged, (forgotten, forgotten6)) = found;
        let entry6 = entry6.expect("no NDP entry for fd00:9:2::2 on r0");
        assert_eq!(
            (entry6.state, entry6.lladdr, entry6.protocol),
            (NUD_PERMANENT, Some(mac), Some(TAUGHT_BY_VERIFY)),
            "{entry6:?}"
        );
        assert!(
            forgotten6.is_none(),
            "still there after forget: {forgotten6:?}"
        );
        let entry = entry.expect("no entry for 10.9.2.2 on r0");
        assert_eq!(entry.state, NUD_PERMANENT, "{entry:?}");
        assert_eq!(entry.lladdr, Some(mac), "{entry:?}");
        assert_eq!(entry.protocol, Some(TAUGHT_BY_VERIFY), "{entry:?}");
        assert!(
            forgotten.is_none(),
            "still there after forget: {forgotten:?}"
        );
        assert!(pinged, "a ping through the taught entry got no answer");
    }

    /// With IPv6 asked for, what NDP learnt goes too, and a permanent IPv6 neighbour and a
    /// VXLAN FDB entry towards an IPv6 VTEP stay; without, IPv6 neighbours are not read.
    #[test]
    fn flush_takes_dynamic_ipv6_neighbours_when_asked() {
        let hung = "flushing IPv6 hung";
        let (kept_without, after) = crate::sys::netns::testing::in_private_netns(hung, || {
            for line in [
                "link add d0 type veth peer name d1",
                "link set d1 up",
                "link set d0 up",
                "-6 addr add fd00:9::1/64 dev d0 nodad",
                "-6 neigh add fd00:9::2 lladdr 02:00:00:00:00:02 dev d0 nud permanent",
                "-6 neigh add fd00:9::3 lladdr 02:00:00:00:00:03 dev d0 nud stale",
                "link add vx6 type vxlan id 1 dstport 4789 local fd00:9::1 dev d0",
            ] {
                ip("ip", line);
            }
            ip(
                "bridge",
                "fdb append 00:00:00:00:00:00 dev vx6 dst fd00:9::2",
            );
            ip(
                "bridge",
                "fdb add 02:00:00:00:00:12 dev vx6 dst fd00:9::3 dynamic",
            );
            flush_dynamic(false).unwrap();
            let kept = list(libc::AF_INET6 as u8).unwrap();
            flush_dynamic(true).unwrap();
            let mut after = list(libc::AF_INET6 as u8).unwrap();
            after.extend(list(libc::AF_BRIDGE as u8).unwrap());
            (kept, after)
        });
        let three = |n: &Neighbour| n.dst6.is_some_and(|d| d[15] == 3);
        assert!(kept_without.iter().any(three), "{kept_without:?}");
        assert!(!after.iter().any(Neighbour::is_dynamic), "{after:?}");
        assert!(
            after
                .iter()
                .any(|n| n.dst6.is_some_and(|d| d[15] == 2) && n.family == libc::AF_BRIDGE as u8),
            "{after:?}"
        );
        assert!(
            after
                .iter()
                .any(|n| n.dst6.is_some_and(|d| d[15] == 2) && n.family == libc::AF_INET6 as u8),
            "{after:?}"
        );
    }
}
