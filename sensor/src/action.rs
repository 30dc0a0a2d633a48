//! What a rule does when it matches: the one action type that detection
//! produces, the verdict stage decides with, the reject stage aims and the
//! output writes. Everything here is `Copy` and allocation-free.

/// A rule's action (the first word of a rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Alert,
    Pass,
    Drop,
    Reject(RejectTarget),
}

impl Action {
    /// The rule keyword for this action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Pass => "pass",
            Action::Drop => "drop",
            Action::Reject(RejectTarget::Src) => "reject",
            Action::Reject(RejectTarget::Dst) => "rejectdst",
            Action::Reject(RejectTarget::Both) => "rejectboth",
        }
    }

    /// True for actions that produce an alert record (all but `pass`).
    pub fn alerts(self) -> bool {
        !matches!(self, Action::Pass)
    }

    /// True for `drop` and every `reject`: on an IPS packet the packet is
    /// dropped.
    pub fn blocks(self) -> bool {
        matches!(self, Action::Drop | Action::Reject(_))
    }

    /// The reject target, for reject actions.
    pub fn reject_target(self) -> Option<RejectTarget> {
        match self {
            Action::Reject(t) => Some(t),
            _ => None,
        }
    }
}

/// Suricata's `action-order`: the order in which matching rules of each
/// action are applied (default `pass, drop, reject, alert`). A `pass` stops
/// the rules after it, so with `drop` before `pass` a drop rule still drops
/// a packet that a pass rule also matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionOrder {
    /// Rank of pass, drop, reject, alert (lower runs first).
    rank: [u8; 4],
}

impl Default for ActionOrder {
    fn default() -> Self {
        ActionOrder { rank: [0, 1, 2, 3] }
    }
}

impl ActionOrder {
    const NAMES: [&'static str; 4] = ["pass", "drop", "reject", "alert"];

    fn slot(action: Action) -> usize {
        match action {
            Action::Pass => 0,
            Action::Drop => 1,
            Action::Reject(_) => 2,
            Action::Alert => 3,
        }
    }

    /// Rank of `action` in this order: lower runs first.
    pub fn rank(&self, action: Action) -> u8 {
        self.rank[Self::slot(action)]
    }

    /// Parses Suricata's list: each of `pass`, `drop`, `reject`, `alert`
    /// exactly once, in the order wanted.
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<ActionOrder, String> {
        let mut rank = [u8::MAX; 4];
        for (i, name) in list.iter().enumerate() {
            let name = name.as_ref().trim();
            let Some(slot) = Self::NAMES.iter().position(|n| *n == name) else {
                return Err(format!(
                    "unknown action {name:?} (expected pass, drop, reject and alert, each once)"
                ));
            };
            if rank[slot] != u8::MAX {
                return Err(format!("action {name:?} is listed twice"));
            }
            rank[slot] = i as u8;
        }
        if let Some(missing) = rank.iter().position(|r| *r == u8::MAX) {
            return Err(format!(
                "action {:?} is missing (list pass, drop, reject and alert, each once)",
                Self::NAMES[missing]
            ));
        }
        Ok(ActionOrder { rank })
    }

    /// The order as Suricata writes it, first to last.
    pub fn names(&self) -> [&'static str; 4] {
        let mut out = [""; 4];
        for (slot, r) in self.rank.iter().enumerate() {
            out[usize::from(*r)] = Self::NAMES[slot];
        }
        out
    }
}

impl<'de> serde::Deserialize<'de> for ActionOrder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<String>::deserialize(d)?;
        ActionOrder::parse(&list).map_err(serde::de::Error::custom)
    }
}

/// Who gets the TCP RST / ICMP unreachable of a reject rule, relative to
/// the packet that carried the matched data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectTarget {
    /// The packet's sender (`reject`, `rejectsrc`).
    Src,
    /// The packet's receiver (`rejectdst`).
    Dst,
    /// Both (`rejectboth`).
    Both,
}

impl RejectTarget {
    /// A reject packet goes to the sender.
    pub fn to_src(self) -> bool {
        matches!(self, RejectTarget::Src | RejectTarget::Both)
    }

    /// A reject packet goes to the receiver.
    pub fn to_dst(self) -> bool {
        matches!(self, RejectTarget::Dst | RejectTarget::Both)
    }

    /// The same target seen from a packet travelling the other way.
    pub fn swapped(self) -> RejectTarget {
        match self {
            RejectTarget::Src => RejectTarget::Dst,
            RejectTarget::Dst => RejectTarget::Src,
            RejectTarget::Both => RejectTarget::Both,
        }
    }

    /// Suricata's EVE `verdict.reject-target` (relative to the flow, as
    /// Suricata writes it for the rule's default orientation).
    pub fn eve_name(self) -> &'static str {
        match self {
            RejectTarget::Src => "to_client",
            RejectTarget::Dst => "to_server",
            RejectTarget::Both => "both",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_order_parse_and_rank() {
        let d = ActionOrder::default();
        assert_eq!(d.names(), ["pass", "drop", "reject", "alert"]);
        assert!(d.rank(Action::Pass) < d.rank(Action::Drop));
        let o = ActionOrder::parse(&["drop", "pass", "reject", "alert"]).unwrap();
        assert!(o.rank(Action::Drop) < o.rank(Action::Pass));
        assert_eq!(o.rank(Action::Reject(RejectTarget::Both)), 2);
        assert_eq!(o.names(), ["drop", "pass", "reject", "alert"]);
        let e = ActionOrder::parse(&["drop", "pass", "alert"]).unwrap_err();
        assert!(e.contains("\"reject\" is missing"), "{e}");
        let e = ActionOrder::parse(&["drop", "drop", "pass", "alert"]).unwrap_err();
        assert!(e.contains("listed twice"), "{e}");
        let e = ActionOrder::parse(&["drop", "pass", "reject", "log"]).unwrap_err();
        assert!(e.contains("unknown action \"log\""), "{e}");
    }
}
