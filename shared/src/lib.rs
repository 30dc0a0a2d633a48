//! Code shared by `meerkat-sensor` and `meerkat-dom`.
//!
//! * [`eve`]: Suricata 7 EVE JSON event types (serialize for the sensor,
//!   tolerant deserialize for the ban daemon).
//! * [`net`]: IP networks (CIDR), parsing with IPv4-mapped IPv6 folding.
//! * [`duration`]: human durations such as `30m`, `1h30m`, `7d`.
//! * [`time`]: Suricata's EVE timestamp format.
//! * [`notify`]: systemd `sd_notify` readiness and watchdog messages.
//! * [`text`]: line and column of a byte offset, for config errors.

pub mod duration;
pub mod eve;
pub mod net;
pub mod notify;
pub mod text;
pub mod time;
