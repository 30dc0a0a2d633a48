//! Types every stage of the sensor's data path shares: where a packet came
//! from (and so its mode), its capture timestamp, the verdict, and the
//! direction of a packet within its flow.

use std::fmt;

/// IPS packets (from NFQUEUE) can be dropped; IDS packets (NFLOG copies,
/// pcap files) can only be watched. Every mode-dependent decision reads the
/// packet's mode, never a global one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Ips,
    Ids,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Ips => "ips",
            Mode::Ids => "ids",
        }
    }
}

/// A capture source. Its mode follows from its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// NFQUEUE queue number: inline, IPS.
    Nfq(u16),
    /// NFLOG group: copies, IDS.
    Nflog(u16),
    /// An offline pcap file: IDS.
    Pcap,
    /// An offline pcap file read with `--simulate-ips`: its packets are
    /// treated as IPS (drops apply, alert action "blocked"), as Suricata
    /// does with that flag. Labelled "pcap" like [`Source::Pcap`].
    PcapIps,
}

impl Source {
    pub fn mode(self) -> Mode {
        match self {
            Source::Nfq(_) | Source::PcapIps => Mode::Ips,
            Source::Nflog(_) | Source::Pcap => Mode::Ids,
        }
    }
}

/// `nfq:0`, `nflog:10`, `pcap`: the label written to EVE `in_iface` and
/// used as the stats key.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Nfq(n) => write!(f, "nfq:{n}"),
            Source::Nflog(n) => write!(f, "nflog:{n}"),
            Source::Pcap | Source::PcapIps => f.write_str("pcap"),
        }
    }
}

/// Capture time, as the kernel or the pcap file gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub micros: u32,
}

impl Timestamp {
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            secs: d.as_secs() as i64,
            micros: d.subsec_micros(),
        }
    }

    /// Microseconds since the epoch.
    pub fn as_micros(self) -> i64 {
        self.secs * 1_000_000 + self.micros as i64
    }

    /// EVE format: `2025-03-14T09:26:50.713482+0000`.
    pub fn to_eve(self) -> String {
        meerkat_shared::time::eve_timestamp_parts(self.secs, self.micros)
    }
}

/// One packet as a capture source hands it to the pipeline. `data` starts at
/// the link layer `linktype` names (the IP header for NFQUEUE, NFLOG and
/// raw-IP pcaps) and is valid only for the duration of the call.
#[derive(Debug, Clone, Copy)]
pub struct CapturedPacket<'a> {
    pub source: Source,
    pub ts: Timestamp,
    /// The captured frame, starting at the link layer `linktype` names
    /// (raw IP for NFQUEUE and NFLOG).
    pub data: &'a [u8],
    /// pcap link type of `data` (`decode::LINKTYPE_RAW`: an IP header).
    pub linktype: u16,
    /// Length of the packet in the kernel. Larger than `data.len()` when the
    /// copy was truncated (copy range, BIG TCP).
    pub orig_len: u32,
    /// The kernel says the L4 checksum is not filled in yet (GSO,
    /// CHECKSUM_PARTIAL): treat the checksum as unknown, not bad.
    pub csum_unknown: bool,
}

impl CapturedPacket<'_> {
    pub fn mode(&self) -> Mode {
        self.source.mode()
    }

    /// The packet's length on the wire as far as the capture knows it
    /// (the copy may be shorter).
    pub fn wire_len(&self) -> u32 {
        self.orig_len.max(self.data.len() as u32)
    }

    pub fn truncated(&self) -> bool {
        (self.orig_len as usize) > self.data.len()
    }
}

/// What happens to an IPS packet. IDS packets always get `Accept` (their
/// verdict is ignored by the capture source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verdict {
    #[default]
    Accept,
    Drop,
}

/// Direction of a packet within its flow; the client is the initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}
