//! The pair matrix: senders as rows, receivers as columns, a cell per probed pair coloured
//! by its verdict. Up to [`DOM_MAX_HOSTS`] hosts every cell is an element that tests and
//! scripts can address (`data-pair="FROM>TO"`, `data-verdict`); beyond, a canvas draws the
//! cells from the page's JSON, which stays small where 64,516 elements would not.

use super::super::escape::{attr, text};
use super::super::Verdict;
use super::data::Axis;
use crate::verify::report::Report;
use std::collections::HashMap;
use std::fmt::Write;

/// Up to this many hosts the matrix is a table of elements.
pub const DOM_MAX_HOSTS: usize = 64;
/// ...and up to this many pods a side, so that many pods per host cannot make a table of
/// more than 65,536 elements.
pub const DOM_MAX_SIDE: usize = 256;
/// Beyond this many pods a side, cells are too small for their verdict's symbol.
const SYMBOLS_MAX_SIDE: usize = 24;

/// Whether the matrix is drawn as elements rather than on a canvas.
pub fn as_elements(report: &Report, axis: &Axis) -> bool {
    report.hosts <= DOM_MAX_HOSTS && axis.side() <= DOM_MAX_SIDE
}

/// The verdict's symbol, so that a cell reads without its colour.
fn symbol(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✓",
        Verdict::Fail => "✗",
        Verdict::ExpectedFailure => "~",
        Verdict::Retry => "↻",
    }
}

/// The legend: each verdict's colour, symbol and count, and the marks for a same-host pair
/// and a pair that was not probed.
pub fn legend(out: &mut String, report: &Report) {
    let mut counts: HashMap<Verdict, usize> = HashMap::new();
    for r in &report.pairs {
        *counts.entry(Verdict::of(&r.verdict)).or_default() += 1;
    }
    out.push_str("<ul class=\"legend\">\n");
    for v in Verdict::ALL {
        let _ = writeln!(
            out,
            "<li><span class=\"swatch\" data-verdict=\"{}\">{}</span> {} <b>{}</b></li>",
            v.as_str(),
            symbol(v),
            v.label(),
            counts.get(&v).copied().unwrap_or(0)
        );
    }
    out.push_str(
        "<li><span class=\"swatch same\" data-verdict=\"pass\"></span> same host</li>\n\
         <li><span class=\"swatch none\"></span> not probed</li>\n</ul>\n",
    );
}

/// The matrix as a table: a header row of receivers, then a row per sender.
pub fn table(out: &mut String, report: &Report, axis: &Axis) {
    let n = axis.side();
    let mut cells: Vec<Option<usize>> = vec![None; n * n];
    for (i, r) in report.pairs.iter().enumerate() {
        // A dual-stack pod pair has a row per family: its cell shows a failing one, if any.
        let cell = &mut cells[axis.position(&r.from) * n + axis.position(&r.to)];
        let failing = |k: usize| !report.pairs[k].verdict.passed();
        if !cell.is_some_and(failing) {
            *cell = Some(i);
        }
    }
    let dense = if n > SYMBOLS_MAX_SIDE { " dense" } else { "" };
    let _ = writeln!(out, "<table class=\"matrix{dense}\" id=\"matrix\">");
    out.push_str("<thead><tr><th class=\"corner\">from ↓ to →</th>");
    for (c, pod) in axis.pods.iter().enumerate() {
        let _ = write!(
            out,
            "<th class=\"col{}\" scope=\"col\"><span>{}</span></th>",
            boundary(axis, c),
            text(pod)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (r, pod) in axis.pods.iter().enumerate() {
        row(out, report, axis, r, pod, &cells[r * n..(r + 1) * n]);
    }
    out.push_str("</tbody></table>\n");
}

/// A host boundary before this row or column, where hosts have several pods.
fn boundary(axis: &Axis, i: usize) -> &'static str {
    match axis.host_starts[i] {
        true => " hb",
        false => "",
    }
}

fn row(
    out: &mut String,
    report: &Report,
    axis: &Axis,
    r: usize,
    pod: &str,
    cells: &[Option<usize>],
) {
    let host = axis.host_of[r].map(|h| axis.hosts[h]).unwrap_or("");
    let _ = write!(
        out,
        "<tr class=\"{}\"><th class=\"row\" scope=\"row\">{} <small>{}</small></th>",
        boundary(axis, r).trim_start(),
        text(pod),
        text(host)
    );
    for (c, cell) in cells.iter().enumerate() {
        let hb = boundary(axis, c);
        match cell {
            _ if c == r => {
                let _ = write!(out, "<td class=\"self{hb}\"></td>");
            }
            None => {
                let _ = write!(out, "<td class=\"none{hb}\"></td>");
            }
            Some(i) => cell_element(out, report, axis, *i, hb),
        }
    }
    out.push_str("</tr>\n");
}

fn cell_element(out: &mut String, report: &Report, axis: &Axis, i: usize, hb: &str) {
    let row = &report.pairs[i];
    let v = Verdict::of(&row.verdict);
    let same = axis.same_host(axis.position(&row.from), axis.position(&row.to));
    let _ = write!(
        out,
        "<td class=\"pair{hb}\" data-pair=\"{}\" data-verdict=\"{}\" data-i=\"{i}\"{} title=\"{}\">{}</td>",
        attr(&format!("{}>{}", row.from, row.to)),
        v.as_str(),
        if same { " data-same-host" } else { "" },
        attr(&format!(
            "{} → {}: {}{}",
            row.from,
            row.to,
            v.label(),
            if same { " (same host)" } else { "" }
        )),
        symbol(v)
    );
}

/// The matrix on a canvas; the page's script draws it from the JSON.
pub fn canvas(out: &mut String, axis: &Axis) {
    let _ = writeln!(
        out,
        "<canvas id=\"matrix-canvas\" data-side=\"{}\" role=\"img\" \
         aria-label=\"pair matrix of {} pods; hover or click a cell for its pair\"></canvas>",
        axis.side(),
        axis.side()
    );
}
