//! How pod routes get from one rack to another: not at all (host-gw's static routes reach
//! only on-link peers), or through BGP, with a BIRD 2 daemon on every host and router as
//! Calico runs it.

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Routing {
    /// Static routes from exec lines only.
    #[default]
    Static,
    /// Each host announces its pod subnet to its rack's router over eBGP; the routers carry
    /// the pod routes between them.
    Bgp,
}

impl fmt::Display for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Routing::Static => "static",
            Routing::Bgp => "bgp",
        })
    }
}

impl FromStr for Routing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "static" => Ok(Routing::Static),
            "bgp" => Ok(Routing::Bgp),
            _ => Err(format!("unknown routing `{s}`: expected static or bgp")),
        }
    }
}

impl Serialize for Routing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Private AS numbers: host i is 64512 + i, the router of rack r is 65000 + r (eBGP on every
/// session, so each hop rewrites the next hop to itself).
pub fn host_as(i: usize) -> u32 {
    64512 + u32::try_from(i).expect("host indices are bounded by MAX_HOSTS")
}

pub fn router_as(r: usize) -> u32 {
    65000 + u32::try_from(r).expect("rack numbers are bounded by MAX_HOSTS")
}

/// The label on each node of a `--routing bgp` lab; `cnilab deploy` reads it back to write the
/// daemons' configs again when they are missing.
pub const LABEL_ROUTING: &str = "cnilab.routing";

/// The folder beside the topology file that holds what cnilab generates for lab `lab`, apart
/// from the topology itself. It is not containerlab's lab folder `clab-<lab>/`: `destroy
/// --cleanup` deletes that (core/destroy.go, `destroyLabDirs`), and the next deploy would then
/// stop at a bind whose host path is missing (core/config.go, `resolveBindPaths`). No destroy,
/// by cnilab or containerlab, touches this one.
pub fn files_dir(lab: &str) -> String {
    format!("{lab}.cnilab")
}

/// Where a node's BIRD config and control socket live, relative to the topology file, bound
/// at [`NODE_DIR`] inside the node on both runtimes.
pub fn node_dir(lab: &str, node: &str) -> String {
    format!("{}/bird/{node}", files_dir(lab))
}

/// The folder a node sees its BIRD files in.
pub const NODE_DIR: &str = "/run/bird";
