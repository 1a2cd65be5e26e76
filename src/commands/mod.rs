//! One module per verb of the command line. Each takes the queue and its options, does its work,
//! prints its own output and returns the exit code.

pub mod cancel;
pub mod config;
pub mod dashboard;
pub mod drain;
pub mod edit;
pub mod follow;
pub mod list;
pub mod logs;
pub mod notify;
pub mod pause;
pub mod prune;
pub mod reindex;
pub mod retry;
pub mod schedule;
pub mod service;
pub mod show;
pub mod status;
pub mod submit;
pub mod wait;
