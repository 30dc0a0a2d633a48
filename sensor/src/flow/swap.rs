//! Turning a flow around: the app layer found that the side seen first is
//! the server (a DNS response seen before its query), as Suricata's
//! `FlowSwap`.

use super::Flow;

impl Flow {
    /// Swaps client and server and every per-direction field (counters,
    /// flags, the TCP session's two directions).
    pub fn swap_direction(&mut self) {
        std::mem::swap(&mut self.client, &mut self.server);
        self.pkts.swap(0, 1);
        self.bytes.swap(0, 1);
        self.drop_logged.swap(0, 1);
        self.tcp_flags_seen.swap(0, 1);
        self.icmp.swap(0, 1);
        if let Some(t) = self.tcp.as_mut() {
            t.dirs.swap(0, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::testpkt;
    use crate::packet::{Direction, Timestamp};

    #[test]
    fn swapped_flow_reads_the_other_way() {
        let bytes = testpkt::ip(
            "10.0.0.1",
            "10.0.0.2",
            17,
            &testpkt::udp_datagram(53, 4000, b"x"),
        );
        let p = crate::decode::decode(&bytes).unwrap();
        let mut f = super::Flow::new(&p, Timestamp::default(), 1);
        f.account(&p, Direction::ToServer, Timestamp::default(), 60);
        assert_eq!(f.direction_of(&p), Direction::ToServer);
        f.swap_direction();
        assert_eq!(f.direction_of(&p), Direction::ToClient);
        assert_eq!((f.pkts, f.bytes), ([0, 1], [0, 60]));
        assert_eq!(f.client.1, 4000);
    }
}
