//! A process named so that a reused PID is not mistaken for it: its PID and its start time
//! (field 22 of /proc/PID/stat, in clock ticks since boot), which no later process with the
//! same PID can share.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    /// Clock ticks after boot at which the process started.
    pub start: u64,
}

impl ProcessId {
    /// The calling process.
    pub fn this() -> Option<ProcessId> {
        let pid = std::process::id() as i32;
        Some(ProcessId {
            pid,
            start: start_time(pid)?,
        })
    }

    /// Whether this very process still runs (a zombie has ended: it only waits for its parent).
    pub fn alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .ok()
            .and_then(|stat| parse_stat(&stat))
            .is_some_and(|(state, start)| state != 'Z' && state != 'X' && start == self.start)
    }
}

/// When process `pid` started, if it exists.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(_, start)| start)
}

/// The CPU time process `pid` has used so far, user and system, in seconds.
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = parse_cpu_ticks(&stat)?;
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
    Some(ticks as f64 / per_second as f64)
}

/// utime plus stime (fields 14 and 15 of a /proc/PID/stat line), in clock ticks.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    // Field 3 is the first after the name, so field 14 is the twelfth.
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The state letter (field 3) and the start time (field 22) of a /proc/PID/stat line. The
/// command name (field 2) is in parentheses and may hold spaces and parentheses itself, so
/// the fields are counted from its last `)`.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // `fields` now stands at field 4; field 22 is 18 further on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_from_the_last_parenthesis() {
        let stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 90 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000 200 18446744073709551615";
        assert_eq!(parse_stat(stat), Some(('S', 987654)));
        assert_eq!(parse_stat("12 (short) R 1 2"), None);
        assert_eq!(parse_cpu_ticks(stat), Some(3), "utime 1 + stime 2");
        assert_eq!(parse_cpu_ticks("12 (short) R 1 2"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let spent = cpu_seconds(std::process::id() as i32).expect("/proc is mounted");
        assert!(spent >= 0.0 && spent.is_finite());
        assert_eq!(cpu_seconds(-1), None);
    }

    #[test]
    fn this_process_is_alive_and_another_start_is_not() {
        let me = ProcessId::this().expect("/proc is mounted");
        assert!(me.alive());
        let reused = ProcessId {
            start: me.start + 1,
            ..me
        };
        assert!(!reused.alive(), "same PID, another start time");
    }
}
