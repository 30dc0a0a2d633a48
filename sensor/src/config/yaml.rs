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

/// An [`Entry`] with the file it came from (includes pull in others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub entry: Entry,
    pub file: String,
}

/// Most nested `include`s followed (a loop ends with an error).
const MAX_INCLUDE_DEPTH: usize = 8;

/// [`flatten`] plus Suricata's `include: FILE` (or a list of files), at the
/// top level or under any key: the included file's settings are spliced in
/// at that point under that key, so later settings of the including file
/// override them. Relative file names are taken from `base_dir` (the
/// directory of the top-level configuration file, as Suricata does).
pub fn flatten_with_includes(
    text: &str,
    origin: &str,
    base_dir: &std::path::Path,
) -> Result<Vec<FileEntry>, (String, YamlError)> {
    let mut out = Vec::new();
    splice(text, origin, base_dir, "", 0, &mut out)?;
    Ok(out)
}

fn splice(
    text: &str,
    origin: &str,
    base_dir: &std::path::Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<FileEntry>,
) -> Result<(), (String, YamlError)> {
    let entries = flatten(text).map_err(|e| (origin.to_string(), e))?;
    for e in entries {
        if let Some(under) = include_prefix(&e.key) {
            if e.value.is_empty() {
                continue; // `include:` opening a list of files
            }
            let fail = |message: String| {
                (
                    origin.to_string(),
                    YamlError {
                        line: e.line,
                        col: 1,
                        message,
                    },
                )
            };
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(fail(format!(
                    "include {}: more than {MAX_INCLUDE_DEPTH} nested includes (a loop?)",
                    e.value
                )));
            }
            let path = base_dir.join(&e.value);
            let inc = std::fs::read_to_string(&path).map_err(|err| {
                fail(format!(
                    "cannot read included file {}: {err}",
                    path.display()
                ))
            })?;
            let full = join(prefix, under);
            splice(
                &inc,
                &path.display().to_string(),
                base_dir,
                &full,
                depth + 1,
                out,
            )?;
            continue;
        }
        out.push(FileEntry {
            entry: Entry {
                key: join(prefix, &e.key),
                value: e.value,
                line: e.line,
            },
            file: origin.to_string(),
        });
    }
    Ok(())
}

/// For `include`, `x.include`, `include.0`, `x.include.1`: the key the
/// included settings go under (`""` or `x`).
fn include_prefix(key: &str) -> Option<&str> {
    let k = match key.rsplit_once('.') {
        Some((head, last)) if last.parse::<usize>().is_ok() => head,
        _ => key,
    };
    if k == "include" {
        Some("")
    } else {
        k.strip_suffix(".include")
    }
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
    fn includes_are_spliced_in_place() {
        let dir = std::env::temp_dir().join(format!("meerkat-yinc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("base.yaml"), "%YAML 1.1\n---\na: 1\nb:\n  c: 2\n").unwrap();
        std::fs::write(dir.join("sub.yaml"), "x: 9\n").unwrap();
        std::fs::write(dir.join("loop.yaml"), "include: loop.yaml\n").unwrap();
        let main = "include: base.yaml\na: 3\nnode:\n  include:\n    - sub.yaml\n";
        let got: Vec<(String, String)> = flatten_with_includes(main, "m.yaml", &dir)
            .unwrap()
            .into_iter()
            .map(|f| (f.entry.key, f.entry.value))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b.c".to_string(), "2".to_string()),
                ("a".to_string(), "3".to_string()),
                ("node.x".to_string(), "9".to_string()),
            ]
        );
        let (file, err) =
            flatten_with_includes("include: nope.yaml\n", "m.yaml", &dir).unwrap_err();
        assert_eq!(file, "m.yaml");
        assert!(err.message.contains("nope.yaml"), "{err:?}");
        let (_, err) = flatten_with_includes("include: loop.yaml\n", "m.yaml", &dir).unwrap_err();
        assert!(err.message.contains("nested includes"), "{err:?}");
        std::fs::remove_dir_all(&dir).ok();
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
