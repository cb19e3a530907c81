//! One malloc arena for the whole process.
//!
//! glibc gives threads that allocate at once arenas of their own, up to eight per core, and
//! an arena keeps what was freed in it for its own thread's next allocations. verify runs a
//! thread per pod and capture point, each allocating and freeing a batch's frames, so at 100
//! hosts a third of its peak memory was freed memory parked in arenas (332 MB against 220 MB
//! with `MALLOC_ARENA_MAX=1`, in the same time). Its threads mostly wait in the kernel, so
//! they hardly contend for the one arena's lock. Every command gets it: deploy and bench run
//! many threads too.

/// Caps the process at one arena; to be called before any thread starts, since an arena
/// made before stays. Other C libraries have no such knob; there it does nothing.
pub fn use_one() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX takes any positive value.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
