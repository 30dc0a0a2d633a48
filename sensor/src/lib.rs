//! meerkat-sensor: one process that takes packets inline from NFQUEUE (IPS)
//! and as copies from NFLOG (IDS) or pcap files, tags each with the mode of
//! its source, and runs them through decode → flow → stream → app layer →
//! detection → verdict, writing Suricata-compatible EVE JSON.
//!
//! Stages, one folder each: [`capture`], [`decode`], [`flow`], [`stream`],
//! [`app`], [`detect`], [`respond`] (reject packets), [`output`] (EVE and
//! stats). [`verdict`] turns detection results into the packet's verdict
//! and events; [`worker`] strings the stages together per capture thread.

#![deny(unsafe_code)]

pub mod action;
pub mod app;
pub mod capture;
pub mod cli;
pub mod config;
pub mod counters;
pub mod decode;
pub mod detect;
pub mod flow;
pub mod logging;
pub mod output;
pub mod packet;
pub mod respond;
pub mod run;
pub mod stream;
// The one module with `unsafe`: socket options and setns.
#[allow(unsafe_code)]
pub mod sys;
pub mod verdict;
pub mod worker;
