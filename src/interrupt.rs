//! Ctrl-C (and SIGTERM/SIGHUP) become a flag that long work polls, so that it can stop at a safe
//! point and undo what it made instead of dying half-way. A second signal ends cnilab at once
//! and says what may be left behind. A lab destroyed under a run raises the same flag (see
//! [`crate::runtime::watch`]): the run stops by the same path, and its caller, which knows why,
//! says so.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static REQUESTED: AtomicBool = AtomicBool::new(false);
/// Apart from REQUESTED, so that a Ctrl-C after it still counts as the first signal.
static LAB_GONE: AtomicBool = AtomicBool::new(false);
/// What a second signal would leave behind, as the work in progress describes it.
static AT_RISK: Mutex<Option<String>> = Mutex::new(None);

/// Exit code for a run stopped by a signal, as shells report Ctrl-C.
pub const EXIT_CODE: i32 = 130;

/// Installs the handler once; later calls are no-ops.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Failing to install only loses graceful clean-up; the work itself can go on.
        let _ = ctrlc::set_handler(|| {
            if !REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!("cnilab: interrupted, cleaning up (interrupt again to stop at once)");
                return;
            }
            let at_risk = AT_RISK.lock().ok().and_then(|g| g.clone());
            match at_risk {
                Some(what) => eprintln!("cnilab: interrupted again, stopping now; {what}"),
                None => eprintln!("cnilab: interrupted again, stopping now"),
            }
            std::process::exit(EXIT_CODE);
        });
    });
}

/// Whether the work should stop: a signal came, or the lab it works on was destroyed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst) || LAB_GONE.load(Ordering::SeqCst)
}

/// Stops the work in progress because its lab is going away.
pub fn lab_gone() {
    LAB_GONE.store(true, Ordering::SeqCst);
}

/// While the guard lives, a second signal reports `what` as possibly left behind.
pub struct AtRisk;

impl AtRisk {
    pub fn new(what: String) -> AtRisk {
        if let Ok(mut g) = AT_RISK.lock() {
            *g = Some(what);
        }
        AtRisk
    }
}

impl Drop for AtRisk {
    fn drop(&mut self) {
        if let Ok(mut g) = AT_RISK.lock() {
            *g = None;
        }
    }
}
