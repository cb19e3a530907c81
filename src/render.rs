//! Turns a [`Plan`] into a containerlab topology through the Jinja templates in `templates/`.
//!
//! The templates are compiled into the binary so an installed cnilab works from any folder;
//! `--templates DIR` swaps in a user's edited copy.

use crate::plan::{Flavor, Mode, Plan};
use minijinja::{context, Environment};
use std::path::{Path, PathBuf};

/// The container image every linux node runs under containerlab, as in the article.
/// Pinned, so a lab means the same tools on every run; .github/workflows/ci.yml pulls the same.
pub const IMAGE: &str = "nicolaka/netshoot:v0.14";

/// The image of a `--routing bgp` lab, whose nodes run BIRD 2 (the configs are BIRD 2's, as
/// Calico's are). netshoot installs Alpine's `bird` package, and from v0.14 on its base is
/// Alpine 3.22 or newer (plus edge), where `bird` is BIRD 3 (3.1.4 in v3.22 community) and
/// BIRD 2 became a separate `bird2` that netshoot does not install. v0.13 is Alpine 3.19.1
/// plus edge as of May 2024 (nicolaka/netshoot's Dockerfile at that tag), before Alpine's
/// `bird` left 2.x: its bird is BIRD 2. Not run under containerlab here (no Docker).
pub const BGP_IMAGE: &str = "nicolaka/netshoot:v0.13";

/// The template files, by the name they are loaded under.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("_macros.j2", include_str!("../templates/_macros.j2")),
    (
        "host-gw.yaml.j2",
        include_str!("../templates/host-gw.yaml.j2"),
    ),
    ("vxlan.yaml.j2", include_str!("../templates/vxlan.yaml.j2")),
    ("ipip.yaml.j2", include_str!("../templates/ipip.yaml.j2")),
    (
        "host-gw-flannel.yaml.j2",
        include_str!("../templates/host-gw-flannel.yaml.j2"),
    ),
    (
        "vxlan-flannel.yaml.j2",
        include_str!("../templates/vxlan-flannel.yaml.j2"),
    ),
    (
        "vxlan-calico.yaml.j2",
        include_str!("../templates/vxlan-calico.yaml.j2"),
    ),
    (
        "vxlan-cilium.yaml.j2",
        include_str!("../templates/vxlan-cilium.yaml.j2"),
    ),
    (
        "ipip-calico.yaml.j2",
        include_str!("../templates/ipip-calico.yaml.j2"),
    ),
    (
        "bird-host.conf.j2",
        include_str!("../templates/bird-host.conf.j2"),
    ),
    (
        "bird-router.conf.j2",
        include_str!("../templates/bird-router.conf.j2"),
    ),
    (
        "kube-proxy-iptables.rules.j2",
        include_str!("../templates/kube-proxy-iptables.rules.j2"),
    ),
    (
        "kube-proxy.nft.j2",
        include_str!("../templates/kube-proxy.nft.j2"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("templates folder {dir} does not exist or is not a folder")]
    NoTemplatesDir { dir: PathBuf },
    #[error("template `{name}` is not in {dir}")]
    MissingTemplate { name: String, dir: PathBuf },
    #[error("cannot render template `{name}`: {detail}")]
    Template { name: String, detail: String },
}

/// The article's template is named after the mode alone; a flavor's adds the flavor.
pub fn template_name(mode: Mode, flavor: Flavor) -> String {
    match flavor {
        Flavor::Article => format!("{mode}.yaml.j2"),
        _ => format!("{mode}-{flavor}.yaml.j2"),
    }
}

/// Where templates come from.
pub enum Templates<'a> {
    Embedded,
    Dir(&'a Path),
}

pub fn render(plan: &Plan, templates: Templates<'_>) -> Result<String, RenderError> {
    let name = template_name(plan.mode, plan.flavor);
    let env = environment(&name, templates)?;
    let template = env
        .get_template(&name)
        .map_err(|e| template_error(&name, &e))?;
    let image = match plan.routing {
        crate::routing::Routing::Bgp => BGP_IMAGE,
        crate::routing::Routing::Static => IMAGE,
    };
    let text = template
        .render(context! { plan, image, version => env!("CARGO_PKG_VERSION") })
        .map_err(|e| template_error(&name, &e))?;
    Ok(tidy(&text))
}

/// The routing daemons' configs a lab needs beside its topology (`--routing bgp`): each
/// host's and router's `bird.conf`, at its path relative to the topology file.
pub fn render_daemons(
    plan: &Plan,
    templates: Templates<'_>,
) -> Result<Vec<(PathBuf, String)>, RenderError> {
    let hosts = plan
        .hosts
        .iter()
        .filter_map(|h| Some((h.bird_dir.as_ref()?, None)));
    let routers = (plan.racks.iter()).filter_map(|r| Some((r.bird_dir.as_ref()?, Some(r))));
    let mut daemons = hosts.chain(routers).peekable();
    if daemons.peek().is_none() {
        return Ok(Vec::new());
    }
    let env = environment("bird-host.conf.j2", templates)?;
    let version = env!("CARGO_PKG_VERSION");
    // Converted once: each node's render would otherwise convert the whole plan again.
    let whole = minijinja::Value::from_serialize(plan);
    daemons
        .map(|(dir, rack)| {
            let name = match rack {
                Some(_) => "bird-router.conf.j2",
                None => "bird-host.conf.j2",
            };
            let node = rack.map_or(dir.rsplit('/').next().unwrap_or(dir), |r| &r.router);
            let host = plan.hosts.iter().find(|h| h.name == node);
            let text = env
                .get_template(name)
                .and_then(|t| t.render(context! { plan => whole, host, rack, version }))
                .map_err(|e| template_error(name, &e))?;
            Ok((Path::new(dir).join("bird.conf"), text))
        })
        .collect()
}

/// kube-proxy's rules for each host of a lab with Services (`gen --services S`), at their
/// paths relative to the topology file: `iptables-restore` input or an `nft -f` file.
pub fn render_kube_proxy(
    plan: &Plan,
    templates: Templates<'_>,
) -> Result<Vec<(PathBuf, String)>, RenderError> {
    let Some(s) = &plan.services else {
        return Ok(Vec::new());
    };
    let name = match s.kube_proxy {
        crate::services::KubeProxy::Iptables => "kube-proxy-iptables.rules.j2",
        crate::services::KubeProxy::Nftables => "kube-proxy.nft.j2",
    };
    let env = environment(name, templates)?;
    let template = env
        .get_template(name)
        .map_err(|e| template_error(name, &e))?;
    let version = env!("CARGO_PKG_VERSION");
    let mut files = Vec::new();
    // One file per family and host: kube-proxy runs a proxier per family, each with its table.
    for f in &s.families {
        let rules = minijinja::Value::from_serialize(f);
        for host in &plan.hosts {
            let text = template
                .render(context! { s => rules, host, version })
                .map_err(|e| template_error(name, &e))?;
            files.push((Path::new(&s.dir).join(&host.name).join(f.file), text));
        }
    }
    Ok(files)
}

/// The templates, loaded as the YAML templates want them; `name` must be among them.
fn environment(name: &str, templates: Templates<'_>) -> Result<Environment<'static>, RenderError> {
    let mut env = Environment::new();
    // Block tags on lines of their own leave no trace, so the templates can read like YAML.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    match templates {
        Templates::Embedded => {
            for (file, source) in EMBEDDED {
                env.add_template(file, source)
                    .map_err(|e| template_error(file, &e))?;
            }
        }
        Templates::Dir(dir) => {
            if !dir.is_dir() {
                return Err(RenderError::NoTemplatesDir {
                    dir: dir.to_path_buf(),
                });
            }
            if !dir.join(name).is_file() {
                return Err(RenderError::MissingTemplate {
                    name: name.to_string(),
                    dir: dir.to_path_buf(),
                });
            }
            env.set_loader(minijinja::path_loader(dir));
        }
    }
    Ok(env)
}

fn template_error(name: &str, e: &minijinja::Error) -> RenderError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        detail.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    RenderError::Template {
        name: name.to_string(),
        detail,
    }
}

/// Macro calls leave stray blank lines behind. Drop them all, then separate what a reader
/// scans for: the nodes, the links section and the body after the header.
fn tidy(text: &str) -> String {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<&str> = None;
    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if let Some(p) = prev {
            let back_to_top = indent(line) < indent(p) && indent(line) <= 4;
            if back_to_top || (indent(line) == 0 && p.starts_with('#') && !line.starts_with('#')) {
                out.push('\n');
            }
        }
        out.push_str(line);
        out.push('\n');
        prev = Some(line);
    }
    out
}

/// Writes the built-in templates into `dir` (made if missing), the starting point for
/// `--templates`. Files already there are replaced only with `force`.
pub fn export(dir: &Path, force: bool) -> Result<Vec<PathBuf>, crate::output::OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| crate::output::OutputError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (file, source) in EMBEDDED {
        let path = dir.join(file);
        // Templates carry no cnilab marker: an existing one may hold the user's edits.
        if !force && path.exists() {
            return Err(crate::output::OutputError::NotOurs { path });
        }
        crate::output::write_atomically(&path, source, true)?;
        written.push(path);
    }
    Ok(written)
}
