//! What a lab declares it cannot carry: the hosts whose pods are out of reach from a host's
//! pods, and the node where their packets die. verify checks that such pairs fail exactly so.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Host indices, written as ranges: `3-4`, `1,3-8`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSet(Vec<(usize, usize)>);

impl HostSet {
    pub fn contains(&self, host: usize) -> bool {
        self.0.iter().any(|&(a, b)| (a..=b).contains(&host))
    }
}

impl FromStr for HostSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{t}` is not a host number: expected ranges like 1,3-4"))
        };
        let ranges = s
            .split(',')
            .map(|item| match item.split_once('-') {
                Some((a, b)) => Ok((number(a)?, number(b)?)),
                None => number(item).map(|n| (n, n)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HostSet(ranges))
    }
}

impl fmt::Display for HostSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        f.write_str(&items.join(","))
    }
}

/// What a host's labels say about the pairs from its pods that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectFail {
    /// The hosts whose pods are out of reach.
    pub to: HostSet,
    /// The node where the request dies.
    pub at: String,
    pub why: String,
}
