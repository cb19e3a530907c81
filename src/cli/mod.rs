//! The command line: its arguments ([`args`]), the commands they run (`dispatch`), and the
//! one place errors are printed.

pub mod args;
mod dispatch;
mod exclusive;

use crate::gen;
use crate::lifecycle;
use crate::runtime;
use crate::verify;
use args::Cli;
use clap::Parser;
use std::io::IsTerminal;

/// Everything that can stop a command, each with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Gen(#[from] gen::GenError),
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    #[error(transparent)]
    Verify(#[from] verify::VerifyError),
    #[error(transparent)]
    Lifecycle(#[from] lifecycle::LifecycleError),
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error(transparent)]
    Bench(#[from] crate::bench::BenchError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
    #[error(transparent)]
    NeighLimits(#[from] crate::neigh_limits::LimitsError),
    #[error(transparent)]
    Topology(#[from] crate::topology::TopologyError),
    /// A BGP lab whose routing is not ready for the command's probes.
    #[error(transparent)]
    NotConverged(#[from] crate::runtime::converge::NotConverged),
    #[error(transparent)]
    Lock(#[from] runtime::lock::LockError),
    #[error(transparent)]
    Destroyed(#[from] runtime::watch::Destroyed),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Gen(_) | Error::Usage(_) => 2,
            Error::Runtime(e) => e.exit_code(),
            Error::Verify(e) => e.exit_code(),
            Error::Lifecycle(e) => e.exit_code(),
            Error::Output(_) => 2,
            Error::Graph(_) => 2,
            Error::Trace(e) => e.exit_code(),
            Error::NeighLimits(_) | Error::Topology(_) => 2,
            Error::Bench(e) => e.exit_code(),
            // The lab's routing failed: a lab that fails, not a bad invocation.
            Error::NotConverged(_) => 1,
            Error::Lock(e) => e.exit_code(),
            Error::Destroyed(_) => 2,
        }
    }
}

/// Parses the arguments, runs the command, prints any error, and returns the exit code.
pub fn run() -> i32 {
    // Not a subcommand, so not in --help: a netns node's holder, started by deploy itself,
    // before anything else cnilab would set up.
    let first = std::env::args_os().nth(1);
    if first.is_some_and(|a| a.as_encoded_bytes() == runtime::NODE_HOLDER_ARG.to_bytes()) {
        return runtime::run_node_holder();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    // Before any thread: an arena made by an earlier thread would stay.
    crate::sys::malloc_arenas::use_one();
    crate::interrupt::install();
    match dispatch::dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cnilab: {e}");
            e.exit_code()
        }
    }
}

/// Help and version go to stdout with code 0; a bad argument becomes one line on stderr,
/// naming the flag and what it accepts, and keeping clap's tip, with code 2.
fn clap_exit(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            2
        }
        _ => {
            eprintln!("cnilab: {}", one_line(&e));
            2
        }
    }
}

/// A clap error in one line: its first paragraph (some messages list their subject on
/// indented lines below it), the values it accepts, then its tips ("a similar argument
/// exists: '--flavors'").
fn one_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let rendered = e.render().to_string();
    let lines: Vec<&str> = rendered.lines().map(str::trim).collect();
    let message: Vec<&str> = lines
        .iter()
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with("[possible values"))
        .copied()
        .collect();
    let message = message.join(" ");
    let mut line = message
        .strip_prefix("error: ")
        .unwrap_or(&message)
        .to_string();
    if let Some(ContextValue::Strings(values)) = e.get(ContextKind::ValidValue) {
        if !values.is_empty() {
            line += &format!(": expected one of {}", values.join(", "));
        }
    }
    for tip in lines.iter().filter(|l| l.starts_with("tip:")) {
        line += &format!("; {tip}");
    }
    line
}

fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Writes to standard output; a reader that went away (`cnilab verify | head`) is not an error.
fn emit(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("report types serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
