//! Starting a holder without copying cnilab's memory. At 254 hosts cnilab holds the parsed lab
//! (about 200 MB); a fork per node copied its page tables 763 times, which was most of a
//! deploy's time. The child here shares cnilab's memory, as `posix_spawn`'s does, for the
//! few system calls of the node's mount set-up, then executes cnilab afresh as the holder.

use super::holder::{self, FAILED};
use super::mounts::{self, MountPlan};
use std::ffi::CStr;
use std::os::fd::RawFd;

/// The hidden argument that makes cnilab a node's holder (see [`holder::run`]).
pub const HOLDER_ARG: &CStr = c"__node-holder";

/// The step number a FAILED message gives when executing the holder itself failed.
pub const EXEC_STEP: u32 = u32::MAX;

/// Room for the child's few calls; it runs on this stack, not the calling thread's.
const STACK_SIZE: usize = 256 * 1024;

/// What the child reads; all of it prepared before the clone, because a child sharing the
/// memory of a threaded program may not allocate.
struct Child<'a> {
    plan: &'a MountPlan,
    report: RawFd,
    argv: [*const libc::c_char; 3],
    envp: [*const libc::c_char; 1],
    old_mask: libc::sigset_t,
}

/// Starts the holder in fresh mount and PID namespaces (its PID 1), in the calling thread's
/// network namespace. Returns once the child has executed the holder or ended; failures
/// arrive on `report` (see [`holder`]).
pub fn spawn(plan: &MountPlan, report: RawFd) -> nix::Result<nix::unistd::Pid> {
    let mut stack = vec![0u8; STACK_SIZE];
    // SAFETY: plain signal-mask calls on local sets.
    let mut child = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        // Blocked until the child has put cnilab's handlers aside: they must not run there.
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        Child {
            plan,
            report,
            argv: [
                super::HOLDER_NAME.as_ptr(),
                HOLDER_ARG.as_ptr(),
                std::ptr::null(),
            ],
            envp: [std::ptr::null()],
            old_mask: old,
        }
    };
    let top = stack.as_mut_ptr_range().end as usize & !15;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_NEWNS | libc::CLONE_NEWPID;
    // SAFETY: the child runs `child_main` on its own stack and only makes system calls on
    // `child`, which outlives it: CLONE_VFORK holds this thread until the child has executed
    // the holder or ended.
    let pid = unsafe {
        libc::clone(
            child_main,
            top as *mut libc::c_void,
            flags | libc::SIGCHLD,
            (&mut child as *mut Child).cast(),
        )
    };
    // SAFETY: restores this thread's own mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &child.old_mask, std::ptr::null_mut()) };
    drop(stack);
    nix::errno::Errno::result(pid).map(nix::unistd::Pid::from_raw)
}

extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Child` that `spawn` keeps alive while this runs.
    let child = unsafe { &*(arg as *const Child) };
    super::default_signals();
    // SAFETY: system calls only, on data prepared before the clone.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &child.old_mask, std::ptr::null_mut());
        for (i, op) in child.plan.ops.iter().enumerate() {
            if let Err(errno) = mounts::apply(op) {
                holder::send(child.report, FAILED, &[i as u32, errno as u32]);
                libc::_exit(1);
            }
        }
        // The report pipe survives the exec as descriptor 3, for the holder's READY; every
        // other descriptor (the held paths, other nodes' pipes) closes there.
        let report = keep_as_fd3(child.report);
        libc::syscall(
            libc::SYS_close_range,
            4,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        // /proc is the node's now; its self/exe still reaches cnilab's binary wherever it is.
        libc::execve(
            c"/proc/self/exe".as_ptr(),
            child.argv.as_ptr(),
            child.envp.as_ptr(),
        );
        holder::send(report, FAILED, &[EXEC_STEP, mounts::errno() as u32]);
        libc::_exit(1)
    }
}

/// `fd` as descriptor 3, left open across exec.
unsafe fn keep_as_fd3(fd: RawFd) -> RawFd {
    if fd == holder::REPORT_FD {
        libc::fcntl(fd, libc::F_SETFD, 0);
        return fd;
    }
    match libc::dup2(fd, holder::REPORT_FD) {
        -1 => fd,
        kept => kept,
    }
}
