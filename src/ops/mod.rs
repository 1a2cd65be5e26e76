//! The operations: what every door — the command line (`commands`), `execq mcp`, the served
//! dashboard (`dashboard::serve`) and schedules — does to the queue, each in one file with a typed
//! request and a typed outcome. Nothing here prints, parses a command line or speaks a protocol:
//! no clap, rmcp or httparse in this module or below it. A door parses its input, calls the
//! operation, and formats the outcome; so a rule (who may run what, when a drain is started, how
//! long a wait looks) is decided once, here, and holds at every door.
//!
//! | operation | file | outcome |
//! |---|---|---|
//! | submit a job | [`submit`] | [`submit::Submitted`] |
//! | cancel a job | [`cancel`] | [`cancel::Cancelled`] |
//! | hold, release or edit a waiting job | [`edit`] | [`edit::Edited`] |
//! | retry a failed job | [`retry`] | [`retry::Retried`] |
//! | rerun a finished job as a fresh copy | [`rerun`] | its new path |
//! | one job, as it is | [`get`] | [`view::JobView`] |
//! | jobs, newest or oldest first | [`list`] | [`view::JobView`]s and a total |
//! | the queue's health | [`status`] | [`status::Report`] |
//! | wait for a job's record | [`wait`] | [`wait::Waited`] |
//! | a page of a job's output | [`output`] | [`output::OutputPage`] |
//! | pause or resume the queue or a group; the groups | [`pause`] | [`pause::Changed`], [`pause::Groups`] |
//! | make sure a drain runs the queue | [`kick`] | [`kick::Kicked`] |

pub mod cancel;
pub mod edit;
pub mod get;
pub mod kick;
pub mod list;
pub mod output;
pub mod pause;
pub mod rerun;
pub mod retry;
pub mod status;
pub mod submit;
pub mod view;
pub mod wait;
