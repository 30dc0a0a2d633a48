//! meerkat-dom: Deny On Monitoring.
pub mod backend;
