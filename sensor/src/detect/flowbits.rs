//! `flowbits`: named boolean marks on a flow that rules set and test.
//!
//! The state lives in the flow's `fired` list that the caller passes to
//! [`super::Engine::inspect`]: a set flowbit is the entry
//! `FLOWBIT_TAG | id`, where `id` is the bit's number in the loaded engine.
//! Transaction rule indices (the list's other entries) never have the tag
//! bit, so both share the list.

use super::threshold::OptError;

/// Marks a `fired` entry as a flowbit rather than a rule index.
pub const FLOWBIT_TAG: u32 = 0x8000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowbitCmd {
    Set,
    Unset,
    Toggle,
    /// True when any of the names is set (`a|b`).
    IsSet,
    IsNotSet,
}

impl FlowbitCmd {
    pub fn reads(self) -> bool {
        matches!(self, FlowbitCmd::IsSet | FlowbitCmd::IsNotSet)
    }
}

/// One `flowbits` option; `ids` is filled when the engine is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flowbit {
    pub cmd: FlowbitCmd,
    pub names: Vec<String>,
    pub ids: Vec<u32>,
}

/// What a `flowbits` option asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Op(Flowbit),
    /// `noalert`: the rule never produces an alert record.
    NoAlert,
}

/// Parses `cmd[,name]`.
pub fn parse(v: &str) -> Result<Parsed, OptError> {
    let (cmd, name) = match v.split_once(',') {
        Some((c, n)) => (c.trim(), Some(n.trim())),
        None => (v.trim(), None),
    };
    let cmd = match cmd {
        "noalert" => {
            return match name {
                None => Ok(Parsed::NoAlert),
                Some(_) => Err(OptError::Invalid("noalert takes no name".into())),
            }
        }
        "set" => FlowbitCmd::Set,
        "unset" => FlowbitCmd::Unset,
        "toggle" => FlowbitCmd::Toggle,
        "isset" => FlowbitCmd::IsSet,
        "isnotset" => FlowbitCmd::IsNotSet,
        other => {
            return Err(OptError::Invalid(format!(
                "unknown command `{other}` (set, unset, toggle, isset, isnotset, noalert)"
            )))
        }
    };
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| OptError::Invalid("flowbit name missing".into()))?;
    if name.contains('|') && !cmd.reads() {
        return Err(OptError::Unsupported(format!(
            "flowbits {name} (only isset and isnotset take a|b)"
        )));
    }
    // As Suricata: names are split on `|` and trimmed; empty pieces are
    // dropped; no white space inside a name.
    let names: Vec<String> = name
        .split('|')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() || names.iter().any(|n| n.chars().any(char::is_whitespace)) {
        return Err(OptError::Invalid(format!("bad flowbit name `{name}`")));
    }
    Ok(Parsed::Op(Flowbit {
        cmd,
        names,
        ids: Vec::new(),
    }))
}

pub fn is_set(state: &[u32], id: u32) -> bool {
    state.contains(&(FLOWBIT_TAG | id))
}

/// True when all read conditions hold.
pub fn check(bits: &[Flowbit], state: &[u32]) -> bool {
    bits.iter().all(|b| match b.cmd {
        FlowbitCmd::IsSet => b.ids.iter().any(|&id| is_set(state, id)),
        // `isnotset,a|b`: true when any of them is not set (Suricata).
        FlowbitCmd::IsNotSet => b.ids.iter().any(|&id| !is_set(state, id)),
        _ => true,
    })
}

/// Applies the set/unset/toggle operations of a matched rule.
pub fn apply(bits: &[Flowbit], state: &mut Vec<u32>) {
    for b in bits {
        for &id in &b.ids {
            let e = FLOWBIT_TAG | id;
            let pos = state.iter().position(|&x| x == e);
            match (b.cmd, pos) {
                (FlowbitCmd::Set, None) | (FlowbitCmd::Toggle, None) => state.push(e),
                (FlowbitCmd::Unset, Some(p)) | (FlowbitCmd::Toggle, Some(p)) => {
                    state.swap_remove(p);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(v: &str, ids: &[u32]) -> Flowbit {
        match parse(v).unwrap() {
            Parsed::Op(mut f) => {
                f.ids = ids.to_vec();
                f
            }
            Parsed::NoAlert => panic!("{v}"),
        }
    }

    #[test]
    fn parse_forms() {
        assert_eq!(parse("noalert"), Ok(Parsed::NoAlert));
        let f = op("isset, ET.a|ET.b", &[]);
        assert_eq!((f.cmd, f.names.len()), (FlowbitCmd::IsSet, 2));
        assert!(matches!(parse("set,a|b"), Err(OptError::Unsupported(_))));
        let f = op("isnotset, a | b |", &[]);
        assert_eq!((f.cmd, f.names.len()), (FlowbitCmd::IsNotSet, 2));
        assert!(matches!(parse("isset,|"), Err(OptError::Invalid(_))));
        assert!(matches!(parse("flip,a"), Err(OptError::Invalid(_))));
        assert!(matches!(parse("set"), Err(OptError::Invalid(_))));
        assert!(matches!(parse("set,a b"), Err(OptError::Invalid(_))));
    }

    #[test]
    fn set_check_toggle_unset() {
        let mut st = vec![3u32];
        let isset = [op("isset,x", &[1])];
        let notset = [op("isnotset,x", &[1])];
        assert!(!check(&isset, &st) && check(&notset, &st));
        apply(&[op("set,x", &[1])], &mut st);
        apply(&[op("set,x", &[1])], &mut st);
        assert_eq!(st, vec![3, FLOWBIT_TAG | 1]);
        assert!(check(&isset, &st) && !check(&notset, &st));
        apply(&[op("toggle,x", &[1])], &mut st);
        assert_eq!(st, vec![3]);
        apply(&[op("toggle,x", &[1])], &mut st);
        apply(&[op("unset,x", &[1])], &mut st);
        assert_eq!(st, vec![3]);
        let any = [op("isset,a|b", &[5, 6])];
        let any_not = [op("isnotset,a|b", &[5, 6])];
        assert!(!check(&any, &st) && check(&any_not, &st));
        apply(&[op("set,b", &[6])], &mut st);
        assert!(check(&any, &st) && check(&any_not, &st));
        apply(&[op("set,a", &[5])], &mut st);
        assert!(!check(&any_not, &st));
    }
}
