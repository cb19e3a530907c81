//! Ctrl-C (and SIGTERM/SIGHUP) become a flag that long work polls, so that it can stop at a safe
//! point and undo what it made instead of dying half-way.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler once; later calls are no-ops.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Failing to install only loses graceful clean-up; the work itself can go on.
        let _ = ctrlc::set_handler(|| {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!("cnilab: interrupted again, still cleaning up");
            } else {
                eprintln!("cnilab: interrupted, cleaning up");
            }
        });
    });
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
