//! Turning a node's exec lines into as few processes as keeps their meaning (pure), and
//! mapping a failed batch back to the exact line that failed.

use super::shape::ExecLine;
use super::ExecStrategy;

/// Where a line of a batch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The runtime's own link set-up for the node, run before its exec lines.
    Prelude,
    /// The node's exec line with this index (from 0).
    Exec(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Ip,
    Bridge,
}

impl Tool {
    pub fn program(self) -> &'static str {
        match self {
            Tool::Ip => "ip",
            Tool::Bridge => "bridge",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchLine {
    pub origin: Origin,
    /// The line without the program name, as `-batch` reads it.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// One `ip -batch -` or `bridge -batch -` process: the same parser as the single commands.
    Batch { tool: Tool, lines: Vec<BatchLine> },
    /// `sysctl -w k=v ...`, written to /proc/sys by a thread inside the namespace.
    Sysctl {
        index: usize,
        settings: Vec<(String, String)>,
    },
    /// Anything else: one process, no shell.
    Process { index: usize, argv: Vec<String> },
}

/// Plans a node's work: `prelude` (ip lines without the `ip`) first, then the exec lines.
pub fn plan(prelude: &[String], exec: &[ExecLine], strategy: ExecStrategy) -> Vec<Step> {
    let mut planner = Planner::default();
    for text in prelude {
        planner.batch(Tool::Ip, Origin::Prelude, text.clone());
    }
    for (index, line) in exec.iter().enumerate() {
        if strategy == ExecStrategy::PerLine {
            planner.push(Step::Process {
                index,
                argv: line.argv.clone(),
            });
        } else if let Some(tool) = batchable(&line.argv) {
            planner.batch(tool, Origin::Exec(index), line.argv[1..].join(" "));
        } else if let Some(settings) = sysctl_settings(&line.argv) {
            planner.push(Step::Sysctl { index, settings });
        } else {
            planner.push(Step::Process {
                index,
                argv: line.argv.clone(),
            });
        }
    }
    planner.steps
}

/// The steps so far, and whether every line of the last one changes places freely with the
/// other tool's lines (see [`commutes`]).
#[derive(Default)]
struct Planner {
    steps: Vec<Step>,
    last_commutes: bool,
}

impl Planner {
    fn push(&mut self, step: Step) {
        self.steps.push(step);
        self.last_commutes = false;
    }

    /// A line joins the last batch if it is of its tool; else the batch before it, of its
    /// tool, if the line and the whole last batch commute (flannel's per-peer `ip route`,
    /// `ip neigh`, `bridge fdb` then make two processes, not three per peer); else its own.
    fn batch(&mut self, tool: Tool, origin: Origin, text: String) {
        let commutes = commutes(tool, &text);
        let line = BatchLine { origin, text };
        let n = self.steps.len();
        if let Some(Step::Batch { tool: t, lines }) = self.steps.last_mut() {
            if *t == tool {
                lines.push(line);
                self.last_commutes &= commutes;
                return;
            }
        }
        if commutes && self.last_commutes && n >= 2 {
            if let Step::Batch { tool: t, lines } = &mut self.steps[n - 2] {
                if *t == tool {
                    lines.push(line);
                    return;
                }
            }
        }
        self.steps.push(Step::Batch {
            tool,
            lines: vec![line],
        });
        self.last_commutes = commutes;
    }
}

/// Whether a batch line may run before or after the other tool's commuting lines with the same
/// outcome: `ip route` and `ip neigh` write the routing and neighbour tables, `bridge fdb` a
/// device's forwarding database, and none of them reads what another writes. Names are
/// matched whole, as iproute2's abbreviations would widen what a word means.
fn commutes(tool: Tool, text: &str) -> bool {
    let object = text.split(' ').next().unwrap_or_default();
    match tool {
        Tool::Ip => matches!(object, "route" | "neigh" | "neighbor" | "neighbour"),
        Tool::Bridge => object == "fdb",
    }
}

/// The lines of `next` that come before exec line `failed` (from 0) in the file: the plan
/// moved them after the batch in which `failed` failed, so they have not run. Run before the
/// failure is reported, they keep it the first failure in file order.
pub fn moved_before(next: Option<&Step>, failed: usize) -> Option<Step> {
    let Some(Step::Batch { tool, lines }) = next else {
        return None;
    };
    let earlier: Vec<BatchLine> = lines
        .iter()
        .take_while(|l| matches!(l.origin, Origin::Exec(i) if i < failed))
        .cloned()
        .collect();
    (!earlier.is_empty()).then_some(Step::Batch {
        tool: *tool,
        lines: earlier,
    })
}

/// A line may join a batch only if the batch parser reads it exactly as the shell-less
/// split did: plain words, no quoting or comments, and no global options (which `-batch`
/// lines cannot carry) or subcommands that fork or block.
fn batchable(argv: &[String]) -> Option<Tool> {
    let tool = match argv.first()?.as_str() {
        "ip" => Tool::Ip,
        "bridge" => Tool::Bridge,
        _ => return None,
    };
    let object = argv.get(1)?;
    if object.starts_with('-') || object.starts_with("mon") {
        return None;
    }
    if tool == Tool::Ip
        && (object.len() >= 4 && "netns".starts_with(object.as_str()) || object == "vrf")
    {
        return None;
    }
    argv.iter().all(|w| plain_word(w)).then_some(tool)
}

fn plain_word(w: &str) -> bool {
    !w.is_empty()
        && !w
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '#'))
}

/// `sysctl [-w] [-q] key=value...` with keys in dotted form; anything fancier runs as a process.
fn sysctl_settings(argv: &[String]) -> Option<Vec<(String, String)>> {
    if argv.first()? != "sysctl" {
        return None;
    }
    let mut settings = Vec::new();
    for arg in &argv[1..] {
        match arg.as_str() {
            "-w" | "-q" if settings.is_empty() => {}
            _ => {
                let (k, v) = arg.split_once('=')?;
                let k = k.trim();
                if k.is_empty() || k.contains('/') || k.contains("..") || !plain_word(k) {
                    return None;
                }
                settings.push((k.to_string(), v.trim().to_string()));
            }
        }
    }
    (!settings.is_empty()).then_some(settings)
}

/// /proc/sys path of a dotted sysctl key, as procps' sysctl maps it.
pub fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// From a failed batch's stderr: which input line (from 1) failed, and the error text without
/// the "Command failed" trailer.
pub fn batch_failure(stderr: &str) -> (Option<usize>, String) {
    let mut line = None;
    let mut rest = Vec::new();
    for l in stderr.lines() {
        match l.strip_prefix("Command failed -:") {
            Some(n) => line = n.trim().parse().ok(),
            None if !l.trim().is_empty() => rest.push(l.trim()),
            None => {}
        }
    }
    (line, rest.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(texts: &[&str]) -> Vec<ExecLine> {
        texts
            .iter()
            .map(|t| ExecLine {
                text: t.to_string(),
                argv: shlex::split(t).unwrap(),
            })
            .collect()
    }

    #[test]
    fn groups_consecutive_ip_and_bridge_lines() {
        let exec = lines(&[
            "sysctl -w net.ipv4.ip_forward=1",
            "ip addr add 10.0.0.1/24 dev eth1",
            "ip link set eth1 up",
            "bridge fdb append to 00:00:00:00:00:00 dst 10.0.0.2 dev vx",
            "bridge fdb append to 00:00:00:00:00:00 dst 10.0.0.3 dev vx",
            "iptables -t nat -A POSTROUTING -j MASQUERADE",
            "ip route add 10.1.0.0/24 via 10.0.0.2",
        ]);
        let steps = plan(&["link set lo up".into()], &exec, ExecStrategy::Batched);
        assert_eq!(steps.len(), 6);
        assert!(
            matches!(&steps[0], Step::Batch { tool: Tool::Ip, lines } if lines.len() == 1 && lines[0].origin == Origin::Prelude)
        );
        assert_eq!(
            steps[1],
            Step::Sysctl {
                index: 0,
                settings: vec![("net.ipv4.ip_forward".into(), "1".into())]
            }
        );
        match &steps[2] {
            Step::Batch {
                tool: Tool::Ip,
                lines,
            } => {
                assert_eq!(lines[0].text, "addr add 10.0.0.1/24 dev eth1");
                assert_eq!(lines[1].origin, Origin::Exec(2));
            }
            s => panic!("{s:?}"),
        }
        assert!(matches!(&steps[3], Step::Batch { tool: Tool::Bridge, lines } if lines.len() == 2));
        assert!(matches!(&steps[4], Step::Process { index: 5, .. }));
        assert!(
            matches!(&steps[5], Step::Batch { tool: Tool::Ip, lines } if lines[0].origin == Origin::Exec(6))
        );
    }

    #[test]
    fn prelude_merges_with_leading_ip_lines() {
        let steps = plan(
            &["link set lo up".into()],
            &lines(&["ip link set eth1 up"]),
            ExecStrategy::Batched,
        );
        assert!(matches!(&steps[..], [Step::Batch { lines, .. }] if lines.len() == 2));
    }

    #[test]
    fn lines_the_batch_parser_would_read_differently_run_alone() {
        let exec = lines(&[
            "ip -4 route show",
            "ip netns exec x true",
            "ip link set dev \"a b\" up",
            "ip link set dev a#b up",
            "ip monitor",
            "sysctl -p",
            "sysctl -w net/ipv4/ip_forward=1",
        ]);
        let steps = plan(&[], &exec, ExecStrategy::Batched);
        assert_eq!(steps.len(), exec.len());
        assert!(steps.iter().all(|s| matches!(s, Step::Process { .. })));
    }

    #[test]
    fn per_line_runs_every_line_alone() {
        let exec = lines(&[
            "ip link set lo up",
            "ip link set eth1 up",
            "sysctl -w a.b=1",
        ]);
        let steps = plan(&["link set lo up".into()], &exec, ExecStrategy::PerLine);
        assert_eq!(steps.len(), 4);
        assert!(steps[1..].iter().all(|s| matches!(s, Step::Process { .. })));
    }

    /// flannel's per-peer lines: route and neighbour entries, then the peer's FDB entry.
    fn per_peer(peers: usize) -> Vec<ExecLine> {
        let mut texts = vec!["ip link set dev flannel.1 up".to_string()];
        for p in 1..=peers {
            texts.push(format!(
                "ip route add 10.{p}.0.0/24 via 10.{p}.0.0 dev flannel.1 onlink"
            ));
            texts.push(format!(
                "ip neigh add 10.{p}.0.0 lladdr 02:00:00:00:00:0{p} dev flannel.1 nud permanent"
            ));
            texts.push(format!(
                "bridge fdb add 02:00:00:00:00:0{p} dst 192.168.0.{p} dev flannel.1 self permanent"
            ));
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        lines(&refs)
    }

    fn origins(step: &Step) -> Vec<Origin> {
        match step {
            Step::Batch { lines, .. } => lines.iter().map(|l| l.origin).collect(),
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn interleaved_route_neigh_and_fdb_lines_make_one_batch_per_tool() {
        let steps = plan(
            &["link set lo up".into()],
            &per_peer(3),
            ExecStrategy::Batched,
        );
        assert_eq!(steps.len(), 2, "{steps:?}");
        let exec = |v: &[usize]| v.iter().map(|&i| Origin::Exec(i)).collect::<Vec<_>>();
        let mut ip = vec![Origin::Prelude];
        ip.extend(exec(&[0, 1, 2, 4, 5, 7, 8]));
        assert_eq!(origins(&steps[0]), ip);
        assert_eq!(origins(&steps[1]), exec(&[3, 6, 9]));
    }

    #[test]
    fn lines_that_touch_links_or_abbreviate_keep_their_place() {
        let exec = lines(&[
            "ip route add 10.1.0.0/24 dev vx onlink",
            "bridge fdb add 02:00:00:00:00:01 dst 192.168.0.1 dev vx self",
            "ip link set vx down",
            "bridge fdb add 02:00:00:00:00:02 dst 192.168.0.2 dev vx self",
            "ip r add 10.2.0.0/24 dev vx onlink",
            "bridge link set dev vx learning off",
            "ip route add 10.3.0.0/24 dev vx onlink",
        ]);
        let steps = plan(&[], &exec, ExecStrategy::Batched);
        let firsts: Vec<Origin> = steps.iter().map(|s| origins(s)[0]).collect();
        let expect: Vec<Origin> = [0, 1, 2, 3, 4, 5, 6].map(Origin::Exec).to_vec();
        assert_eq!(firsts, expect, "{steps:?}");
    }

    #[test]
    fn lines_moved_after_a_failed_line_are_the_next_batchs_earlier_ones() {
        let steps = plan(&[], &per_peer(3), ExecStrategy::Batched);
        // Line 7 (peer 3's route) fails in the ip batch: peers 1 and 2's FDB lines came first.
        let moved = moved_before(steps.get(1), 7).expect("lines moved past line 7");
        assert_eq!(origins(&moved), [3, 6].map(Origin::Exec).to_vec());
        assert_eq!(moved_before(steps.get(1), 2), None);
        assert_eq!(moved_before(None, 7), None);
    }

    #[test]
    fn maps_a_batch_failure_to_its_line() {
        let (line, text) = batch_failure(
            "Error: either \"dev\" is duplicate, or \"x\" is a garbage.\nCommand failed -:3\n",
        );
        assert_eq!(line, Some(3));
        assert_eq!(
            text,
            "Error: either \"dev\" is duplicate, or \"x\" is a garbage."
        );
        assert_eq!(batch_failure("boom\n"), (None, "boom".into()));
    }

    #[test]
    fn sysctl_keys_map_to_proc() {
        assert_eq!(
            sysctl_path("net.ipv6.conf.all.disable_ipv6"),
            "/proc/sys/net/ipv6/conf/all/disable_ipv6"
        );
    }
}
