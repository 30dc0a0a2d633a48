//! EVE JSON output: the line writer ([`eve`]), the builders that fill
//! `meerkat_shared::eve::Event` objects in Suricata's field order
//! ([`build`]), the `stats` event ([`stats`]) and the Community ID flow hash
//! ([`community_id`]), and [`view`], which reads flows for the builders.
//! [`redis`] is the optional second EVE sink (`[eve.redis]`), fed by the
//! EVE writer thread.

pub mod build;
pub mod community_id;
pub mod dns;
pub mod eve;
pub mod fast;
pub mod http;
pub mod payload;
pub mod redis;
pub mod stats;
pub mod tls;
pub mod tls_store;
pub mod view;

pub use build::{FlowView, PacketView};
pub use eve::{EveConfig, EveSender, EveWriter, OutputError};
pub use redis::{RedisConfig, RedisMode};
pub use stats::{stats_event, DetectStats};

/// Line buffers larger than this are not returned to a pool (the EVE
/// writer's and the Redis sink's), so one huge event does not pin memory.
pub(crate) const POOL_MAX_BUF: usize = 64 * 1024;
