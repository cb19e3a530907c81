//! A run that notices its lab going away. verify, trace and bench poll
//! [`crate::interrupt::requested`] at every safe point; this watch raises that flag when a
//! destroy of the lab starts, or when one of the lab's namespaces vanishes (a destroy by
//! another tool, `ip netns del`), so that the run ends within seconds, by the path a Ctrl-C
//! takes, and its caller can say why.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the watch looks: a run stops at its next safe point after this. Each look reads
/// one small file and stats each of the lab's namespaces: about 500 at 254 hosts.
const POLL: Duration = Duration::from_millis(200);

/// The lab a run was working on went away during the run.
#[derive(Debug, thiserror::Error)]
#[error("the lab was destroyed while {doing}: lab `{lab}` is gone{}",
    .deploy.as_ref().map_or(String::new(), |d| format!("; deploy it again with `{d}`")))]
pub struct Destroyed {
    pub lab: String,
    /// What the run was doing: "verifying", "tracing", "benching".
    pub doing: &'static str,
    /// The command that brings the lab back, for a lab the user deployed.
    pub deploy: Option<String>,
}

/// Watches one lab until dropped.
pub struct Watch {
    sight: Arc<Sight>,
    stop: Arc<AtomicBool>,
    gone: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What is watched: the lab's name and the namespaces it had when the watch began.
struct Sight {
    lab: String,
    namespaces: Vec<String>,
}

impl Sight {
    fn lab_gone(&self) -> bool {
        super::lock::destroying(&self.lab)
            || self
                .namespaces
                .iter()
                .any(|ns| !crate::sys::netns::exists(ns))
    }
}

impl Watch {
    /// Watches `lab` and those of `namespaces` that exist now: a lab not deployed yet is for
    /// the run to refuse, not for the watch to call destroyed.
    pub fn start(lab: &str, namespaces: Vec<String>) -> Watch {
        let sight = Arc::new(Sight {
            lab: lab.to_string(),
            namespaces: namespaces
                .into_iter()
                .filter(|ns| crate::sys::netns::exists(ns))
                .collect(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let gone = Arc::new(AtomicBool::new(false));
        let thread = {
            let (sight, stop, gone) = (sight.clone(), stop.clone(), gone.clone());
            std::thread::spawn(move || watch(&sight, &stop, &gone))
        };
        Watch {
            sight,
            stop,
            gone,
            thread: Some(thread),
        }
    }

    /// Whether the lab went away while watched.
    pub fn gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    /// Whether the lab is going or gone now, or went while watched: for a run that failed
    /// before the watch's next look, perhaps because the lab went under it.
    pub fn gone_now(&self) -> bool {
        self.gone() || self.sight.lab_gone()
    }
}

fn watch(sight: &Sight, stop: &AtomicBool, gone: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        if sight.lab_gone() {
            gone.store(true, Ordering::SeqCst);
            crate::interrupt::lab_gone();
            return;
        }
        std::thread::sleep(POLL);
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
