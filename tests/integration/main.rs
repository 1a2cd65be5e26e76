//! Integration tests: the real `execq` binary on temporary queues, one file per feature.

mod util;

mod concurrency;
mod inspect;
mod json_jobs;
mod logging;
mod names;
mod order;
mod output;
mod producers;
mod recovery;
mod seed;
mod service;
mod signals;
mod submit;
mod text_jobs;
mod timeouts;
