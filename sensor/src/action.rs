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
    /// Position in Suricata's default action order
    /// (`pass, drop, reject, alert`): lower runs first.
    pub fn order(self) -> u8 {
        match self {
            Action::Pass => 0,
            Action::Drop => 1,
            Action::Reject(_) => 2,
            Action::Alert => 3,
        }
    }

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
