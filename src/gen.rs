//! `cnilab gen`: plan, render, write.

use crate::lab::file::LabFile;
use crate::lab::Lab;
use crate::output::{write_atomically, OutputError};
use crate::plan::encryption::{Encryption, EncryptionError};
use crate::plan::{Flavor, LabSpec, Mode, Plan, PlanError};
use crate::render::{render, RenderError, Templates};
use crate::routing::Routing;
use crate::topology::Topology;
use crate::underlay::Underlay;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

pub struct GenRequest<'a> {
    pub mode: Mode,
    pub flavor: Flavor,
    pub hosts: usize,
    pub pods_per_host: usize,
    pub lab: Option<&'a str>,
    /// `None`: the mode's own underlay.
    pub underlay: Option<Underlay>,
    pub routing: Routing,
    /// flannel's DirectRouting (see [`crate::plan::LabSpec`]).
    pub direct_routing: bool,
    /// Calico's VXLAN CrossSubnet (see [`crate::plan::LabSpec`]).
    pub cross_subnet: bool,
    /// `--encryption`: a WireGuard tunnel between hosts, with keys written beside the topology.
    pub encryption: Encryption,
    /// IPv4, IPv6 or both (see [`crate::family`]).
    pub ip_family: crate::family::IpFamily,
    pub templates: Option<&'a Path>,
    /// `--services S` and its options (none by default).
    pub services: crate::services::ServicesSpec,
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Encryption(#[from] EncryptionError),
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A template (usually an edited copy) produced something that is not a topology.
    #[error("the rendered topology is not valid containerlab YAML ({detail}); nothing was written: check the template")]
    Rendered { detail: String },
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
    #[error("{flag} writes {what} beside the topology: give -o FILE, not -o -")]
    NoFolder {
        flag: &'static str,
        what: &'static str,
    },
    #[error("cannot make the folder for {path}: {source}")]
    Beside {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn generate(req: &GenRequest<'_>) -> Result<String, GenError> {
    generate_all(req).map(|g| g.text)
}

/// A lab's topology and the files it needs beside it.
pub struct Generated {
    pub text: String,
    /// The routing daemons' configs, at their paths relative to the topology file.
    pub files: Vec<(PathBuf, String)>,
    /// The hosts' private keys (`--encryption`), likewise; written for their owner's eyes only.
    pub secrets: Vec<(PathBuf, String)>,
}

pub fn generate_all<'a>(req: &GenRequest<'a>) -> Result<Generated, GenError> {
    let mut plan = Plan::from_spec(&LabSpec {
        mode: req.mode,
        flavor: req.flavor,
        hosts: req.hosts,
        pods_per_host: req.pods_per_host,
        lab: req.lab,
        underlay: req.underlay,
        routing: req.routing,
        direct_routing: req.direct_routing,
        cross_subnet: req.cross_subnet,
        ip_family: req.ip_family,
    })?
    .with_services(&req.services)?;
    plan.encryption = crate::plan::encryption::plan(&plan, req.encryption)?;
    plan.ipsec = crate::plan::encryption::ipsec(&plan, req.encryption)?;
    let encrypted = plan.encryption.is_some() || plan.ipsec.is_some();
    if encrypted && plan.services.is_some() {
        return Err(PlanError::from(crate::services::ServiceError::WithEncryption).into());
    }
    if let Some(wg) = &plan.encryption {
        // The pods' packets must fit in the tunnel (and the mode's header, where it is inside).
        plan.pod_mtu = wg.pod_mtu;
    }
    if plan.ipsec.is_some() {
        plan.pod_mtu = crate::plan::encryption::ipsec::POD_MTU;
    }
    let templates = |dir: Option<&'a Path>| match dir {
        Some(dir) => Templates::Dir(dir),
        None => Templates::Embedded,
    };
    let text = render(&plan, templates(req.templates))?;
    // Parsed back before anyone sees it, so a broken template fails here and not in deploy.
    crate::topology::Topology::parse(&text).map_err(|detail| GenError::Rendered { detail })?;
    let mut files = crate::render::render_daemons(&plan, templates(req.templates))?;
    files.extend(crate::render::render_kube_proxy(
        &plan,
        templates(req.templates),
    )?);
    let mut secrets = plan
        .encryption
        .as_ref()
        .map_or_else(Vec::new, |wg| wg.key_files());
    secrets.extend(plan.ipsec.iter().flat_map(|i| i.files()));
    Ok(Generated {
        text,
        files,
        secrets,
    })
}

/// Writes the files a topology needs beside it (`--routing bgp`'s daemon configs,
/// `--services`' kube-proxy rules, `--encryption`'s keys), relative to the topology file's folder. Standard output has no
/// folder to put them in.
pub fn write_beside(generated: &Generated, dest: &Destination) -> Result<(), GenError> {
    let dir = match dest {
        Destination::File { path, .. } => path.parent().unwrap_or(Path::new(".")),
        Destination::Stdout => match (generated.files.first(), generated.secrets.first()) {
            (Some((rel, _)), _) if rel.components().any(|c| c.as_os_str() == "kube-proxy") => {
                return Err(no_folder("--services", "kube-proxy's rules"))
            }
            (Some(_), _) => return Err(no_folder("--routing bgp", "the daemons' configs")),
            (_, Some(_)) => return Err(no_folder("--encryption", "each host's private key")),
            (None, None) => return Ok(()),
        },
    };
    for (rel, text) in &generated.files {
        write_one(dir, rel, text, false)?;
    }
    for (rel, text) in &generated.secrets {
        write_one(dir, rel, text, true)?;
    }
    Ok(())
}

fn no_folder(flag: &'static str, what: &'static str) -> GenError {
    GenError::NoFolder { flag, what }
}

/// Writes `text` at `rel` under `dir`, making the folders on the way; under sudo they belong,
/// like the file, to the user who ran sudo, who can then generate the lab again. A `secret`
/// file is 0600, in a folder of its own that is 0700.
fn write_one(dir: &Path, rel: &Path, text: &str, secret: bool) -> Result<(), GenError> {
    let path = dir.join(rel);
    let mut folder = dir.to_path_buf();
    for part in rel.parent().into_iter().flat_map(Path::components) {
        folder.push(part);
        if folder.is_dir() {
            continue;
        }
        let made = std::fs::create_dir(&folder).and_then(|()| match crate::output::sudo_owner() {
            Some((uid, gid)) => std::os::unix::fs::chown(&folder, Some(uid), Some(gid)),
            None => Ok(()),
        });
        made.map_err(|source| GenError::Beside {
            path: path.clone(),
            source,
        })?;
    }
    if secret {
        let folder = path.parent().unwrap_or(dir);
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700)).map_err(
            |source| GenError::Beside {
                path: path.clone(),
                source,
            },
        )?;
        return Ok(crate::output::write_atomically_with_mode(
            &path, text, true, 0o600,
        )?);
    }
    Ok(write_atomically(&path, text, true)?)
}

/// Writes again each file cnilab generated for the lab in `file` that is missing now, e.g.
/// after its folder was deleted, and returns their paths. The request that generated the lab
/// is read back from its labels, and the built-in templates render it; only files in folders
/// the topology still binds are written. A file that cnilab did not generate, or whose labels
/// do not describe a lab, is left alone: its deploy then names the missing path.
pub fn restore_missing(file: &LabFile) -> Result<Vec<PathBuf>, GenError> {
    let (topo, dir) = (&file.topo, file.path.parent().unwrap_or(Path::new(".")));
    // Only `--routing bgp` and `--services` labs have generated files; the look at labels is
    // cheap, and spares every other deploy a plan.
    if !runs_bgp(topo) && !states_services(topo) {
        return Ok(Vec::new());
    }
    let Ok(lab) = file.lab() else {
        return Ok(Vec::new());
    };
    let Some(spec) = spec_of(topo, lab) else {
        return Ok(Vec::new());
    };
    let plan = Plan::from_spec(&spec)?.with_services(&services_of(lab))?;
    let bound = bind_sources(topo);
    let mut files = crate::render::render_daemons(&plan, Templates::Embedded)?;
    files.extend(crate::render::render_kube_proxy(
        &plan,
        Templates::Embedded,
    )?);
    let mut restored = Vec::new();
    for (rel, text) in files {
        let path = dir.join(&rel);
        let folder = rel.parent().map(normal);
        if path.exists() || !folder.is_some_and(|f| bound.contains(&f)) {
            continue;
        }
        write_one(dir, &rel, &text, false)?;
        restored.push(path);
    }
    Ok(restored)
}

fn states_services(topo: &Topology) -> bool {
    topo.nodes()
        .any(|(_, node)| node.labels.contains_key(crate::services::LABEL_SERVICES))
}

/// The `--services` request that generates the Services `lab` states: the ClusterIP range
/// starts 11 below svc1's address, the NodePorts at svc1's, and each Service selects as many
/// pods as svc1 does.
fn services_of(lab: &Lab) -> crate::services::ServicesSpec {
    let Some(s) = &lab.services else {
        return Default::default();
    };
    let Some(first) = s.services.first() else {
        return Default::default();
    };
    // An IPv6-only lab states only the IPv6 ClusterIP, six of the IPv4 plan's.
    let v4 = first.cluster_ips.iter().find_map(|ip| match ip {
        std::net::IpAddr::V4(v4) => Some(*v4),
        std::net::IpAddr::V6(v6) => crate::family::four(*v6),
    });
    let base = std::net::Ipv4Addr::from(
        u32::from(v4.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)).saturating_sub(11),
    );
    crate::services::ServicesSpec {
        count: s.services.len(),
        kube_proxy: s.kube_proxy,
        policy: s.policy,
        cidr: ipnet::Ipv4Net::new(base, 24).unwrap_or_default().trunc(),
        node_port: first.node_port,
        endpoints: first.endpoints.len(),
    }
}

/// The labels that state a lab's underlay (on its hosts, where it has racks).
const LABEL_UNDERLAY: &str = "cnilab.underlay";

/// The request that generates a lab like `topo`, read back from its labels.
fn spec_of<'a>(topo: &'a Topology, lab: &Lab) -> Option<LabSpec<'a>> {
    let hosts = lab.hosts.len();
    if hosts == 0 || lab.pods.len() % hosts != 0 {
        return None;
    }
    let label = |node: &str, key: &str| Some(topo.node(node)?.labels.get(key)?.to_string());
    let first = &lab.hosts[0].node;
    let underlay = match label(first, LABEL_UNDERLAY) {
        Some(text) => Some(text.parse::<Underlay>().ok()?),
        None => None,
    };
    let hybrid = lab.hosts.iter().any(|h| h.direct_to.is_some());
    Some(LabSpec {
        mode: lab.mode(),
        flavor: lab.flavor,
        hosts,
        pods_per_host: lab.pods.len() / hosts,
        lab: Some(&topo.name),
        underlay,
        routing: if runs_bgp(topo) {
            Routing::Bgp
        } else {
            Routing::Static
        },
        // A lab's generated files (kube-proxy's rules, BIRD's configs) follow its families.
        ip_family: lab.ip_family,
        direct_routing: hybrid && lab.flavor == Flavor::Flannel,
        cross_subnet: hybrid && lab.flavor == Flavor::Calico,
    })
}

fn runs_bgp(topo: &Topology) -> bool {
    topo.nodes().any(|(_, node)| {
        node.labels
            .get(crate::routing::LABEL_ROUTING)
            .is_some_and(|v| v.to_string() == "bgp")
    })
}

/// The host folders the nodes bind, as written (relative to the topology file), normalised.
fn bind_sources(topo: &Topology) -> Vec<PathBuf> {
    topo.nodes()
        .filter_map(|(_, node)| node.other.get("binds")?.as_sequence())
        .flatten()
        .filter_map(|bind| bind.as_str()?.split(':').next())
        .map(|source| normal(Path::new(source)))
        .collect()
}

/// `a/./b/` as `a/b`: binds and generated paths compare by their parts.
fn normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// Where the topology goes: a file, or standard output for `-o -`.
pub enum Destination {
    Stdout,
    File { path: PathBuf, force: bool },
}

pub fn write(text: &str, dest: &Destination) -> Result<(), GenError> {
    match dest {
        Destination::Stdout => match std::io::stdout().lock().write_all(text.as_bytes()) {
            // `cnilab gen -o - | head` is a reader that had enough, not a failure.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(GenError::Stdout(e)),
            _ => Ok(()),
        },
        Destination::File { path, force } => Ok(write_atomically(path, text, *force)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::IpFamily;

    fn request(routing: Routing) -> GenRequest<'static> {
        GenRequest {
            mode: Mode::HostGw,
            flavor: Flavor::Flannel,
            hosts: 4,
            pods_per_host: 2,
            lab: Some("regen"),
            underlay: Some(Underlay::Racks(2)),
            routing,
            direct_routing: false,
            cross_subnet: false,
            encryption: Encryption::None,
            ip_family: Default::default(),
            templates: None,
            services: Default::default(),
        }
    }

    /// A BGP lab written as gen writes it, in a folder of its own.
    fn written(routing: Routing) -> (tempfile::TempDir, PathBuf, Generated) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lab.yaml");
        let generated = generate_all(&request(routing)).unwrap();
        let dest = Destination::File {
            path: file.clone(),
            force: false,
        };
        write_beside(&generated, &dest).unwrap();
        write(&generated.text, &dest).unwrap();
        (dir, file, generated)
    }

    #[test]
    fn generated_files_live_outside_containerlabs_lab_folder() {
        let (_, _, generated) = written(Routing::Bgp);
        assert_eq!(generated.files.len(), 6, "4 hosts and 2 routers");
        for (rel, _) in &generated.files {
            assert!(rel.starts_with("regen.cnilab/bird"), "{}", rel.display());
        }
        assert!(generated
            .text
            .contains("- regen.cnilab/bird/host1:/run/bird"));
        assert!(!generated.text.contains("clab-regen/"));
    }

    #[test]
    fn missing_daemon_configs_are_written_again_as_gen_wrote_them() {
        let (dir, file, generated) = written(Routing::Bgp);
        let lab = LabFile::load(&file).unwrap();
        assert_eq!(restore_missing(&lab).unwrap(), Vec::<PathBuf>::new());
        std::fs::remove_dir_all(dir.path().join("regen.cnilab")).unwrap();
        let mut restored = restore_missing(&lab).unwrap();
        restored.sort();
        let mut expected: Vec<PathBuf> = generated
            .files
            .iter()
            .map(|(rel, _)| dir.path().join(rel))
            .collect();
        expected.sort();
        assert_eq!(restored, expected);
        for (rel, text) in &generated.files {
            assert_eq!(
                &std::fs::read_to_string(dir.path().join(rel)).unwrap(),
                text
            );
        }
    }

    #[test]
    fn only_files_in_folders_the_topology_still_binds_are_written() {
        let (dir, file, _) = written(Routing::Bgp);
        std::fs::remove_dir_all(dir.path().join("regen.cnilab")).unwrap();
        let edited = std::fs::read_to_string(&file)
            .unwrap()
            .replace("        - regen.cnilab/bird/host1:/run/bird\n", "");
        std::fs::write(&file, edited).unwrap();
        let restored = restore_missing(&LabFile::load(&file).unwrap()).unwrap();
        assert_eq!(restored.len(), 5, "{restored:?}");
        assert!(!dir.path().join("regen.cnilab/bird/host1").exists());
    }

    #[test]
    fn missing_kube_proxy_rules_are_written_again_as_gen_wrote_them() {
        for family in [IpFamily::Ipv4, IpFamily::Ipv6, IpFamily::Dual] {
            rules_written_again(family);
        }
    }

    /// An IPv6 lab states only IPv6 ClusterIPs: the range is read back through `four`.
    fn rules_written_again(ip_family: IpFamily) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lab.yaml");
        let req = GenRequest {
            mode: Mode::Vxlan,
            ip_family,
            underlay: None,
            services: crate::services::ServicesSpec {
                count: 2,
                kube_proxy: crate::services::KubeProxy::Nftables,
                policy: crate::services::TrafficPolicy::Local,
                node_port: 31000,
                ..Default::default()
            },
            ..request(Routing::Static)
        };
        let generated = generate_all(&req).unwrap();
        let dest = Destination::File {
            path: file.clone(),
            force: false,
        };
        write_beside(&generated, &dest).unwrap();
        write(&generated.text, &dest).unwrap();
        std::fs::remove_dir_all(dir.path().join("regen.cnilab")).unwrap();
        let restored = restore_missing(&LabFile::load(&file).unwrap()).unwrap();
        let per_host = ip_family.families().len();
        assert_eq!(restored.len(), 4 * per_host, "{ip_family}: {restored:?}");
        for (rel, text) in &generated.files {
            assert_eq!(
                &std::fs::read_to_string(dir.path().join(rel)).unwrap(),
                text
            );
        }
    }

    #[test]
    fn a_lab_without_generated_files_gets_none() {
        let (dir, file, generated) = written(Routing::Static);
        assert!(generated.files.is_empty());
        assert!(restore_missing(&LabFile::load(&file).unwrap())
            .unwrap()
            .is_empty());
        assert!(!dir.path().join("regen.cnilab").exists());
    }
}
