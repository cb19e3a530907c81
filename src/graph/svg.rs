//! SVG without an external program: the DOT text laid out and drawn by layout-rs.

use super::dot::{self, Breaks};
use super::model::LabGraph;
use layout::backends::svg::SVGWriter;
use layout::gv::{DotParser, GraphBuilder};

#[derive(Debug, thiserror::Error)]
#[error("cannot lay out the graph: {0}")]
pub struct SvgError(String);

pub fn render(graph: &LabGraph) -> Result<String, SvgError> {
    let text = dot::render(graph, Breaks::Literal);
    let ast = DotParser::new(&text).process().map_err(SvgError)?;
    let mut builder = GraphBuilder::new();
    builder.visit_graph(&ast);
    let mut visual = builder.get();
    let mut svg = SVGWriter::new();
    visual.do_it(false, false, false, &mut svg);
    Ok(svg.finalize())
}
