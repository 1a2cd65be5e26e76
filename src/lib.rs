//! execq: a local, file-based command queue.
//!
//! Producers drop job files into `QUEUE/pending/`; `execq drain` takes the queue's lock, runs every
//! ready job oldest first with a timeout, records each result in `completed/` or `failed/`, logs
//! to `daemon.log`, and exits. See the `queue` module for the layout and its guarantees.

pub mod app;
pub mod capture;
pub mod catalog;
pub mod drain;
pub mod duration;
pub mod exec;
pub mod exit_code;
pub mod fsutil;
pub mod job;
pub mod list;
pub mod lock;
pub mod logging;
pub mod logs;
pub mod pending;
pub mod prune;
pub mod queue;
pub mod record;
pub mod result_file;
pub mod retry;
pub mod service;
pub mod show;
pub mod signals;
pub mod status;
pub mod store;
pub mod submit;
pub mod sys;
pub mod table;
