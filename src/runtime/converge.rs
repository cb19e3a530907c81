//! verify's wait for BGP: every session Established and every pod route in every host's
//! kernel table, or after a timeout the sessions and routes that are missing, by name.

use crate::lab::Lab;
use crate::topology::Topology;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The label on every node running BIRD: its control socket, relative to the topology file.
pub const LABEL_BIRD_SOCKET: &str = "cnilab.bird-socket";

/// How long verify waits for routing to converge before it names what is missing.
pub const TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("BGP did not converge within {seconds} s: {}", .missing.join("; "))]
pub struct NotConverged {
    pub seconds: u64,
    /// Each session that is not Established, each daemon that does not answer, each pod
    /// route a host lacks.
    pub missing: Vec<String>,
}

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

/// Waits until nothing is missing, or `timeout` passes.
pub fn wait(lab: &Lab, daemons: &[Daemon], timeout: Duration) -> Result<(), NotConverged> {
    if daemons.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    loop {
        let missing = missing(lab, daemons);
        if missing.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= timeout || crate::interrupt::requested() {
            return Err(NotConverged {
                seconds: timeout.as_secs(),
                missing,
            });
        }
        std::thread::sleep(POLL);
    }
}

fn missing(lab: &Lab, daemons: &[Daemon]) -> Vec<String> {
    let mut missing: Vec<String> = daemons.iter().flat_map(sessions_down).collect();
    for host in lab
        .hosts
        .iter()
        .filter(|h| daemons.iter().any(|d| d.node == h.node))
    {
        for peer in lab.hosts.iter().filter(|p| p.index != host.index) {
            if !crate::sys::tables::has_route(&host.namespace, &peer.pod_subnet).unwrap_or(false) {
                missing.push(format!(
                    "{} has no route to {} ({}'s pods)",
                    host.node, peer.pod_subnet, peer.node
                ));
            }
        }
    }
    missing
}

/// The node's BGP sessions that are not Established, or that its daemon does not answer.
fn sessions_down(d: &Daemon) -> Vec<String> {
    let out = duct::cmd!("birdc", "-s", &d.socket, "show", "protocols")
        .stdin_null()
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run();
    let text = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            let why = String::from_utf8_lossy(&o.stdout).trim().to_string();
            return vec![format!("BIRD on {} does not answer: {why}", d.node)];
        }
        Err(e) => return vec![format!("cannot run birdc for {}: {e}", d.node)],
    };
    down_in(&text)
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
