//! EVE JSON output: the line writer ([`eve`]), the builders that fill
//! `meerkat_shared::eve::Event` objects in Suricata's field order
//! ([`build`]), the `stats` event ([`stats`]) and the Community ID flow hash
//! ([`community_id`]).

pub mod build;
pub mod community_id;
pub mod eve;
pub mod stats;

pub use build::{FlowView, PacketView};
pub use eve::{EveConfig, EveSender, EveWriter, OutputError};
pub use stats::{stats_event, DetectStats};
