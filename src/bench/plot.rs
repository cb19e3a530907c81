//! `--plot PATH`: a grouped bar chart, one group per mode and one bar per path, throughput on
//! the left and request/response latency on the right, whiskers from the slowest to the
//! fastest run. SVG or PNG by the file's extension.

use super::report::{Figures, PathKind, Report};
use super::stats::Stat;
use super::BenchError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Two panels of at least 500 pixels, wider when there are many groups to label.
const HEIGHT: u32 = 420;
const MIN_PANEL_WIDTH: u32 = 500;
const WIDTH_PER_GROUP: u32 = 120;
/// PNG text needs a font file; SVG names the family and lets the viewer draw it.
pub const FONT_FILE: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const PATHS: [PathKind; 3] = [PathKind::HostToHost, PathKind::SameHost, PathKind::PodToPod];
const COLORS: [RGBColor; 3] = [
    RGBColor(120, 120, 120),
    RGBColor(90, 160, 220),
    RGBColor(230, 120, 40),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// The format a path's extension asks for; the error names what is accepted.
    pub fn of(path: &Path) -> Result<Format, String> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            Some(e) if e == "svg" => Ok(Format::Svg),
            Some(e) if e == "png" => Ok(Format::Png),
            _ => Err(format!(
                "--plot {}: the file name must end in .svg or .png",
                path.display()
            )),
        }
    }
}

/// One panel: a figure picked from each path, its title and unit.
struct Panel {
    title: &'static str,
    pick: fn(&Figures) -> &Stat,
}

const PANELS: [Panel; 2] = [
    Panel {
        title: "TCP throughput, 1 stream (Gbit/s, higher is better)",
        pick: |f| &f.throughput_1_stream_gbps,
    },
    Panel {
        title: "TCP request/response (us, lower is better)",
        pick: |f| &f.tcp_rr_us,
    },
];

pub fn write(report: &Report, path: &Path) -> Result<(), BenchError> {
    let failed = |detail: String| BenchError::Plot {
        path: PathBuf::from(path),
        detail,
    };
    let format = Format::of(path).map_err(&failed)?;
    register_font(format).map_err(&failed)?;
    let size = size(report.modes.len());
    match format {
        Format::Svg => draw(SVGBackend::new(path, size).into_drawing_area(), report),
        Format::Png => draw(BitMapBackend::new(path, size).into_drawing_area(), report),
    }
    .map_err(failed)
}

/// The chart's size for `groups` mode/flavor groups: labels such as `vxlan/cilium` need room.
pub fn size(groups: usize) -> (u32, u32) {
    let groups = u32::try_from(groups).unwrap_or(u32::MAX);
    let panel = MIN_PANEL_WIDTH.max(groups.saturating_mul(WIDTH_PER_GROUP).saturating_add(80));
    (2 * panel, HEIGHT)
}

fn register_font(format: Format) -> Result<(), String> {
    match std::fs::read(FONT_FILE) {
        Ok(bytes) => {
            // plotters keeps fonts for the life of the program.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{FONT_FILE} is not a font plotters can read"))
        }
        Err(_) if format == Format::Svg => Ok(()),
        Err(e) => Err(format!(
            "a PNG needs the font {FONT_FILE} ({e}); install it with `sudo apt-get install fonts-dejavu-core`, or write an .svg"
        )),
    }
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, report: &Report) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (width, _) = root.dim_in_pixel();
    let (left, right) = root.split_horizontally(width / 2);
    for (area, panel) in [left, right].into_iter().zip(PANELS.iter()) {
        draw_panel(&area, report, panel).map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    report: &Report,
    panel: &Panel,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let groups = bar_groups(report, panel);
    let top = groups
        .iter()
        .flat_map(|(_, bars)| bars.iter().flatten().map(|s| s.max))
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE)
        // Headroom for the legend.
        * 1.4;
    let names: Vec<String> = groups.iter().map(|(n, _)| n.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..groups.len() as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() * 2 + 1)
        .x_label_formatter(&|x| group_label(&names, *x))
        .draw()?;
    for (g, (_, bars)) in groups.iter().enumerate() {
        for (b, stat) in bars.iter().enumerate() {
            let Some(stat) = stat else { continue };
            let x0 = g as f64 + 0.1 + b as f64 * 0.27;
            let x1 = x0 + 0.25;
            let mid = (x0 + x1) / 2.0;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1, stat.median)],
                COLORS[b].filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(mid, stat.min), (mid, stat.max)],
                BLACK.stroke_width(2),
            )))?;
        }
    }
    for (b, kind) in PATHS.iter().enumerate() {
        let color = COLORS[b];
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label(kind.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
}

/// One group per mode and flavor, one bar per path in [`PATHS`] order (`None` where a path is missing).
fn bar_groups(report: &Report, panel: &Panel) -> Vec<(String, Vec<Option<Stat>>)> {
    report
        .modes
        .iter()
        .map(|m| {
            let bars = PATHS
                .iter()
                .map(|k| {
                    let path = m.paths.iter().find(|p| p.path == *k);
                    path.map(|p| (panel.pick)(&p.figures).clone())
                })
                .collect();
            (m.label(), bars)
        })
        .collect()
}

/// Mode (and flavor) names under the middle of their group, nothing elsewhere.
fn group_label(names: &[String], x: f64) -> String {
    let centre = x - 0.5;
    if centre >= 0.0 && (centre - centre.round()).abs() < 1e-6 {
        names
            .get(centre.round() as usize)
            .cloned()
            .unwrap_or_default()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(Format::of(Path::new("a/b.svg")), Ok(Format::Svg));
        assert_eq!(Format::of(Path::new("b.PNG")), Ok(Format::Png));
        assert!(Format::of(Path::new("b.jpg"))
            .unwrap_err()
            .contains(".svg or .png"));
        assert!(Format::of(Path::new("plot")).is_err());
    }

    #[test]
    fn the_chart_widens_for_many_groups() {
        assert_eq!(size(3), (1000, 420));
        assert_eq!(size(8), (2 * (8 * 120 + 80), 420));
    }

    #[test]
    fn only_group_centres_are_labelled() {
        let names = vec!["host-gw".to_string(), "vxlan".to_string()];
        assert_eq!(group_label(&names, 0.5), "host-gw");
        assert_eq!(group_label(&names, 1.5), "vxlan");
        assert_eq!(group_label(&names, 1.0), "");
        assert_eq!(group_label(&names, 2.5), "");
    }
}
