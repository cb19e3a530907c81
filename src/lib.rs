//! cnilab: the article's three cross-node pod networks as a tool.
//!
//! Pure core: [`plan`], [`render`], [`topology`], [`lab`] and the dissect/judge half of
//! [`verify`] do no I/O. Thin edges: [`cli`], [`runtime`], [`netns`] and the capture/probe half
//! of [`verify`] touch the system.

pub mod bench;
pub mod cli;
pub mod gen;
pub mod graph;
pub mod interrupt;
pub mod lab;
pub mod layout;
pub mod lifecycle;
pub mod neigh_limits;
pub mod output;
pub mod pcapng;
pub mod plan;
pub mod render;
pub mod routing;
pub mod runtime;
pub mod sys;
pub mod topology;
pub mod trace;
pub mod underlay;
pub mod verify;
pub mod wire;
