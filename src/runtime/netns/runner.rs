//! How one node's exec lines are run: bounded in time, stopped by an interrupt, and inside the
//! node's sandbox unless the user chose to run them on the host.

use super::sandbox::Sandbox;
use crate::runtime::process::{self, Bounds, Ran};
use crate::runtime::DeployOptions;

pub struct Runner {
    pub bounds: Bounds,
    sandbox: Option<Sandbox>,
}

impl Runner {
    /// Runs from the calling thread, which is inside the node's network namespace.
    pub fn new(opts: &DeployOptions, sandbox: Option<Sandbox>) -> Runner {
        Runner {
            bounds: Bounds {
                timeout: Some(opts.exec_timeout),
                own_group: true,
            },
            sandbox,
        }
    }

    pub fn run(&self, argv: &[String], stdin: Option<String>) -> Ran {
        let mut cmd = process::command(argv);
        if let Some(sandbox) = &self.sandbox {
            cmd = sandbox.contain(cmd);
        }
        process::run_command(cmd, stdin, self.bounds)
    }

    /// Whether writing these sysctls from cnilab itself would reach past the node: only the
    /// node's own `net.*` keys may be written for a sandboxed node; other keys run as a line
    /// inside the sandbox, which meets a read-only /proc/sys.
    pub fn contains_sysctl(&self, settings: &[(String, String)]) -> bool {
        self.sandbox.is_some() && settings.iter().any(|(k, _)| !k.starts_with("net."))
    }
}
