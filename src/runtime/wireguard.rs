//! WireGuard where the kernel has none: `ip link add DEV type wireguard` becomes
//! `wireguard-go DEV` in the same node, so the same lab deploys on a kernel without the module.
//!
//! wireguard-go makes a TUN device of that name and a control socket in
//! `/var/run/wireguard/DEV.sock` (its ipc/uapi_linux.go), which `wg set` then configures with
//! the same lines as the kernel's device. Its wire format is the kernel's. It forks into the
//! background inside the node and is ended with the node, as BIRD is
//! (the netns runtime's teardown ends every process of a node's namespaces).

use super::shape::{ExecLine, Shape};

/// Which WireGuard a deploy built its devices with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implementation {
    Kernel,
    /// wireguard-go, over TUN, in each node.
    Userspace,
}

impl Implementation {
    pub fn describe(self) -> &'static str {
        match self {
            Implementation::Kernel => "the kernel's WireGuard module",
            Implementation::Userspace => {
                "wireguard-go in each node (this kernel has no WireGuard module)"
            }
        }
    }
}

/// The device a line creates if it is `ip link add DEV type wireguard`.
pub fn creates_device(argv: &[String]) -> Option<&str> {
    match argv {
        [ip, link, add, dev, ty, wg] if ip == "ip" && link == "link" && add == "add" => {
            (ty == "type" && wg == "wireguard").then_some(dev.as_str())
        }
        _ => None,
    }
}

/// Rewrites every such line of `shape` to start wireguard-go instead; returns how many.
pub fn to_userspace(shape: &mut Shape) -> usize {
    let mut changed = 0;
    for line in shape.nodes.iter_mut().flat_map(|n| n.exec.iter_mut()) {
        if let Some(dev) = creates_device(&line.argv).map(str::to_string) {
            *line = ExecLine {
                text: format!("wireguard-go {dev}"),
                argv: vec!["wireguard-go".into(), dev],
            };
            changed += 1;
        }
    }
    changed
}

/// The image cnilab's templates pin has no `wg`: nicolaka/netshoot's Dockerfile installs no
/// wireguard-tools (checked at v0.14, Alpine 3.22).
const IMAGE_WITHOUT_WG: &str = "nicolaka/netshoot";

/// Under containerlab the exec lines run in the node's image: a node that runs `wg` on an
/// image known to lack it would fail there, after every node is up. One problem per node.
pub fn image_problems(topo: &crate::topology::Topology) -> Vec<String> {
    topo.nodes()
        .filter(|(_, node)| {
            node.exec
                .iter()
                .any(|l| l.split_whitespace().next() == Some("wg"))
        })
        .filter_map(|(name, node)| {
            let image = node.other.get("image")?.as_str()?;
            image.starts_with(IMAGE_WITHOUT_WG).then(|| {
                format!(
                    "node `{name}` runs `wg`, and its image {image} has no wireguard-tools: give \
                     it an image with wg and iproute2, or deploy with --runtime netns"
                )
            })
        })
        .collect()
}

/// wireguard-go's control sockets, which it leaves in the nodes' WireGuard folders when
/// teardown ends it with SIGKILL: removed, so that destroy leaves each folder as gen wrote it.
pub fn remove_sockets(shape: &Shape) -> Vec<super::error::TeardownError> {
    let node_dir = std::path::Path::new(crate::plan::encryption::NODE_DIR);
    let folders = shape.nodes.iter().flat_map(|n| &n.binds);
    let folders = folders.filter(|b| b.target == node_dir).map(|b| &b.source);
    let sockets = folders
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "sock"));
    sockets
        .filter_map(|path| match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Some(super::error::TeardownError::RemoveFile { path, source: e })
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_that_runs_wg_on_netshoot_is_a_problem_under_containerlab() {
        let yaml = |image: &str| {
            format!(
                "name: t\ntopology:\n  nodes:\n    h1:\n      kind: linux\n      image: {image}\n      exec:\n        - wg set wg0 listen-port 51820\n    h2:\n      kind: linux\n      image: {image}\n"
            )
        };
        let topo = crate::topology::Topology::parse(&yaml(crate::render::IMAGE)).unwrap();
        let problems = image_problems(&topo);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("node `h1` runs `wg`"));
        let topo = crate::topology::Topology::parse(&yaml("example/wg-tools:1")).unwrap();
        assert!(image_problems(&topo).is_empty());
    }

    fn argv(text: &str) -> Vec<String> {
        shlex::split(text).unwrap()
    }

    #[test]
    fn only_a_wireguard_link_is_a_wireguard_device() {
        assert_eq!(
            creates_device(&argv("ip link add flannel-wg type wireguard")),
            Some("flannel-wg")
        );
        assert_eq!(creates_device(&argv("ip link add cni0 type bridge")), None);
        assert_eq!(
            creates_device(&argv("wg set flannel-wg listen-port 51820")),
            None
        );
    }
}
