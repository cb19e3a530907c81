//! What crosses the wire, as values: bytes dissected into a [`Wire`], the [`Encap`] shapes a
//! lab promises, and ARP with its operation as a field. verify, trace and bench all read
//! frames through this one module. Pure: no I/O.

pub mod dissect;
pub mod encap;

pub use dissect::{dissect, Wire};
pub use encap::{Encap, VxlanParams};
