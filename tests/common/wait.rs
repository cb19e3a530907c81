//! Waiting on a condition rather than for a time: a loaded machine makes everything slower, and
//! a fixed sleep or a tight limit turns that into a failure. The bounds here are generous
//! because they only end a test that would otherwise hang; the condition is what is tested.

use std::time::{Duration, Instant};

/// The bound for things that take a moment on an idle machine: a process starting or stopping,
/// a namespace appearing, a file being written.
pub const GENEROUS: Duration = Duration::from_secs(60);

/// Polls `cond` until it holds; fails the test naming `what` when `bound` passes first.
pub fn wait_until(bound: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    wait_for(bound, what, || cond().then_some(()))
}

/// Polls `probe` until it returns a value, and returns it; fails the test naming `what` when
/// `bound` passes first.
pub fn wait_for<T>(bound: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            start.elapsed() < bound,
            "waited {bound:?} for {what}, and it never happened"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Waits for `child` to exit, and returns its output; fails the test naming `what` when
/// `bound` passes first, killing the child so that nothing outlives the test. Its output is
/// read meanwhile, so a child that writes a lot never blocks on a full pipe.
pub fn wait_for_exit(
    child: std::process::Child,
    bound: Duration,
    what: &str,
) -> std::process::Output {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(bound) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("waited {bound:?} for {what}, and it never happened");
        }
    }
}
