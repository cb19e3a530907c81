//! Whatever a topology file holds, reading it and building its lab ends in a value or an
//! error, never a panic; and what does load goes through graph's drawings and verify's pure
//! planning without one either. Checked for arbitrary bytes, and for generated files damaged
//! the way people damage them: lines deleted, duplicated or swapped, values exchanged or
//! replaced, labels renamed, numbers changed, the file cut short. A few hundred cases each,
//! so `make test` stays fast; proptest keeps any case that failed in
//! `lab_file_fuzz.proptest-regressions` and tries it first from then on.

use cnilab::gen::{generate, GenRequest};
use cnilab::graph::{draw, Format, LabGraph};
use cnilab::lab::file::LabFile;
use cnilab::plan::{Flavor, Mode};
use cnilab::topology::Topology;
use cnilab::underlay::Underlay;
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::Path;
use std::sync::OnceLock;

/// Reads `text` as a command does, and runs every pure function of a loaded lab on it.
fn load_and_use(text: &str) {
    let Ok(topo) = Topology::parse(text) else {
        return;
    };
    use_file(&LabFile::new(Path::new("damaged.clab.yaml"), topo));
}

fn use_file(file: &LabFile) {
    let _ = file.topo.nodes().count();
    let Ok(lab) = file.lab() else {
        return;
    };
    let graph = LabGraph::from_topology(&file.topo, lab);
    for format in [Format::Svg, Format::Mermaid, Format::Dot] {
        let _ = draw(&graph, format);
    }
    let _ = cnilab::verify::learned::plan_flush(lab, &[], &Default::default());
    // Every ordered pair of pods, as verify probes them.
    let hosts: Vec<(usize, usize)> = lab
        .pods
        .iter()
        .enumerate()
        .flat_map(|(i, a)| {
            lab.pods
                .iter()
                .enumerate()
                .filter(move |&(j, _)| j != i)
                .map(move |(_, b)| (a.host, b.host))
        })
        .collect();
    let _ = cnilab::verify::schedule::cold_phases(&hosts);
}

/// Generated labs of every mode and flavor, static and BGP, flat and in racks, the rendered
/// examples in topologies/ and the article's files in examples/article/.
fn seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut out = Vec::new();
        for mode in [Mode::HostGw, Mode::Vxlan, Mode::Ipip] {
            for &flavor in Flavor::valid_for(mode) {
                for (hosts, pods, underlay, bgp) in [
                    (2, 1, None, false),
                    (3, 2, None, false),
                    (4, 1, Some(Underlay::Racks(2)), true),
                ] {
                    out.extend(generated(mode, flavor, hosts, pods, underlay, bgp));
                }
            }
        }
        // The rendered examples, and the article's own files, whose plan is inferred.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["topologies", "examples/article"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                if entry.path().extension().is_some_and(|e| e == "yaml") {
                    out.push(std::fs::read_to_string(entry.path()).unwrap());
                }
            }
        }
        assert!(out.len() > 10, "too few seeds: {}", out.len());
        out
    })
}

fn generated(
    mode: Mode,
    flavor: Flavor,
    hosts: usize,
    pods: usize,
    underlay: Option<Underlay>,
    bgp: bool,
) -> Option<String> {
    generate(&GenRequest {
        mode,
        flavor,
        hosts,
        pods_per_host: pods,
        lab: Some("fuzz"),
        underlay,
        routing: if bgp {
            cnilab::routing::Routing::Bgp
        } else {
            Default::default()
        },
        direct_routing: false,
        cross_subnet: false,
        encryption: cnilab::plan::encryption::Encryption::None,
        ip_family: Default::default(),
        templates: None,
        services: Default::default(),
    })
    .ok()
}

/// Values people type where another was meant, and values at the edges of what fits.
const TOKENS: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "2",
    "255",
    "256",
    "4096",
    "65536",
    "4294967296",
    "18446744073709551616",
    "abc",
    "\"\"",
    "~",
    "null",
    "true",
    "[]",
    "{}",
    "[1, 2]",
    "10.0.0.0/33",
    "300.1.1.1",
    "0.0.0.0/0",
    "172.16.0.0/24",
    "10.0.1.2",
    "255.255.255.255/32",
    "eth1",
    "eth99",
    "host1",
    "host0",
    "pod1",
    "gw1",
    "switch",
    "router",
    "host",
    "pod",
    "host-gw",
    "vxlan",
    "ipip",
    "calico",
    "racks:0",
    "a:b:c",
    "é",
    "'",
    "\"",
    "- x",
    "&a",
    "*a",
];

/// The label keys a lab file reads back.
const LABELS: &[&str] = &[
    "cnilab.mode",
    "cnilab.role",
    "cnilab.host",
    "cnilab.pod",
    "cnilab.underlay-if",
    "cnilab.underlay-ip",
    "cnilab.pod-subnet",
    "cnilab.vni",
    "cnilab.vxlan-port",
    "cnilab.capture",
    "cnilab.flavor",
    "cnilab.expect-fail",
    "cnilab.rack",
    "cnilab.x",
];

#[derive(Debug, Clone)]
enum Damage {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    SwapValues(Index, Index),
    SetValue(Index, Index),
    RenameLabel(Index, Index),
    ChangeNumber(Index, u64),
    Indent(Index, bool),
    Insert(Index, String),
    Truncate(Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<Index>().prop_map(Damage::DeleteLine),
        any::<Index>().prop_map(Damage::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Damage::SwapLines(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Damage::SwapValues(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Damage::SetValue(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Damage::RenameLabel(a, b)),
        (any::<Index>(), any::<u64>()).prop_map(|(a, n)| Damage::ChangeNumber(a, n)),
        (any::<Index>(), any::<bool>()).prop_map(|(a, b)| Damage::Indent(a, b)),
        (any::<Index>(), ".{0,12}").prop_map(|(a, s)| Damage::Insert(a, s)),
        any::<Index>().prop_map(Damage::Truncate),
    ]
}

/// The part of a line after its key, if it has one (`key: value` or `- value`).
fn split_value(line: &str) -> Option<(&str, &str)> {
    line.find(": ")
        .map(|i| (&line[..i + 2], &line[i + 2..]))
        .or_else(|| line.find("- ").map(|i| (&line[..i + 2], &line[i + 2..])))
}

fn apply(text: &str, d: &Damage) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let n = lines.len();
    match d {
        Damage::DeleteLine(i) => {
            lines.remove(i.index(n));
        }
        Damage::DuplicateLine(i) => {
            let line = lines[i.index(n)].clone();
            lines.insert(i.index(n), line);
        }
        Damage::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
        Damage::SwapValues(a, b) => {
            let (a, b) = (lines[a.index(n)].clone(), lines[b.index(n)].clone());
            if let (Some((ka, va)), Some((kb, vb))) = (split_value(&a), split_value(&b)) {
                let (na, nb) = (format!("{ka}{vb}"), format!("{kb}{va}"));
                let (ia, ib) = (
                    lines.iter().position(|l| *l == a),
                    lines.iter().position(|l| *l == b),
                );
                if let (Some(ia), Some(ib)) = (ia, ib) {
                    lines[ia] = na;
                    lines[ib] = nb;
                }
            }
        }
        Damage::SetValue(i, t) => {
            let line = &mut lines[i.index(n)];
            if let Some((key, _)) = split_value(line) {
                *line = format!("{key}{}", TOKENS[t.index(TOKENS.len())]);
            }
        }
        Damage::RenameLabel(i, t) => {
            let labelled: Vec<usize> = (0..n).filter(|&k| lines[k].contains("cnilab.")).collect();
            if !labelled.is_empty() {
                let k = labelled[i.index(labelled.len())];
                let indent = lines[k].len() - lines[k].trim_start().len();
                let value = lines[k].split_once(':').map_or("", |(_, v)| v).to_string();
                lines[k] = format!(
                    "{}{}:{value}",
                    " ".repeat(indent),
                    LABELS[t.index(LABELS.len())]
                );
            }
        }
        Damage::ChangeNumber(i, v) => return change_number(text, i, *v),
        Damage::Indent(i, deeper) => {
            let line = &mut lines[i.index(n)];
            if *deeper {
                line.insert_str(0, "  ");
            } else if let Some(rest) = line.strip_prefix("  ") {
                *line = rest.to_string();
            }
        }
        Damage::Insert(i, s) => lines.insert(i.index(n + 1), s.clone()),
        Damage::Truncate(i) => {
            let mut cut = i.index(text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return text[..cut].to_string();
        }
    }
    lines.join("\n") + "\n"
}

/// Replaces one run of digits in `text` with `v`, or a small or huge neighbour of it.
fn change_number(text: &str, i: &Index, v: u64) -> String {
    let re = regex::Regex::new(r"\d+").unwrap();
    let runs: Vec<_> = re.find_iter(text).collect();
    if runs.is_empty() {
        return text.to_string();
    }
    let m = runs[i.index(runs.len())];
    let value = match v % 4 {
        0 => "0".to_string(),
        1 => (v % 300).to_string(),
        2 => v.to_string(),
        _ => format!("{v}{v}"),
    };
    format!("{}{value}{}", &text[..m.start()], &text[m.end()..])
}

/// 300 cases a property in `make test`; `CNILAB_FUZZ_CASES=100000` for a longer hunt.
fn cases() -> u32 {
    std::env::var("CNILAB_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any bytes at all, read from a file as a command reads them (not UTF-8 included).
    #[test]
    fn arbitrary_bytes_load_or_fail_without_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clab.yaml");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(file) = LabFile::load(&path) {
            use_file(&file);
        }
    }

    /// YAML-shaped noise: a generated file's first lines with arbitrary text spliced in.
    #[test]
    fn text_spliced_into_a_lab_file_loads_or_fails_without_a_panic(
        seed in any::<Index>(), at in any::<Index>(), noise in "\\PC{0,200}",
    ) {
        let text = &seeds()[seed.index(seeds().len())];
        let mut cut = at.index(text.len() + 1);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        load_and_use(&format!("{}{noise}{}", &text[..cut], &text[cut..]));
    }

    /// Generated files, damaged one to four times over.
    #[test]
    fn damaged_lab_files_load_or_fail_without_a_panic(
        seed in any::<Index>(), damages in proptest::collection::vec(damage(), 1..5),
    ) {
        let mut text = seeds()[seed.index(seeds().len())].clone();
        for d in &damages {
            text = apply(&text, d);
        }
        load_and_use(&text);
    }
}

/// The damage is real: many damaged files still parse, and some of those still make a lab,
/// so the property above reaches the lab building and the drawing, not only the YAML parser.
#[test]
fn damaged_files_still_reach_lab_building() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut tried, mut parsed, mut built) = (0, 0, 0);
    for text in seeds() {
        for _ in 0..10 {
            let d = damage().new_tree(&mut runner).unwrap().current();
            tried += 1;
            if let Ok(topo) = Topology::parse(&apply(text, &d)) {
                parsed += 1;
                built += usize::from(LabFile::new(Path::new("d.yaml"), topo).lab().is_ok());
            }
        }
    }
    eprintln!("{parsed} of {tried} damaged files parsed, {built} built a lab");
    assert!(
        parsed * 4 > tried,
        "only {parsed} of {tried} damaged files parsed"
    );
    assert!(
        built * 10 > tried,
        "only {built} of {tried} damaged files built a lab"
    );
}

/// Found by the property above: pods whose links lead to a node the file never declares made
/// inferring the plan panic. Now it is an error that names both.
#[test]
fn a_link_to_an_undeclared_node_is_an_error_naming_it() {
    let text = "name: undeclared\ntopology:\n  nodes:\n    pod1:\n      kind: linux\n      exec:\n        - ip addr add 10.0.1.2/24 dev eth1\n    pod2:\n      kind: linux\n      exec:\n        - ip addr add 10.0.2.2/24 dev eth1\n  links:\n    - endpoints: [\"pod1:eth1\", \"host1:eth1\"]\n    - endpoints: [\"pod2:eth1\", \"host1:eth2\"]\n";
    let file = LabFile::new(
        Path::new("undeclared.clab.yaml"),
        Topology::parse(text).unwrap(),
    );
    let Err(err) = file.lab() else {
        panic!("a lab without host1");
    };
    let err = err.to_string();
    assert!(
        err.contains("`pod1` links to `host1`, which is not among the topology's nodes"),
        "{err}"
    );
    load_and_use(text);
}
