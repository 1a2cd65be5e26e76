//! Integration tests: the real `execq` binary on temporary queues, one file per feature.

mod util;

mod cancel_wait;
mod clients;
mod concurrency;
mod config;
mod crash;
pub mod dashboard;
mod doors;
mod faults;
mod fuzz;
mod index;
mod inspect;
mod json_jobs;
mod limits;
mod load;
mod logging;
pub mod mcp;
mod names;
mod notify;
mod numbers;
mod order;
mod output;
mod packaging;
mod producers;
mod prune;
mod recovery;
mod recurring;
mod retention;
mod sandbox;
mod schedule;
mod security;
mod seed;
mod service;
mod signals;
mod slurm;
mod submit;
#[cfg(target_os = "linux")]
mod syscalls;
mod text_jobs;
mod timeouts;
mod verbs;
mod wake;
