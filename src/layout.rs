//! How cnilab lays out text for a person: aligned columns (tabwriter) and lines wrapped to a
//! terminal's width (textwrap). Every table the CLI prints goes through here, so they align
//! and wrap alike.

use std::io::Write;
use tabwriter::{Alignment, TabWriter};

/// Which way a table's cells are aligned: names read best on the left, figures on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
    /// The first column (the row's name) on the left, the figures after it on the right.
    NameThenFigures,
}

/// `rows` as lines whose cells line up in columns `gap` spaces apart. Every cell, the last
/// too, is padded to its column's width, so text appended to a line starts in one column
/// for every row. The first row is usually the titles.
pub fn columns<R: AsRef<[String]>>(rows: &[R], gap: usize, align: Align) -> Vec<String> {
    if align == Align::NameThenFigures {
        return name_then_figures(rows, gap);
    }
    let mut tw = TabWriter::new(Vec::new()).padding(gap).minwidth(0);
    if align == Align::Right {
        tw = tw.alignment(Alignment::Right);
    }
    for row in rows {
        for cell in row.as_ref() {
            // A tab or newline inside a cell would start a new cell or row.
            let cell = cell.replace(['\t', '\n'], " ");
            let _ = write!(tw, "{cell}\t");
        }
        let _ = writeln!(tw);
    }
    let bytes = tw.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// tabwriter aligns every column one way: the names and the figures are laid out apart and
/// joined.
fn name_then_figures<R: AsRef<[String]>>(rows: &[R], gap: usize) -> Vec<String> {
    let split = |r: &R| {
        r.as_ref()
            .split_first()
            .map(|(n, f)| (vec![n.clone()], f.to_vec()))
    };
    let (names, figures): (Vec<_>, Vec<_>) = rows.iter().filter_map(split).unzip();
    let names = columns(&names, gap, Align::Left);
    let figures = columns(&figures, gap, Align::Right);
    names
        .into_iter()
        .zip(figures)
        .map(|(name, figs)| format!("{name}{figs}"))
        .collect()
}

/// `rows` laid out by [`columns`], with trailing spaces trimmed, one line each.
pub fn table<R: AsRef<[String]>>(rows: &[R], gap: usize, align: Align) -> String {
    let mut out = String::new();
    for line in columns(rows, gap, align) {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` broken at spaces so that no line is wider than `width`; continuation lines are
/// indented by `indent`. A word longer than a line (an address list, a path) stays whole,
/// so it can still be copied.
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let options = textwrap::Options::new(width.max(1))
        .subsequent_indent(&pad)
        .break_words(false)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    let mut out = String::new();
    for line in textwrap::wrap(text, options) {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn cells_line_up_and_the_last_column_is_padded_too() {
        let lines = columns(
            &[row(&["FROM", "TO"]), row(&["pod10", "pod2"])],
            1,
            Align::Left,
        );
        assert_eq!(lines, ["FROM  TO   ", "pod10 pod2 "]);
    }

    #[test]
    fn figures_align_right() {
        let t = table(
            &[row(&["a", "1.5"]), row(&["bb", "10.25"])],
            2,
            Align::Right,
        );
        assert_eq!(t, " a    1.5\nbb  10.25\n");
    }

    #[test]
    fn names_left_figures_right() {
        let rows = [row(&["path", "Gbit/s"]), row(&["pod-to-pod", "9.5"])];
        let t = table(&rows, 1, Align::NameThenFigures);
        assert_eq!(t, "path       Gbit/s\npod-to-pod    9.5\n");
    }

    #[test]
    fn a_tab_inside_a_cell_does_not_split_it() {
        let lines = columns(&[row(&["a\tb", "c"]), row(&["d", "e"])], 1, Align::Left);
        assert_eq!(lines, ["a b c ", "d   e "]);
    }

    #[test]
    fn wrapping_keeps_long_words_whole_and_indents_what_follows() {
        let text = "expected 10.0.1.2>10.0.2.2 on host2-eth1 but saw nothing at all";
        let out = wrap(text, 24, 4);
        assert_eq!(
            out,
            "expected\n    10.0.1.2>10.0.2.2 on\n    host2-eth1 but saw\n    nothing at all\n"
        );
        assert_eq!(
            wrap("      - why", 80, 8),
            "      - why\n",
            "leading indent stays"
        );
    }
}
