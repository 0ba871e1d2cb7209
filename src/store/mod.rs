//! Typed, versioned persistence in sled: everything that must survive a restart.
