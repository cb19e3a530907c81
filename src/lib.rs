//! cnilab: the article's three cross-node pod networks as a tool.
//!
//! The layers, lowest first; each imports only those below it:
//! - [`sys`] reaches the kernel (namespaces, packet sockets and rings, netlink) and
//!   [`wire`] turns captured bytes into values; neither knows a lab.
//! - [`topology`], [`plan`], [`underlay`], [`routing`] and [`lab`] describe a lab: the file,
//!   the address plan, and the plan read back from a file's labels. They do no I/O but
//!   reading the file ([`lab::file::LabFile`], read once per command).
//! - [`render`] and [`gen`] write labs; [`runtime`] brings them up and down.
//! - [`verify`], [`trace`], [`bench`](mod@bench) and [`graph`] work on a lab. In verify, judging
//!   ([`verify::judge`], [`verify::reason`], [`verify::report`]) is pure; probing, capturing
//!   and reading the kernel's tables are its edges.
//! - [`cli`] parses arguments, runs one command and prints its errors.

pub mod bench;
pub mod cli;
pub mod family;
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
pub mod services;
pub mod sys;
pub mod topology;
pub mod trace;
pub mod underlay;
pub mod verify;
pub mod wire;
