//! Every topology cnilab writes must be one containerlab accepts: it validates against
//! containerlab's own JSON schema, and every exec line survives containerlab's shell-less
//! execution.

use cnilab::plan::{Mode, Plan, MAX_HOSTS};
use cnilab::render::{render, Templates};
use serde_json::Value;

const SIZES: [usize; 6] = [2, 3, 4, 8, 64, MAX_HOSTS];

fn schema() -> jsonschema::Validator {
    let text = include_str!("schema/clab.schema.json");
    let schema: Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn rendered(mode: Mode, hosts: usize) -> (String, Value) {
    let text = render(&Plan::new(mode, hosts, None).unwrap(), Templates::Embedded).unwrap();
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("output is YAML");
    let json = serde_json::to_value(yaml).expect("YAML maps onto JSON");
    (text, json)
}

/// A field of tests/schema/SOURCE, which says where the vendored schema comes from.
fn source(field: &str) -> String {
    include_str!("schema/SOURCE")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")))
        .unwrap_or_else(|| panic!("tests/schema/SOURCE has no `{field}:`"))
        .trim()
        .to_string()
}

/// The vendored copy is exactly the schema of the containerlab release the workflow deploys
/// with: its sha256 is the one SOURCE records for that release's file, and where the
/// project's shared folder sits beside the checkout, its copy is the same file too.
#[test]
fn vendored_schema_is_containerlabs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let vendored = dir.join("tests/schema/clab.schema.json");
    let out = std::process::Command::new("sha256sum")
        .arg(&vendored)
        .output()
        .expect("sha256sum (coreutils) runs");
    assert!(out.status.success(), "sha256sum {}", vendored.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let sum = text.split_whitespace().next().unwrap_or_default();
    assert_eq!(
        sum,
        source("sha256"),
        "tests/schema/clab.schema.json is not the file tests/schema/SOURCE names"
    );
    let ci = std::fs::read_to_string(dir.join(".github/workflows/ci.yml")).unwrap();
    let pinned = format!(
        "CONTAINERLAB_VERSION: {}",
        source("tag").trim_start_matches('v')
    );
    assert!(
        ci.contains(&pinned),
        "the schema is containerlab {}'s, the workflow deploys with another release",
        source("tag")
    );
    let shared = dir.join("../shared/containerlab/clab.schema.json");
    if let Ok(original) = std::fs::read_to_string(shared) {
        assert_eq!(original, include_str!("schema/clab.schema.json"));
    }
}

#[test]
fn every_mode_and_size_validates_against_containerlabs_schema() {
    let validator = schema();
    for mode in Mode::ALL {
        for hosts in SIZES {
            let (_, json) = rendered(mode, hosts);
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .take(5)
                .collect();
            assert!(errors.is_empty(), "{mode} x{hosts}: {errors:#?}");
        }
    }
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let validator = schema();
    let (_, mut json) = rendered(Mode::Vxlan, 2);
    json["topology"]["nodes"]["host1"]["network-mode"] = Value::from("bridged please");
    assert!(!validator.is_valid(&json));
    let (_, mut json) = rendered(Mode::Vxlan, 2);
    json["topology"]["nodes"]["bad name!"] = Value::Null;
    assert!(!validator.is_valid(&json));
}

/// The characters a shell would give meaning to; containerlab passes them on literally.
const SHELL_ONLY: [&str; 7] = ["|", ">", "<", "$", "&&", ";", "`"];

fn exec_lines(json: &Value) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for (node, def) in json["topology"]["nodes"].as_object().unwrap() {
        for line in def["exec"].as_array().into_iter().flatten() {
            lines.push((node.clone(), line.as_str().unwrap().to_string()));
        }
    }
    lines
}

#[test]
fn exec_lines_need_no_shell() {
    for mode in Mode::ALL {
        for hosts in SIZES {
            let (_, json) = rendered(mode, hosts);
            let lines = exec_lines(&json);
            assert!(lines.len() > hosts * 5, "{mode}: too few exec lines");
            for (node, line) in lines {
                for bad in SHELL_ONLY {
                    assert!(!line.contains(bad), "{mode} {node}: `{line}` uses `{bad}`");
                }
                let words = shlex::split(&line).unwrap_or_default();
                assert!(!words.is_empty(), "{mode} {node}: `{line}` does not split");
                assert!(
                    words.iter().all(|w| !w.contains(char::is_whitespace)),
                    "{mode} {node}: `{line}` relies on quoting"
                );
            }
        }
    }
}

/// Interface names an exec line or link creates or refers to.
fn interface_names(json: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for link in json["topology"]["links"].as_array().unwrap() {
        for end in link["endpoints"].as_array().unwrap() {
            let (_, iface) = end.as_str().unwrap().split_once(':').unwrap();
            names.push(iface.to_string());
        }
    }
    for (_, line) in exec_lines(json) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            if matches!(pair[0], "dev" | "master" | "add") && pair[1] != "type" {
                if let [_, name] = pair {
                    if !name.contains('.') || name.starts_with("flannel") {
                        names.push(name.to_string());
                    }
                }
            }
        }
    }
    names
}

#[test]
fn interface_names_fit_the_kernels_15_characters() {
    for mode in Mode::ALL {
        let (_, json) = rendered(mode, MAX_HOSTS);
        let names = interface_names(&json);
        assert!(names.iter().any(|n| n == "cni0"), "{mode}: no cni0 found");
        for name in names {
            assert!(name.len() <= 15, "{mode}: interface `{name}` is too long");
        }
    }
}

#[test]
fn node_names_match_containerlabs_pattern() {
    let pattern = regex::Regex::new(r"^[a-zA-Z0-9][a-zA-Z0-9-._]*$").unwrap();
    for mode in Mode::ALL {
        let (_, json) = rendered(mode, MAX_HOSTS);
        for node in json["topology"]["nodes"].as_object().unwrap().keys() {
            assert!(pattern.is_match(node), "{mode}: node `{node}`");
        }
    }
}

/// A restarted linux node comes back without its veths and exec configuration, and
/// containerlab's default for linux nodes is `always` (since 0.59): every linux node says
/// "no", in a form containerlab's schema accepts, and the image is pinned.
#[test]
fn every_linux_node_is_never_restarted_and_runs_a_pinned_image() {
    let validator = schema();
    for mode in Mode::ALL {
        let (_, json) = rendered(mode, 3);
        let nodes = json["topology"]["nodes"].as_object().expect("nodes");
        let mut linux = 0;
        for (name, node) in nodes {
            if node["kind"] != "linux" {
                continue;
            }
            linux += 1;
            assert_eq!(node["restart-policy"], "no", "{mode} node {name}");
            let image = node["image"].as_str().expect("image");
            assert!(
                image
                    .rsplit_once(':')
                    .is_some_and(|(_, tag)| tag != "latest")
                    || image.contains("@sha256:"),
                "{mode} node {name}: image `{image}` is not pinned"
            );
        }
        assert!(linux > 0, "{mode}: no linux node");
        let mut bad = json.clone();
        bad["topology"]["nodes"]["host1"]["restart-policy"] = Value::from("never");
        assert!(
            !validator.is_valid(&bad),
            "the schema checks restart-policy"
        );
    }
}

/// host-gw on every underlay and flavor: the file validates, its exec lines need no shell,
/// its interface and node names fit, and each rack's hosts and router are cabled as planned.
#[test]
fn host_gw_underlays_validate_and_cable_every_rack() {
    use cnilab::plan::{Flavor, LabSpec};
    use cnilab::routing::Routing;
    use cnilab::underlay::Underlay;
    let validator = schema();
    let pattern = regex::Regex::new(r"^[a-zA-Z0-9][a-zA-Z0-9-._]*$").unwrap();
    let underlays = [Underlay::Routed, Underlay::Racks(2), Underlay::Racks(3)];
    let routings = [Routing::Static, Routing::Bgp];
    for (flavor, routing) in [Flavor::Article, Flavor::Flannel]
        .into_iter()
        .flat_map(|f| routings.map(|r| (f, r)))
    {
        for underlay in underlays {
            // The article's static lab at every size; flannel's and BGP's at the small ones,
            // where the file has the same shape (and the test stays fast).
            let every_size = routing == Routing::Static && flavor == Flavor::Article;
            let fits = |n: usize| underlay.check(n).is_ok() && (every_size || n <= 8);
            for hosts in SIZES.into_iter().filter(|&n| fits(n)) {
                let spec = LabSpec {
                    flavor,
                    pods_per_host: 1,
                    underlay: Some(underlay),
                    routing,
                    ..LabSpec::article(Mode::HostGw, hosts, None)
                };
                let plan = Plan::from_spec(&spec).unwrap();
                let text = render(&plan, Templates::Embedded).unwrap();
                let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
                let json = serde_json::to_value(yaml).unwrap();
                let what = format!("{flavor} {underlay} {routing} x{hosts}");
                let errors: Vec<String> = validator
                    .iter_errors(&json)
                    .map(|e| format!("{} at {}", e, e.instance_path))
                    .take(5)
                    .collect();
                assert!(errors.is_empty(), "{what}: {errors:#?}");
                for (node, line) in exec_lines(&json) {
                    for bad in SHELL_ONLY {
                        assert!(!line.contains(bad), "{what} {node}: `{line}` uses `{bad}`");
                    }
                }
                for name in interface_names(&json) {
                    assert!(name.len() <= 15, "{what}: interface `{name}` is too long");
                }
                let nodes = json["topology"]["nodes"].as_object().unwrap();
                assert!(nodes.keys().all(|n| pattern.is_match(n)), "{what}");
                assert_cabled(&plan, &json, &what);
                assert_daemons(&plan, &json, &what);
            }
        }
    }
}

/// flannel's and Calico's VXLAN and Calico's IPIP on racks, with and without DirectRouting or
/// CrossSubnet: the file validates, is cabled like host-gw's racks, and a host routes exactly
/// its rack mates plain (via the peer, on its underlay leg) and every other peer through the
/// tunnel. flannel programs no VTEP entries for a rack mate it routes plain; Calico's VXLAN
/// programs every VTEP's. Calico's routes carry felix's protocol, and its labels say so.
#[test]
fn tunnels_on_racks_validate_and_route_rack_mates_directly() {
    use cnilab::plan::{Flavor, LabSpec};
    use cnilab::underlay::Underlay;
    let validator = schema();
    let labs = [
        (Mode::Vxlan, Flavor::Flannel),
        (Mode::Vxlan, Flavor::Calico),
        (Mode::Ipip, Flavor::Calico),
    ];
    for (mode, flavor, hybrid) in labs
        .into_iter()
        .flat_map(|(m, f)| [(m, f, false), (m, f, true)])
    {
        for (hosts, racks) in [(2, 2), (4, 2), (5, 2), (8, 3)] {
            let spec = LabSpec {
                flavor,
                underlay: Some(Underlay::Racks(racks)),
                direct_routing: hybrid && flavor == Flavor::Flannel,
                cross_subnet: hybrid && flavor == Flavor::Calico,
                ..LabSpec::article(mode, hosts, None)
            };
            let plan = Plan::from_spec(&spec).unwrap();
            let text = render(&plan, Templates::Embedded).unwrap();
            let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
            let json = serde_json::to_value(yaml).unwrap();
            let what = format!("{mode} {flavor} racks:{racks} x{hosts} hybrid={hybrid}");
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .take(5)
                .collect();
            assert!(errors.is_empty(), "{what}: {errors:#?}");
            assert_cabled(&plan, &json, &what);
            assert_rack_routes(&plan, &json, hybrid, &what);
        }
    }
}

/// Each host's route to each peer's pods: plain via the peer where the lab is hybrid and the
/// peer a rack mate, through the tunnel otherwise; with the labels that tell verify so.
fn assert_rack_routes(plan: &Plan, json: &Value, hybrid: bool, what: &str) {
    use cnilab::plan::Flavor;
    let calico = plan.flavor == Flavor::Calico;
    let ipip = plan.mode == Mode::Ipip;
    let dev = &plan.tunnel.unwrap().dev;
    // felix's own route protocol on its plain routes, and on its IPIP routes.
    let felix = if calico { " onlink proto 80" } else { "" };
    let lines = exec_lines(json);
    for h in &plan.hosts {
        let has = |want: &str| lines.iter().any(|(n, l)| *n == h.name && l == want);
        let label = |key: &str| json["topology"]["nodes"][&h.name]["labels"][key].as_str();
        let mates = hybrid
            && plan
                .hosts
                .iter()
                .any(|p| p.index != h.index && p.rack == h.rack);
        assert_eq!(
            label("cnilab.direct-to").is_some(),
            mates,
            "{what}: {}",
            h.name
        );
        let direct_proto = (mates && calico).then_some("80");
        assert_eq!(
            label("cnilab.direct-proto"),
            direct_proto,
            "{what}: {}",
            h.name
        );
        let tunnel_proto = ipip.then_some("80");
        assert_eq!(
            label("cnilab.tunnel-proto"),
            tunnel_proto,
            "{what}: {}",
            h.name
        );
        for p in plan.hosts.iter().filter(|p| p.index != h.index) {
            let (subnet, peer) = (&p.pod_subnet, p.underlay_ip);
            let plain = format!("ip route add {subnet} via {peer} dev eth1{felix}");
            let tunnel = match ipip {
                true => format!("ip route add {subnet} via {peer} dev {dev} onlink proto 80"),
                false => format!(
                    "ip route add {subnet} via {} dev {dev} onlink",
                    p.vtep_ip.unwrap()
                ),
            };
            let fdb = p
                .vtep_mac
                .as_ref()
                .map(|mac| format!("bridge fdb add {mac} dst {peer}"));
            let has_fdb = fdb.is_some_and(|fdb| {
                lines
                    .iter()
                    .any(|(n, l)| *n == h.name && l.starts_with(&fdb))
            });
            let direct = hybrid && p.rack == h.rack;
            let fdb_kept = !ipip && (!direct || calico);
            assert_eq!(
                (has(&plain), has(&tunnel), has_fdb),
                (direct, !direct, fdb_kept),
                "{what}: {} -> {}",
                h.name,
                p.name
            );
        }
    }
}

/// Every host's underlay leg ends at its rack's switch, or at its router where it is alone;
/// every router has a leg into its rack and one onto the WAN.
fn assert_cabled(plan: &Plan, json: &Value, what: &str) {
    let links: Vec<(String, String)> = json["topology"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let e = l["endpoints"].as_array().unwrap();
            (e[0].as_str().unwrap().into(), e[1].as_str().unwrap().into())
        })
        .collect();
    let peer_of = |end: &str| {
        links.iter().find_map(|(a, b)| match () {
            _ if a == end => Some(b.clone()),
            _ if b == end => Some(a.clone()),
            _ => None,
        })
    };
    assert_eq!(plan.racks.len(), plan.underlay.rack_count(plan.hosts.len()));
    for rack in &plan.racks {
        let lan = peer_of(&format!("{}:eth2", rack.router)).expect("router LAN leg");
        let wan = peer_of(&format!("{}:eth1", rack.router)).expect("router WAN leg");
        assert!(
            wan.starts_with("gw") || wan.starts_with("wan:"),
            "{what}: {wan}"
        );
        for &i in &rack.hosts {
            let leg = peer_of(&format!("host{i}:eth1")).expect("host leg");
            match &rack.switch {
                Some(sw) => {
                    assert_eq!(leg, format!("{sw}:host{i}-eth1"), "{what}");
                    assert_eq!(lan, format!("{sw}:{}-eth2", rack.router), "{what}");
                }
                None => assert_eq!(leg, format!("{}:eth2", rack.router), "{what}"),
            }
        }
    }
}

/// With BGP, every host and router binds its own BIRD folder at /run/bird and starts BIRD
/// last; without it, no node does either.
fn assert_daemons(plan: &Plan, json: &Value, what: &str) {
    let bgp = plan.routing == cnilab::routing::Routing::Bgp;
    let files = cnilab::render::render_daemons(plan, Templates::Embedded).unwrap();
    let nodes = json["topology"]["nodes"].as_object().unwrap();
    let speakers = plan.hosts.len() + plan.racks.len();
    assert_eq!(files.len(), if bgp { speakers } else { 0 }, "{what}");
    let mut with_bird = 0;
    // A BGP lab runs the image that carries BIRD 2, on every node; any other lab the usual one.
    let image = match bgp {
        true => cnilab::render::BGP_IMAGE,
        false => cnilab::render::IMAGE,
    };
    for (name, node) in nodes {
        if node["kind"] == "linux" {
            assert_eq!(node["image"], image, "{what} {name}");
        }
        let Some(binds) = node["binds"].as_array() else {
            continue;
        };
        with_bird += 1;
        let dir = format!("{}.cnilab/bird/{name}", plan.lab);
        assert_eq!(
            binds,
            &[Value::from(format!("{dir}:/run/bird"))],
            "{what} {name}"
        );
        assert!(files
            .iter()
            .any(|(p, _)| p == &std::path::Path::new(&dir).join("bird.conf")));
        let exec = node["exec"].as_array().unwrap();
        let last = exec.last().unwrap().as_str().unwrap();
        assert_eq!(
            last, "bird -c /run/bird/bird.conf -s /run/bird/bird.ctl",
            "{what} {name}"
        );
    }
    assert_eq!(with_bird, if bgp { speakers } else { 0 }, "{what}");
}
