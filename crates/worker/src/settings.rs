//! The Worker's own settings: the `edge` section and `origin` of `TOKENGATE_CONFIG`.
//!
//! The schema and its checks are the core's ([`tokengate::WorkerSettings`],
//! [`tokengate::EdgeSettings`], read by [`tokengate::WorkerConfig::from_value`]), so
//! that tools check a configuration document with the same code
//! ([`tokengate::check_worker_config`]: `tokengate check`, `checkWorkerConfig` of the
//! npm package). This module only gives them the Worker's names.

pub use tokengate::{LogLevel, ServerTiming, WorkerSettings as Settings};
