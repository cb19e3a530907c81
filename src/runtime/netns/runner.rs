//! How one node's exec lines are run: bounded in time, stopped by an interrupt.

use crate::runtime::process::{self, Bounds, Ran};
use crate::runtime::DeployOptions;

pub struct Runner {
    pub bounds: Bounds,
}

impl Runner {
    /// Runs from the calling thread, which is inside the node (its network namespace, and its
    /// sandbox unless lines run on the host).
    pub fn new(opts: &DeployOptions) -> Runner {
        Runner {
            bounds: Bounds {
                timeout: Some(opts.exec_timeout),
                own_group: true,
            },
        }
    }

    pub fn run(&self, argv: &[String], stdin: Option<String>) -> Ran {
        process::run_command(process::command(argv), stdin, self.bounds)
    }
}
