//! OTR versions 2 and 3 as a sans-IO library: bytes and events in, bytes and events out.
pub mod group;
pub mod smp;
