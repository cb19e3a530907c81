//! verify, trace and bench run one at a time on a lab, and end when the lab is destroyed under
//! them. The lock and the watch are taken here, at the command's edge, so that the probing
//! code below knows nothing of either.

use super::Error;
use crate::lab::file::LabFile;
use crate::runtime::diagnose::{absolute, as_root};
use crate::runtime::lock::{self, Patience, Scope};
use crate::runtime::watch::{Destroyed, Watch};

#[derive(Debug, Clone, Copy)]
pub(super) enum Activity {
    Verify,
    Trace,
    Bench,
}

impl Activity {
    fn command(self) -> &'static str {
        match self {
            Activity::Verify => "verify",
            Activity::Trace => "trace",
            Activity::Bench => "bench",
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Activity::Verify => "verifying",
            Activity::Trace => "tracing",
            Activity::Bench => "benching",
        }
    }
}

/// A run that holds its lab: the lab's run lock and a watch on it, both let go when dropped.
pub(super) struct Exclusive {
    // Declared first, so dropped first: the watch ends before the lock is released.
    watch: Watch,
    _lock: lock::LabLock,
    lab: String,
    file: std::path::PathBuf,
    activity: Activity,
}

impl Exclusive {
    /// Takes `file`'s lab for `activity`: waits for a run that holds it (saying so once on
    /// standard error), or with `no_wait` refuses at once, naming the holder.
    pub(super) fn take(
        file: &LabFile,
        activity: Activity,
        no_wait: bool,
    ) -> Result<Exclusive, Error> {
        let lab = file.topo.name.clone();
        let patience = match no_wait {
            true => Patience::None,
            false => Patience::Forever,
        };
        let waiting = |holder: &lock::Holder| {
            eprintln!("cnilab: waiting for {holder} on lab {lab}");
        };
        let lock = lock::take(&lab, Scope::Run, activity.command(), patience, &waiting)?;
        let namespaces = file.lab().map_or_else(
            |_| Vec::new(),
            |l| l.namespaces().map(String::from).collect(),
        );
        Ok(Exclusive {
            watch: Watch::start(&lab, namespaces),
            _lock: lock,
            lab,
            file: absolute(&file.path),
            activity,
        })
    }

    /// The run's result, unless the lab went away during it: then that, whatever the run
    /// made of it (an interrupt, a socket that failed, a report of pairs that failed).
    pub(super) fn finish<T, E: Into<Error>>(&self, result: Result<T, E>) -> Result<T, Error> {
        let gone = match &result {
            Ok(_) => self.watch.gone(),
            Err(_) => self.watch.gone_now(),
        };
        if gone {
            return Err(Error::Destroyed(Destroyed {
                lab: self.lab.clone(),
                doing: self.activity.doing(),
                deploy: Some(as_root(&format!(
                    "cnilab deploy -t {}",
                    self.file.display()
                ))),
            }));
        }
        result.map_err(Into::into)
    }
}
