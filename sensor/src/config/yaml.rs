//! Reading a Suricata YAML file (`suricata.yaml`) as Suricata does: into a
//! flat list of dotted keys with their scalar values, each with the line it
//! came from.
//!
//! The naming follows Suricata's configuration tree (what `--set` and
//! `--dump-config` use): mapping keys are joined with `.`, sequence items
//! are numbered from 0, and a sequence item that is a mapping also gets
//! the name of its first key as its value (`outputs.1 = eve-log`, then
//! `outputs.1.eve-log.enabled = yes`). Values stay text (`yes`, `1mb`):
//! their meaning depends on the key and is decided in [`super::keys`].

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One leaf of the configuration tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Dotted key, e.g. `vars.address-groups.HOME_NET`.
    pub key: String,
    /// The scalar's text; empty for a key without a value.
    pub value: String,
    /// 1-based line in the file (0 for `--set`).
    pub line: usize,
}

/// A YAML file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Whether `text` looks like a Suricata YAML file rather than Meerkat's
/// TOML: a `%YAML` directive or `---` marker, or a first significant line
/// of the form `key:` / `- item` (which TOML never has).
pub fn looks_like_yaml(text: &str) -> bool {
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with("%YAML") || t.starts_with("---") || t.starts_with("- ") {
            return true;
        }
        if t.starts_with('[') {
            return false;
        }
        let colon = t.find(':');
        let equals = t.find('=');
        return match (colon, equals) {
            (Some(c), Some(e)) => c < e,
            (Some(_), None) => true,
            _ => false,
        };
    }
    false
}

/// Flattens a YAML document into [`Entry`]s, in file order. Anchors and
/// aliases are resolved only for scalars (an alias of a mapping or sequence
/// is reported as an error, Suricata's own files don't use them).
pub fn flatten(text: &str) -> Result<Vec<Entry>, YamlError> {
    let mut f = Flattener::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut f, false) {
        let m = e.marker();
        return Err(YamlError {
            line: m.line(),
            col: m.col() + 1,
            message: e.info().to_string(),
        });
    }
    if let Some(err) = f.error {
        return Err(err);
    }
    Ok(f.out)
}

#[derive(Debug)]
enum Frame {
    Map {
        prefix: String,
        key: Option<String>,
        /// A mapping that is a sequence item: its first key names it.
        named_item: bool,
        first_key_seen: bool,
    },
    Seq {
        prefix: String,
        index: usize,
    },
}

#[derive(Debug, Default)]
struct Flattener {
    stack: Vec<Frame>,
    out: Vec<Entry>,
    /// Scalar values of anchors (`&name`), by anchor id.
    anchors: Vec<(usize, String)>,
    /// Only the first document is read.
    done: bool,
    error: Option<YamlError>,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Flattener {
    /// The key a new value (scalar or collection) goes under, advancing
    /// the parent frame. `None` when the value is a mapping key.
    fn slot(&mut self) -> Slot {
        match self.stack.last_mut() {
            None => Slot::Root,
            Some(Frame::Map { prefix, key, .. }) => match key.take() {
                None => Slot::Key,
                Some(k) => Slot::Value(join(prefix, &k)),
            },
            Some(Frame::Seq { prefix, index }) => {
                let k = join(prefix, &index.to_string());
                *index += 1;
                Slot::Value(k)
            }
        }
    }

    fn scalar(&mut self, value: String, line: usize) {
        match self.slot() {
            Slot::Root => {}
            Slot::Key => {
                if let Some(Frame::Map {
                    prefix,
                    key,
                    named_item,
                    first_key_seen,
                }) = self.stack.last_mut()
                {
                    if *named_item && !*first_key_seen {
                        self.out.push(Entry {
                            key: prefix.clone(),
                            value: value.clone(),
                            line,
                        });
                    }
                    *first_key_seen = true;
                    *key = Some(value);
                }
            }
            Slot::Value(key) => self.out.push(Entry { key, value, line }),
        }
    }

    fn open(&mut self, map: bool, line: usize) {
        let (prefix, in_seq) = match self.slot() {
            Slot::Root => (String::new(), false),
            Slot::Key => {
                self.fail(line, "a mapping or sequence used as a key is not supported");
                (String::new(), false)
            }
            Slot::Value(k) => {
                let in_seq = matches!(self.stack.last(), Some(Frame::Seq { .. }));
                (k, in_seq)
            }
        };
        self.stack.push(if map {
            Frame::Map {
                prefix,
                key: None,
                named_item: in_seq,
                first_key_seen: false,
            }
        } else {
            Frame::Seq { prefix, index: 0 }
        });
    }

    fn fail(&mut self, line: usize, message: &str) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line,
                col: 1,
                message: message.to_string(),
            });
        }
    }
}

enum Slot {
    Root,
    Key,
    Value(String),
}

impl MarkedEventReceiver for Flattener {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.done {
            return;
        }
        let line = mark.line();
        match ev {
            Event::Scalar(value, _style, anchor, _tag) => {
                if anchor > 0 {
                    self.anchors.push((anchor, value.clone()));
                }
                self.scalar(value, line);
            }
            Event::Alias(id) => match self.anchors.iter().find(|(a, _)| *a == id) {
                Some((_, v)) => {
                    let v = v.clone();
                    self.scalar(v, line);
                }
                None => self.fail(
                    line,
                    "alias of a mapping or sequence: not supported, write the values out",
                ),
            },
            Event::MappingStart(..) => self.open(true, line),
            Event::SequenceStart(..) => self.open(false, line),
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::DocumentEnd => self.done = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(text: &str) -> Vec<(String, String)> {
        flatten(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn flattens_like_suricata() {
        let y = "%YAML 1.1\n---\n\nvars:\n  address-groups:\n    HOME_NET: \"[10.0.0.0/8]\"\n\
                 rule-files:\n  - a.rules\n  - b.rules\noutputs:\n  - fast:\n      enabled: no\n\
                 \x20 - eve-log:\n      enabled: yes\n      types:\n        - alert:\n            payload: yes\n\
                 \x20       - flow\nempty:\n";
        assert_eq!(
            flat(y),
            vec![
                kv("vars.address-groups.HOME_NET", "[10.0.0.0/8]"),
                kv("rule-files.0", "a.rules"),
                kv("rule-files.1", "b.rules"),
                kv("outputs.0", "fast"),
                kv("outputs.0.fast.enabled", "no"),
                kv("outputs.1", "eve-log"),
                kv("outputs.1.eve-log.enabled", "yes"),
                kv("outputs.1.eve-log.types.0", "alert"),
                kv("outputs.1.eve-log.types.0.alert.payload", "yes"),
                kv("outputs.1.eve-log.types.1", "flow"),
                kv("empty", ""),
            ]
        );
    }

    #[test]
    fn lines_and_errors() {
        let e = flatten("a:\n  b: 1\n").unwrap();
        assert_eq!(e[0].line, 2);
        let err = flatten("a: [1,\nb: {\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
        assert!(flatten("x: &v 5\ny: *v\n").unwrap()[1].value == "5");
    }

    #[test]
    fn tells_yaml_from_toml() {
        assert!(looks_like_yaml("%YAML 1.1\n---\n"));
        assert!(looks_like_yaml("# c\nvars:\n  x: 1\n"));
        assert!(!looks_like_yaml("# c\n[vars.address]\nHOME_NET = \"x\"\n"));
        assert!(!looks_like_yaml("log_dir = \"/tmp\"\n"));
        assert!(!looks_like_yaml(""));
    }
}
