//! What an exec line may still do as root: network configuration, and nothing else.

// Numbers from linux/capability.h.
const CAP_NET_BIND_SERVICE: u32 = 10;
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;

/// The capabilities an exec line keeps, each with why; every other one is dropped from all of
/// the line's sets, including the bounding set, so no program it runs can get it back.
pub const KEPT: [(u32, &str, &str); 3] = [
    (
        CAP_NET_ADMIN,
        "CAP_NET_ADMIN",
        "links, addresses, routes, neighbours, bridges, tunnels, netfilter (iptables, nft), \
         tc, and the node's own sysctls under /proc/sys/net",
    ),
    (
        CAP_NET_RAW,
        "CAP_NET_RAW",
        "ping, packet capture and the raw sockets iptables and routing daemons use",
    ),
    (
        CAP_NET_BIND_SERVICE,
        "CAP_NET_BIND_SERVICE",
        "routing daemons listen on ports below 1024 (BGP on 179)",
    ),
];

/// What `drop_all_but_kept` needs, read before forking.
#[derive(Debug, Clone, Copy)]
pub struct Privilege {
    last_cap: u32,
    kept: u64,
}

impl Privilege {
    pub fn new() -> Privilege {
        let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(63);
        Privilege {
            last_cap,
            kept: KEPT.iter().fold(0, |m, (cap, ..)| m | 1 << cap),
        }
    }

    /// For the calling thread and what it starts: after exec a root process gets exactly the
    /// bounding set, so the kept capabilities are all it has.
    pub fn drop_all_but_kept(&self) -> Result<(), i32> {
        for cap in 0..=self.last_cap {
            // SAFETY: prctl with integer arguments.
            if self.kept & (1 << cap) == 0
                && unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0
            {
                return Err(super::mounts::errno());
            }
        }
        capset(self.kept)?;
        // SAFETY: prctl with integer arguments.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            ) | libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        };
        if rc != 0 {
            return Err(super::mounts::errno());
        }
        Ok(())
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Effective and permitted become `kept`; inheritable empties, so exec cannot add to them.
fn capset(kept: u64) -> Result<(), i32> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |shift: u32| CapData {
        effective: (kept >> shift) as u32,
        permitted: (kept >> shift) as u32,
        inheritable: 0,
    };
    let data = [half(0), half(32)];
    // SAFETY: header and two data words, as version 3 of capset expects.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc != 0 {
        Err(super::mounts::errno())
    } else {
        Ok(())
    }
}
