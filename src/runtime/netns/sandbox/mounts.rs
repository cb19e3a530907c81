//! A node's view of the file system, as a list of mount operations prepared in cnilab and
//! replayed by the node's holder (PID 1 of the node) in its fresh mount namespace.
//!
//! Everything a forked child touches is prepared here: between fork and exec a child of a
//! threaded program may not allocate.

use crate::runtime::shape::Bind;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// One system call of the set-up, its arguments ready.
#[derive(Debug)]
pub enum Op {
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// mount_setattr(2): read-only on or off, for one mount or the whole tree under it.
    ReadOnly {
        path: CString,
        on: bool,
        recursive: bool,
    },
    /// Detached, with everything under it; nothing to do if it is not a mount point.
    Unmount(CString),
    /// A directory that may exist already.
    Mkdir(CString),
    /// Opens `path` (O_PATH) as descriptor `fd`, so that it can still be bound from after a
    /// tmpfs covers it. A bind's source must be in the caller's own mount namespace, so this
    /// happens in the holder, not in cnilab.
    Hold {
        path: CString,
        fd: i32,
    },
    /// An empty file for a device node to be bound onto.
    Touch(CString),
    Symlink {
        target: CString,
        link: CString,
    },
}

pub struct MountPlan {
    pub ops: Vec<Op>,
}

/// Descriptors the holder uses for the host paths it binds from; high enough to be free
/// below the usual limit of 1024.
const FIRST_HELD_FD: i32 = 600;

/// Device nodes a shell script expects; nothing that reaches the host's disks or memory.
/// `net/tun` lets wireguard-go make its device where the kernel has no WireGuard: a TUN
/// device is a link in the node's own namespace, which CAP_NET_ADMIN already lets it make.
const DEVICES: [&str; 7] = [
    "null", "zero", "full", "random", "urandom", "tty", "net/tun",
];

/// `/proc` entries a root process without capabilities could still write (their files belong
/// to root), made read-only. `/proc/sys/net` is made writable again afterwards: it is the
/// node's own.
const PROC_READ_ONLY: [&str; 5] = [
    "/proc/sys",
    "/proc/irq",
    "/proc/bus",
    "/proc/fs",
    "/proc/sysrq-trigger",
];

impl MountPlan {
    /// `writable`: host folders the node may write to (the lab's folder); `binds`: the node's
    /// own `binds:`.
    pub fn new(writable: &[PathBuf], binds: &[Bind]) -> MountPlan {
        let mut ops = vec![
            // Nothing mounted in the node reaches the host, nor the other way round.
            mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None),
            ReadOnlyTree::on("/"),
        ];
        let mut held = Held {
            next: FIRST_HELD_FD,
        };
        // The copies of the host's named network namespaces (every lab's, not only this one)
        // would keep each namespace alive as long as this node lives, even after its own lab
        // removed it.
        for netns in ["/run/netns", "/var/run/netns"] {
            ops.push(Op::Unmount(c(netns)));
        }
        for (dir, mode) in [("/tmp", "1777"), ("/run", "755"), ("/var/run", "755")] {
            // /var/run is usually a link to /run: mounting on it would cover /run twice.
            if Path::new(dir).symlink_metadata().is_ok_and(|m| m.is_dir()) {
                ops.push(tmpfs(dir, mode));
            }
        }
        dev(&mut ops, &mut held);
        for dir in writable {
            bind_writable(&mut ops, &mut held, dir);
        }
        for b in binds {
            bind(&mut ops, &mut held, b);
        }
        kernel_views(&mut ops);
        // Holds come first: before anything covers the paths they open.
        ops.sort_by_key(|op| !matches!(op, Op::Hold { .. }));
        MountPlan { ops }
    }
}

/// `dir` of the host, writable in the node, even under one of the node's own tmpfs.
fn bind_writable(ops: &mut Vec<Op>, held: &mut Held, dir: &Path) {
    let target = dir.to_string_lossy();
    let fd = held.hold(ops, &target);
    ops.extend(ancestors(dir).map(|d| Op::Mkdir(c(&d))));
    let flags = libc::MS_BIND | libc::MS_REC;
    ops.push(mount(Some(&fd), &target, None, flags, None));
    ops.push(ReadOnlyTree::off(&target));
}

/// A host file or folder seen at another path in the node, as a container's bind. The
/// target's folders are made where the node may (its tmpfs /run and /tmp); elsewhere, on the
/// read-only root, the target must exist already, as /etc/bird does where bird is installed.
fn bind(ops: &mut Vec<Op>, held: &mut Held, b: &Bind) {
    let fd = held.hold(ops, &b.source.to_string_lossy());
    let target = b.target.to_string_lossy().into_owned();
    if b.source.is_dir() {
        ops.extend(ancestors(&b.target).map(|d| Op::Mkdir(c(&d))));
    } else {
        let parent = b.target.parent().unwrap_or(Path::new("/"));
        ops.extend(ancestors(parent).map(|d| Op::Mkdir(c(&d))));
        if !b.target.exists() {
            ops.push(Op::Touch(c(&target)));
        }
    }
    ops.push(mount(
        Some(&fd),
        &target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    ));
    ops.push(ReadOnlyTree::set(&target, b.read_only));
}

/// /sys and /proc as the node's own namespaces show them. Comes after every bind from a held
/// path: those paths go through the host's /proc.
fn kernel_views(ops: &mut Vec<Op>) {
    // sysfs shows the network devices of the namespace that mounts it, as `ip netns exec`
    // arranges; read-only, because root owns its writable files.
    ops.push(Op::Unmount(c("/sys")));
    let quiet = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    let sysfs = Some("sysfs");
    ops.push(mount(sysfs, "/sys", sysfs, quiet | libc::MS_RDONLY, None));
    ops.push(Op::Unmount(c("/proc")));
    ops.push(mount(Some("proc"), "/proc", Some("proc"), quiet, None));
    for p in PROC_READ_ONLY.iter().filter(|p| Path::new(p).exists()) {
        ops.push(mount(Some(p), p, None, libc::MS_BIND | libc::MS_REC, None));
        ops.push(ReadOnlyTree::on(p));
    }
    let net = "/proc/sys/net";
    ops.push(mount(
        Some(net),
        net,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    ));
    ops.push(ReadOnlyTree::off(net));
}

/// A private /dev with only harmless devices: an ordinary root process could otherwise write
/// to the host's disks through their device files.
fn dev(ops: &mut Vec<Op>, held: &mut Held) {
    ops.push(tmpfs("/dev", "755"));
    for name in DEVICES {
        let target = format!("/dev/{name}");
        if !Path::new(&target).exists() {
            continue;
        }
        let fd = held.hold(ops, &target);
        if let Some((dir, _)) = name.rsplit_once('/') {
            ops.push(Op::Mkdir(c(format!("/dev/{dir}"))));
        }
        ops.push(Op::Touch(c(&target)));
        ops.push(mount(Some(&fd), &target, None, libc::MS_BIND, None));
    }
    for dir in ["/dev/pts", "/dev/shm"] {
        ops.push(Op::Mkdir(c(dir)));
    }
    ops.push(tmpfs("/dev/shm", "1777"));
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        ops.push(Op::Symlink {
            target: c(target),
            link: c(link),
        });
    }
}

struct Held {
    next: i32,
}

impl Held {
    /// Adds an operation that holds `path` open; returns the path that reaches it later.
    fn hold(&mut self, ops: &mut Vec<Op>, path: &str) -> String {
        let fd = self.next;
        self.next += 1;
        ops.push(Op::Hold { path: c(path), fd });
        format!("/proc/self/fd/{fd}")
    }
}

struct ReadOnlyTree;

impl ReadOnlyTree {
    fn set(path: &str, on: bool) -> Op {
        match on {
            true => ReadOnlyTree::on(path),
            false => ReadOnlyTree::off(path),
        }
    }

    fn on(path: &str) -> Op {
        Op::ReadOnly {
            path: c(path),
            on: true,
            recursive: true,
        }
    }

    fn off(path: &str) -> Op {
        Op::ReadOnly {
            path: c(path),
            on: false,
            recursive: true,
        }
    }
}

fn tmpfs(dir: &str, mode: &str) -> Op {
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("mode={mode}")),
    )
}

fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Op {
    Op::Mount {
        source: source.map(c),
        target: c(target),
        fstype: fstype.map(c),
        flags,
        data: data.map(c),
    }
}

/// `dir` and its parents, outermost first, without `/`: the chain a bind under a fresh tmpfs
/// needs.
fn ancestors(dir: &Path) -> impl Iterator<Item = String> {
    let mut chain: Vec<String> = dir
        .ancestors()
        .filter(|a| a.parent().is_some())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    chain.reverse();
    chain.into_iter()
}

fn c(s: impl AsRef<str>) -> CString {
    CString::new(s.as_ref()).expect("no NUL in a path cnilab builds")
}

/// Applies one operation; runs in the forked holder, so it only makes system calls.
pub fn apply(op: &Op) -> Result<(), i32> {
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is a valid NUL-terminated string or null, as each call allows.
    let rc = unsafe {
        match op {
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => libc::mount(
                ptr(source),
                target.as_ptr(),
                ptr(fstype),
                *flags,
                ptr(data).cast(),
            ),
            Op::ReadOnly {
                path,
                on,
                recursive,
            } => set_read_only(path, *on, *recursive),
            Op::Unmount(target) => match libc::umount2(target.as_ptr(), libc::MNT_DETACH) {
                -1 if matches!(errno(), libc::EINVAL | libc::ENOENT) => 0,
                rc => rc,
            },
            Op::Mkdir(path) => match libc::mkdir(path.as_ptr(), 0o755) {
                -1 if errno() == libc::EEXIST => 0,
                rc => rc,
            },
            Op::Hold { path, fd } => {
                let opened = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
                if opened >= 0 && opened != *fd {
                    let rc = libc::dup2(opened, *fd);
                    libc::close(opened);
                    rc
                } else {
                    opened
                }
            }
            Op::Touch(path) => {
                let fd = libc::open(path.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o644);
                if fd >= 0 {
                    libc::close(fd);
                }
                fd.min(0)
            }
            Op::Symlink { target, link } => libc::symlink(target.as_ptr(), link.as_ptr()),
        }
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// struct mount_attr of linux/mount.h.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: libc::c_uint = 0x8000;

unsafe fn set_read_only(path: &CString, on: bool, recursive: bool) -> libc::c_int {
    let attr = MountAttr {
        attr_set: if on { MOUNT_ATTR_RDONLY } else { 0 },
        attr_clr: if on { 0 } else { MOUNT_ATTR_RDONLY },
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    libc::syscall(
        libc::SYS_mount_setattr,
        libc::AT_FDCWD,
        path.as_ptr(),
        flags,
        &attr as *const MountAttr,
        std::mem::size_of::<MountAttr>(),
    ) as libc::c_int
}

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            Op::Mount {
                source,
                target,
                fstype,
                ..
            } => write!(
                f,
                "mounting {} on {}",
                fstype.as_ref().or(source.as_ref()).map_or("?".into(), s),
                s(target)
            ),
            Op::ReadOnly { path, on, .. } => {
                let how = if *on { "read-only" } else { "writable" };
                write!(f, "making {} {how}", s(path))
            }
            Op::Unmount(t) => write!(f, "unmounting {}", s(t)),
            Op::Mkdir(p) => write!(f, "making directory {}", s(p)),
            Op::Hold { path, .. } => write!(f, "opening {}", s(path)),
            Op::Touch(p) => write!(f, "making file {}", s(p)),
            Op::Symlink { link, .. } => write!(f, "making link {}", s(link)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_is_read_only_before_anything_writable_is_mounted() {
        let plan = MountPlan::new(&[], &[]);
        let first_tmpfs = plan
            .ops
            .iter()
            .position(|o| o.to_string() == "mounting tmpfs on /tmp")
            .unwrap();
        let read_only = plan
            .ops
            .iter()
            .position(|o| o.to_string() == "making / read-only")
            .unwrap();
        assert!(read_only < first_tmpfs);
        // /proc/sys/net is writable again only after /proc/sys went read-only.
        let texts: Vec<String> = plan.ops.iter().map(|o| o.to_string()).collect();
        let sys = texts.iter().position(|t| t == "making /proc/sys read-only");
        let net = texts
            .iter()
            .position(|t| t == "making /proc/sys/net writable");
        assert!(sys.is_some() && net.is_some() && sys < net, "{texts:?}");
    }

    #[test]
    fn a_writable_folder_gets_its_parents_made_first() {
        assert_eq!(
            ancestors(Path::new("/tmp/a/b")).collect::<Vec<_>>(),
            vec!["/tmp", "/tmp/a", "/tmp/a/b"]
        );
    }
}
