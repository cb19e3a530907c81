//! The chart `cnilab bench --plot` draws is a well-formed SVG or a decodable PNG, and shows
//! every mode and path it was given.

use cnilab::bench::plot;
use cnilab::bench::report::{
    Figures, Machine, ModeReport, PathKind, PathReport, Ratios, Report, Settings,
};
use cnilab::bench::stats::Stat;
use cnilab::plan::{Flavor, Mode};
use std::collections::BTreeMap;

fn stat(runs: &[f64]) -> Stat {
    Stat::of(runs.to_vec()).unwrap()
}

fn figures(gbps: f64, rr_us: f64) -> Figures {
    Figures {
        throughput_1_stream_gbps: stat(&[gbps, gbps * 0.9, gbps * 1.1]),
        throughput_n_streams_gbps: stat(&[gbps * 1.5]),
        icmp_rtt_us: stat(&[rr_us * 3.0]),
        tcp_rr_us: stat(&[rr_us, rr_us * 1.2]),
        cpu_s_per_gbit: stat(&[0.1]),
    }
}

fn mode(mode: Mode, slowdown: f64) -> ModeReport {
    flavored(mode, Flavor::Article, slowdown)
}

fn flavored(mode: Mode, flavor: Flavor, slowdown: f64) -> ModeReport {
    let base = figures(4.0, 20.0);
    let paths = [
        (PathKind::HostToHost, figures(4.0, 20.0)),
        (PathKind::SameHost, figures(5.0, 15.0)),
        (PathKind::PodToPod, figures(4.0 / slowdown, 20.0 * slowdown)),
    ]
    .into_iter()
    .map(|(path, f)| PathReport {
        path,
        family: None,
        from: "a".into(),
        to: "b".into(),
        ratio_to_host_to_host: Ratios::of(&f, &base),
        figures: f,
        overhead: None,
    })
    .collect();
    ModeReport {
        mode,
        flavor,
        lab: format!("plot-{mode}-{flavor}"),
        encryption: cnilab::plan::encryption::Encryption::None,
        pod_mtu: 1450,
        offloads: BTreeMap::new(),
        paths,
    }
}

fn report() -> Report {
    with_modes(vec![
        mode(Mode::HostGw, 1.2),
        mode(Mode::Vxlan, 1.6),
        mode(Mode::Ipip, 1.4),
    ])
}

fn with_modes(modes: Vec<ModeReport>) -> Report {
    Report {
        machine: Machine::this(),
        settings: Settings {
            duration_s: 1,
            repeat: 3,
            streams: 4,
            offload: true,
        },
        modes,
        encryption_cost: Vec::new(),
    }
}

fn svg_texts(path: &std::path::Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the plot is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect();
    (text, texts)
}

#[test]
fn svg_is_well_formed_and_names_every_mode_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.svg");
    plot::write(&report(), &path).unwrap();
    let (text, texts) = svg_texts(&path);
    let doc = roxmltree::Document::parse(&text).unwrap();
    for label in [
        "host-gw",
        "vxlan",
        "ipip",
        "host-to-host",
        "same-host",
        "pod-to-pod",
    ] {
        // Each panel labels every group and has its own legend.
        let count = texts.iter().filter(|t| *t == label).count();
        assert_eq!(
            count, 2,
            "`{label}` appears {count} times, not once per panel, in {texts:?}"
        );
    }
    // 3 modes x 3 paths bars per panel, besides background and legend boxes.
    let rects = doc.descendants().filter(|n| n.has_tag_name("rect")).count();
    assert!(rects >= 2 * 9, "only {rects} rect elements");
}

#[test]
fn every_mode_and_flavor_gets_its_group_of_bars() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flavors.svg");
    let modes = vec![
        flavored(Mode::Vxlan, Flavor::Article, 1.6),
        flavored(Mode::Vxlan, Flavor::Flannel, 1.5),
        flavored(Mode::Vxlan, Flavor::Calico, 1.7),
        flavored(Mode::Vxlan, Flavor::Cilium, 1.8),
        flavored(Mode::Ipip, Flavor::Calico, 1.4),
    ];
    plot::write(&with_modes(modes), &path).unwrap();
    let (text, texts) = svg_texts(&path);
    for label in [
        "vxlan",
        "vxlan/flannel",
        "vxlan/calico",
        "vxlan/cilium",
        "ipip/calico",
    ] {
        let count = texts.iter().filter(|t| *t == label).count();
        assert_eq!(count, 2, "`{label}` appears {count} times in {texts:?}");
    }
    let doc = roxmltree::Document::parse(&text).unwrap();
    let rects = doc.descendants().filter(|n| n.has_tag_name("rect")).count();
    assert!(
        rects >= 2 * 15,
        "only {rects} rect elements for 5 groups of 3 bars"
    );
    // Five groups' labels need more room than three.
    let width = doc.root_element().attribute("width").unwrap();
    assert_eq!(width, plot::size(5).0.to_string());
    assert!(plot::size(5).0 > 1000);
}

#[test]
fn png_decodes_to_the_chart_size_with_colour_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.png");
    plot::write(&report(), &path).unwrap();
    let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    assert_eq!((info.width, info.height), (1000, 420));
    let pixels = &buf[..info.buffer_size()];
    // The pod-to-pod bars' orange is drawn somewhere.
    let orange = pixels.chunks(3).filter(|p| p == &[230, 120, 40]).count();
    assert!(orange > 500, "{orange} orange pixels");
}

#[test]
fn other_extensions_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.jpg");
    let err = plot::write(&report(), &path).unwrap_err();
    assert!(err.to_string().contains(".svg or .png"), "{err}");
    assert!(!path.exists());
}
