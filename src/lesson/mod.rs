//! The teaching state machine: `(stage, event) -> (stage, actions)`, pure.

pub mod secret;
