//! The kernel's neighbour-table caps, which every lab shares.
//!
//! Every network namespace keeps its IPv4 neighbours (ARP's) in one kernel table, capped by the
//! root namespace's `net.ipv4.neigh.default.gc_thresh3` (1024 by default), and its IPv6 ones
//! (NDP's) in another, capped by `net.ipv6.neigh.default.gc_thresh3`. A flood-and-learn VXLAN
//! lab resolves every peer's VTEP on every host, about N² entries in each family it carries;
//! past a cap new neighbours fail to resolve and the lab looks broken when it is not. deploy
//! and verify work out what a lab needs and say so, in one line with the sysctl, before they
//! start. `--raise-neigh-limits` raises the caps; the old values are recorded and put back when
//! the last lab is destroyed.

use crate::family::Family;
use std::path::PathBuf;

/// The sysctl folder of `family`'s table.
fn sysctl_dir(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "/proc/sys/net/ipv4/neigh/default",
        Family::Ipv6 => "/proc/sys/net/ipv6/neigh/default",
    }
}

/// The sysctl names' common part, as `sysctl -w` spells it.
fn sysctl_name(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "net.ipv4.neigh.default",
        Family::Ipv6 => "net.ipv6.neigh.default",
    }
}

/// Where the values from before a raise are kept, among the lab records.
fn saved_name(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "neigh-limits",
        Family::Ipv6 => "neigh-limits6",
    }
}

/// The three garbage-collection thresholds: below 1 nothing is collected, above 2 entries
/// older than 5 s are, and 3 is the hard cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub thresh1: usize,
    pub thresh2: usize,
    pub thresh3: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error("cannot read or set {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Neighbour entries a lab of `hosts` hosts may hold at once: every host resolving every
/// peer (a VTEP in VXLAN, a next hop in host-gw and IPIP), plus a few per host for its
/// gateway, its pod and the pod's gateway.
pub fn entries_needed(hosts: usize) -> usize {
    hosts * hosts.saturating_sub(1) + 4 * hosts
}

/// The thresholds that give `need` more entries room beside `in_use` already taken, never
/// lower than `now`: thresh2 past the lab's peak so the collector leaves live entries alone,
/// thresh3 with as much again as headroom.
pub fn raised(now: Limits, in_use: usize, need: usize) -> Limits {
    let peak = in_use + need;
    Limits {
        thresh1: now.thresh1,
        thresh2: now.thresh2.max(peak),
        thresh3: now.thresh3.max(2 * peak),
    }
}

/// The one line that says `family`'s cap is too low and how to lift it; `None` when it is high
/// enough.
pub fn advice(family: Family, now: Limits, in_use: usize, need: usize) -> Option<String> {
    let want = raised(now, in_use, need);
    let name = sysctl_name(family);
    (want != now && in_use + need > now.thresh3).then(|| {
        format!(
            "this lab needs about {need} {family} neighbour entries and {in_use} are in use, but the kernel's cap (shared by all namespaces) is {}: run `sudo sysctl -w {name}.gc_thresh2={} {name}.gc_thresh3={}` or pass --raise-neigh-limits",
            now.thresh3, want.thresh2, want.thresh3
        )
    })
}

/// The entries in use that are not the lab's own, and the advice for them; `None` when the cap
/// is high enough. `own` is asked only when the cap is too low for every entry in use beside
/// what the lab needs: taking the lab's own out can only lower what is in use, and counting
/// them reads every namespace of the lab.
fn others_in_use(
    family: Family,
    now: Limits,
    total: usize,
    need: usize,
    own: impl FnOnce() -> usize,
) -> Option<(usize, String)> {
    advice(family, now, total, need)?;
    let in_use = total.saturating_sub(own());
    Some((in_use, advice(family, now, in_use, need)?))
}

fn path(family: Family, name: &str) -> PathBuf {
    PathBuf::from(sysctl_dir(family)).join(name)
}

fn read_number(p: PathBuf) -> Result<usize, LimitsError> {
    let text = std::fs::read_to_string(&p).map_err(|source| LimitsError::Io {
        path: p.clone(),
        source,
    })?;
    text.trim().parse().map_err(|e| LimitsError::Io {
        path: p,
        source: std::io::Error::other(e),
    })
}

/// `family`'s thresholds as the kernel has them now.
pub fn read(family: Family) -> Result<Limits, LimitsError> {
    Ok(Limits {
        thresh1: read_number(path(family, "gc_thresh1"))?,
        thresh2: read_number(path(family, "gc_thresh2"))?,
        thresh3: read_number(path(family, "gc_thresh3"))?,
    })
}

/// Entries in the kernel's neighbour table of `family` now, all namespaces together (the first
/// column of /proc/net/stat/arp_cache, or ndisc_cache, in hex).
pub fn in_use(family: Family) -> usize {
    let stat = match family {
        Family::Ipv4 => "/proc/net/stat/arp_cache",
        Family::Ipv6 => "/proc/net/stat/ndisc_cache",
    };
    std::fs::read_to_string(stat)
        .ok()
        .and_then(|s| {
            let first = s.lines().nth(1)?.split_whitespace().next()?.to_string();
            usize::from_str_radix(&first, 16).ok()
        })
        .unwrap_or(0)
}

fn write(family: Family, limits: Limits) -> Result<(), LimitsError> {
    // thresh3 first when raising, so thresh2 never exceeds it on the way.
    for (name, value) in [
        ("gc_thresh3", limits.thresh3),
        ("gc_thresh2", limits.thresh2),
        ("gc_thresh1", limits.thresh1),
    ] {
        let p = path(family, name);
        std::fs::write(&p, value.to_string()).map_err(|source| LimitsError::Io {
            path: p.clone(),
            source,
        })?;
    }
    Ok(())
}

fn saved_path(family: Family) -> PathBuf {
    crate::runtime::state::dir().join(saved_name(family))
}

/// Entries of `family` the namespaces hold now, all together: for a lab already deployed, the
/// part of [`in_use`] that is its own, and so already within what it needs. A namespace that
/// cannot be read counts as holding none. Each namespace's dump walks the one table all
/// namespaces share (at 254 hosts, 763 walks of 65,000 entries took 3 s one after another),
/// so a few are read side by side.
pub fn held_by<'a>(family: Family, namespaces: impl Iterator<Item = &'a str>) -> usize {
    let af = match family {
        Family::Ipv4 => libc::AF_INET,
        Family::Ipv6 => libc::AF_INET6,
    };
    let count = |ns: &&str| {
        crate::sys::netns::in_netns(ns, || crate::sys::neigh::list(af as u8))
            .ok()
            .and_then(|listed| listed.ok())
            .map_or(0, |entries| entries.len())
    };
    let namespaces: Vec<&str> = namespaces.collect();
    crate::sys::side_by_side::map_on(&namespaces, READERS, count)
        .into_iter()
        .sum()
}

/// Namespaces whose neighbours are counted side by side: the walks are the kernel's work, so
/// more threads than the machine's CPUs gain little.
const READERS: usize = 4;

/// Checks `family`'s cap for a lab of `hosts` hosts that holds `own()` of the entries in use
/// already (0 before it is deployed). With `raise`, lifts it (keeping the values from before
/// the first raise, to put back later) and says so; without, returns the advice.
pub fn check(
    family: Family,
    hosts: usize,
    own: impl FnOnce() -> usize,
    raise: bool,
) -> Result<Option<String>, LimitsError> {
    let now = read(family)?;
    let need = entries_needed(hosts);
    let Some((in_use, line)) = others_in_use(family, now, in_use(family), need, own) else {
        return Ok(None);
    };
    if !raise {
        return Ok(Some(line));
    }
    let want = raised(now, in_use, need);
    let saved = saved_path(family);
    if !saved.exists() {
        let text = format!("{} {} {}\n", now.thresh1, now.thresh2, now.thresh3);
        let io = |source| LimitsError::Io {
            path: saved.clone(),
            source,
        };
        std::fs::create_dir_all(crate::runtime::state::dir()).map_err(io)?;
        std::fs::write(&saved, text).map_err(io)?;
    }
    write(family, want)?;
    Ok(Some(format!(
        "raised {}.gc_thresh2/3 from {}/{} to {}/{} for this lab; the old values come back when the last lab is destroyed",
        sysctl_name(family), now.thresh2, now.thresh3, want.thresh2, want.thresh3
    )))
}

/// Puts back each family's thresholds from before `--raise-neigh-limits`, once no lab is left:
/// a line for each family put back.
pub fn restore_if_last(labs_left: usize) -> Result<Vec<String>, LimitsError> {
    let mut lines = Vec::new();
    for family in [Family::Ipv4, Family::Ipv6] {
        lines.extend(restore_family(family, labs_left)?);
    }
    Ok(lines)
}

fn restore_family(family: Family, labs_left: usize) -> Result<Option<String>, LimitsError> {
    let saved = saved_path(family);
    if labs_left > 0 || !saved.exists() {
        return Ok(None);
    }
    let io = |source| LimitsError::Io {
        path: saved.clone(),
        source,
    };
    let text = std::fs::read_to_string(&saved).map_err(io)?;
    let numbers: Vec<usize> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let [thresh1, thresh2, thresh3] = numbers[..] else {
        return Err(io(std::io::Error::other("expected three numbers")));
    };
    let old = Limits {
        thresh1,
        thresh2,
        thresh3,
    };
    // thresh1 first when lowering, the reverse of raising.
    for (name, value) in [
        ("gc_thresh1", old.thresh1),
        ("gc_thresh2", old.thresh2),
        ("gc_thresh3", old.thresh3),
    ] {
        let p = path(family, name);
        std::fs::write(&p, value.to_string()).map_err(|source| LimitsError::Io {
            path: p.clone(),
            source,
        })?;
    }
    std::fs::remove_file(&saved).map_err(io)?;
    Ok(Some(format!(
        "put {}.gc_thresh1/2/3 back to {thresh1}/{thresh2}/{thresh3}",
        sysctl_name(family)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Limits = Limits {
        thresh1: 128,
        thresh2: 512,
        thresh3: 1024,
    };

    #[test]
    fn a_lab_needs_about_n_squared_entries() {
        assert_eq!(entries_needed(2), 2 + 8);
        assert_eq!(entries_needed(100), 9_900 + 400);
        assert_eq!(entries_needed(254), 64_262 + 1_016);
    }

    #[test]
    fn a_small_lab_gets_no_advice_and_a_large_one_gets_the_sysctl() {
        assert_eq!(advice(Family::Ipv4, DEFAULT, 10, entries_needed(20)), None);
        let line = advice(Family::Ipv4, DEFAULT, 10, entries_needed(100)).unwrap();
        assert!(
            line.contains("sysctl -w net.ipv4.neigh.default.gc_thresh2=10310 net.ipv4.neigh.default.gc_thresh3=20620"),
            "{line}"
        );
        assert!(line.contains("--raise-neigh-limits"), "{line}");
        assert!(!line.contains('\n'));
        // NDP's table has a cap of its own, named in its own sysctl.
        let six = advice(Family::Ipv6, DEFAULT, 10, entries_needed(100)).unwrap();
        assert!(
            six.contains("10300 IPv6 neighbour entries")
                && six.contains("sysctl -w net.ipv6.neigh.default.gc_thresh2=10310 net.ipv6.neigh.default.gc_thresh3=20620"),
            "{six}"
        );
    }

    /// The lab's own entries are counted only when the cap is too low for all that is in use:
    /// counting them walks the shared table once per namespace.
    #[test]
    fn the_lab_s_own_entries_are_counted_only_when_the_cap_could_be_too_low() {
        let need = entries_needed(10);
        let roomy = others_in_use(Family::Ipv4, DEFAULT, 100, need, || panic!("counted"));
        assert!(roomy.is_none());
        let counted = std::cell::Cell::new(false);
        let own = || {
            counted.set(true);
            50
        };
        let full = DEFAULT.thresh3 + 50;
        let (others, _) = others_in_use(Family::Ipv4, DEFAULT, full, need, own).unwrap();
        assert!(counted.get());
        assert_eq!(others, DEFAULT.thresh3);
        let own_all = || full;
        assert!(others_in_use(Family::Ipv4, DEFAULT, full, need, own_all).is_none());
    }

    /// verify of a deployed lab subtracts what the lab holds from what is in use, so that
    /// its entries are not counted twice (once in use, once as needed).
    #[test]
    fn a_deployed_lab_s_own_entries_are_counted_from_its_namespaces() {
        let peers = ["192.0.2.2", "192.0.2.3", "192.0.2.4"];
        let neighbours: Vec<String> = peers
            .iter()
            .map(|peer| format!("neigh add {peer} lladdr 02:00:00:00:00:02 dev d0"))
            .collect();
        let mut steps = vec![
            "link add d0 type veth peer name d1",
            "link set d0 up",
            "addr add 192.0.2.1/24 dev d0",
        ];
        steps.extend(neighbours.iter().map(String::as_str));
        let scratch = crate::sys::netns::testing::Scratch::new("held", &steps);
        let ns = scratch.name();
        assert_eq!(held_by(Family::Ipv4, [ns].into_iter()), peers.len());
        assert_eq!(
            held_by(
                Family::Ipv4,
                [ns, "cnilab-test-no-such-namespace"].into_iter()
            ),
            peers.len()
        );
    }

    /// NDP's entries are counted from the IPv6 table, apart from ARP's.
    #[test]
    fn a_deployed_lab_s_ipv6_entries_are_counted_apart() {
        let scratch = crate::sys::netns::testing::Scratch::new(
            "held6",
            &[
                "link add d0 type veth peer name d1",
                "link set d0 up",
                "neigh add 2001:db8::2 lladdr 02:00:00:00:00:02 dev d0",
                "neigh add 2001:db8::3 lladdr 02:00:00:00:00:03 dev d0",
                "neigh add 192.0.2.2 lladdr 02:00:00:00:00:04 dev d0",
            ],
        );
        let ns = scratch.name();
        assert_eq!(held_by(Family::Ipv6, [ns].into_iter()), 2);
        assert_eq!(held_by(Family::Ipv4, [ns].into_iter()), 1);
        let six = read(Family::Ipv6).unwrap();
        let text = std::fs::read_to_string("/proc/sys/net/ipv6/neigh/default/gc_thresh3").unwrap();
        assert_eq!(six.thresh3.to_string(), text.trim());
    }

    #[test]
    fn raising_never_lowers_a_threshold() {
        let high = Limits {
            thresh1: 4096,
            thresh2: 100_000,
            thresh3: 200_000,
        };
        assert_eq!(raised(high, 0, entries_needed(254)), high);
        assert_eq!(advice(Family::Ipv4, high, 0, entries_needed(254)), None);
        let r = raised(DEFAULT, 0, 5000);
        assert_eq!((r.thresh1, r.thresh2, r.thresh3), (128, 5000, 10_000));
    }
}
