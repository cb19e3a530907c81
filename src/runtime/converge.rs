//! The wait for BGP before probes (verify, trace, bench): every session Established and every
//! pod route in every host's kernel table; or, after a timeout, the sessions and routes that
//! are missing, by name; or at once, a daemon that is gone.

use crate::lab::{file::LabFile, Lab};
use crate::topology::Topology;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The label on every node running BIRD: its control socket, relative to the topology file.
pub const LABEL_BIRD_SOCKET: &str = "cnilab.bird-socket";

/// How long verify waits for routing to converge before it names what is missing.
pub const TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(500);

/// Why BGP is not ready for probes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotConverged {
    #[error("BGP did not converge within {seconds} s: {}", .missing.join("; "))]
    Timeout {
        seconds: u64,
        /// Each session that is not Established, each pod route a host lacks.
        missing: Vec<String>,
    },
    /// A daemon that is gone never converges, so waiting out the timeout would only delay
    /// the answer.
    #[error("{}; its sessions and routes never come without it, so nothing was probed{}",
            .dead.join("; "), also(.missing))]
    DaemonDown {
        /// `BIRD on host1 is not running (…)`, per daemon.
        dead: Vec<String>,
        missing: Vec<String>,
    },
}

fn also(missing: &[String]) -> String {
    match missing.is_empty() {
        true => String::new(),
        false => format!(" (also missing: {})", missing.join("; ")),
    }
}

/// A daemon's answer goes missing when it hangs; this long without one is no answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// Polls in a row that find a daemon gone before it counts as dead, so one odd answer is not
/// a verdict.
const DEAD_AFTER: u32 = 2;

/// A node's BIRD and where its control socket is.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub node: String,
    pub socket: PathBuf,
}

/// The daemons a lab's file declares; none for a lab without `--routing bgp`.
pub fn daemons(topo: &Topology, file: &Path) -> Vec<Daemon> {
    // Absolute, so that the sockets do not depend on where verify runs from.
    let file = std::path::absolute(file).unwrap_or(file.to_path_buf());
    let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    topo.nodes()
        .filter_map(|(name, node)| {
            let socket = node.labels.get(LABEL_BIRD_SOCKET)?.to_string();
            Some(Daemon {
                node: name.to_string(),
                socket: dir.join(socket),
            })
        })
        .collect()
}

/// Waits for the lab in `file` (see `wait`); a lab whose plan cannot be read has no daemons
/// to wait for here (the command that needs the plan says what is wrong with it).
pub fn wait_for_file(file: &LabFile, timeout: Duration) -> Result<(), NotConverged> {
    let daemons = daemons(&file.topo, &file.path);
    match file.lab() {
        Ok(lab) => wait(lab, &daemons, timeout),
        Err(_) => Ok(()),
    }
}

/// Waits until nothing is missing, or `timeout` passes, or a daemon is found gone. Says once,
/// on stderr, that it waits.
fn wait(lab: &Lab, daemons: &[Daemon], timeout: Duration) -> Result<(), NotConverged> {
    if daemons.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    let mut gone_for = vec![0u32; daemons.len()];
    let mut said = false;
    loop {
        let poll = poll(lab, daemons);
        if poll.missing.is_empty() && poll.dead.is_empty() {
            return Ok(());
        }
        for (count, dead) in gone_for.iter_mut().zip(&poll.gone) {
            *count = if *dead { *count + 1 } else { 0 };
        }
        if gone_for.iter().any(|c| *c >= DEAD_AFTER) {
            return Err(NotConverged::DaemonDown {
                dead: poll.dead,
                missing: poll.missing,
            });
        }
        if start.elapsed() >= timeout || crate::interrupt::requested() {
            let mut missing = poll.dead;
            missing.extend(poll.missing);
            return Err(NotConverged::Timeout {
                seconds: timeout.as_secs(),
                missing,
            });
        }
        if !said {
            eprintln!(
                "cnilab: waiting up to {} s for BGP to converge ({} sessions or routes still missing)",
                timeout.as_secs(),
                poll.missing.len() + poll.dead.len()
            );
            said = true;
        }
        std::thread::sleep(POLL);
    }
}

/// One look at every daemon and every host's kernel table.
struct Poll {
    /// Per daemon, whether it is gone (no process behind its socket, or no answer at all).
    gone: Vec<bool>,
    /// The gone daemons, by name and why.
    dead: Vec<String>,
    /// Sessions not Established and pod routes missing.
    missing: Vec<String>,
}

fn poll(lab: &Lab, daemons: &[Daemon]) -> Poll {
    let mut poll = Poll {
        gone: Vec::new(),
        dead: Vec::new(),
        missing: Vec::new(),
    };
    for d in daemons {
        match ask(d) {
            Answer::Protocols(text) => {
                poll.gone.push(false);
                poll.missing.extend(sessions_down(d, &text));
            }
            Answer::Gone(why) => {
                poll.gone.push(true);
                poll.dead
                    .push(format!("BIRD on {} is not running ({why})", d.node));
            }
            Answer::Refused(why) => {
                poll.gone.push(false);
                poll.missing
                    .push(format!("BIRD on {} does not answer: {why}", d.node));
            }
        }
    }
    poll.missing.extend(routes_missing(lab, daemons));
    poll
}

fn routes_missing(lab: &Lab, daemons: &[Daemon]) -> Vec<String> {
    let mut missing = Vec::new();
    for host in lab
        .hosts
        .iter()
        .filter(|h| daemons.iter().any(|d| d.node == h.node))
    {
        for peer in lab.hosts.iter().filter(|p| p.index != host.index) {
            for net in peer.pod_subnets() {
                if !crate::sys::tables::has_route(&host.namespace, &net).unwrap_or(false) {
                    missing.push(format!(
                        "{} has no route to {net} ({}'s pods)",
                        host.node, peer.node
                    ));
                }
            }
        }
    }
    missing
}

/// What a daemon's control socket gave.
enum Answer {
    /// `show protocols`, answered.
    Protocols(String),
    /// Nothing listens on the socket, or nothing answers on it: the daemon is dead or hung.
    Gone(String),
    /// birdc ran and the daemon refused the command.
    Refused(String),
}

fn ask(d: &Daemon) -> Answer {
    let started = duct::cmd!("birdc", "-s", &d.socket, "show", "protocols")
        .stdin_null()
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .start();
    let handle = match started {
        Ok(h) => h,
        Err(e) => return Answer::Refused(format!("cannot run birdc: {e}")),
    };
    let deadline = Instant::now() + ANSWER_WITHIN;
    loop {
        match handle.try_wait() {
            Ok(Some(out)) => return answer(out),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = handle.kill();
                return Answer::Gone(format!(
                    "its control socket gave no answer within {} s",
                    ANSWER_WITHIN.as_secs()
                ));
            }
            Err(e) => return Answer::Refused(format!("birdc failed: {e}")),
        }
    }
}

fn answer(out: &std::process::Output) -> Answer {
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        return Answer::Protocols(text);
    }
    // birdc's words when connect(2) on the socket fails: refused or no such file.
    match text.contains("Unable to connect to server control socket") {
        true => Answer::Gone(format!("birdc: {text}")),
        false => Answer::Refused(text),
    }
}

/// The node's BGP sessions that are not Established, from its `show protocols`.
fn sessions_down(d: &Daemon, text: &str) -> Vec<String> {
    down_in(text)
        .into_iter()
        .map(|(peer, state)| format!("BGP session {} -> {peer} is {state}", d.node))
        .collect()
}

/// From `birdc show protocols`: each BGP protocol (named after its peer) and its state,
/// where that is not Established.
fn down_in(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.get(1) == Some(&"BGP")).then_some(cols)
        })
        .filter(|cols| cols.get(5) != Some(&"Established"))
        .map(|cols| {
            let state = cols.get(5).or(cols.get(3)).unwrap_or(&"down");
            (cols[0].to_string(), state.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn output(code: i32, text: &str) -> std::process::Output {
        std::process::Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: text.as_bytes().to_vec(),
            stderr: Vec::new(),
        }
    }

    #[test]
    fn a_socket_nobody_listens_on_is_a_gone_daemon() {
        let refused =
            "Unable to connect to server control socket (/x/bird.ctl): Connection refused";
        assert!(
            matches!(answer(&output(1, refused)), Answer::Gone(why) if why.contains("Connection refused"))
        );
        let missing =
            "Unable to connect to server control socket (/x/bird.ctl): No such file or directory";
        assert!(matches!(answer(&output(1, missing)), Answer::Gone(_)));
        assert!(matches!(
            answer(&output(1, "Access denied")),
            Answer::Refused(_)
        ));
        assert!(matches!(
            answer(&output(0, "BIRD 2.0.12 ready.")),
            Answer::Protocols(_)
        ));
    }

    #[test]
    fn a_gone_daemon_is_named_with_what_else_is_missing() {
        let e = NotConverged::DaemonDown {
            dead: vec!["BIRD on host1 is not running (birdc: refused)".into()],
            missing: vec!["host2 has no route to 10.0.1.0/24 (host1's pods)".into()],
        };
        assert_eq!(
            e.to_string(),
            "BIRD on host1 is not running (birdc: refused); its sessions and routes never come \
             without it, so nothing was probed (also missing: host2 has no route to 10.0.1.0/24 \
             (host1's pods))"
        );
    }

    #[test]
    fn sessions_that_are_not_established_are_named() {
        let text = "BIRD 2.0.12 ready.\n\
            Name       Proto      Table      State  Since         Info\n\
            device1    Device     ---        up     01:29:11.788\n\
            host1      BGP        ---        up     01:29:15.637  Established\n\
            gw3        BGP        ---        start  01:29:11.788  Active\n\
            gw4        BGP        ---        start  01:29:11.788  Connect       Socket: Connection refused\n";
        assert_eq!(
            down_in(text),
            [
                ("gw3".to_string(), "Active".to_string()),
                ("gw4".to_string(), "Connect".to_string())
            ]
        );
    }
}
