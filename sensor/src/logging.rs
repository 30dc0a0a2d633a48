//! The engine log file (Suricata's `logging.outputs.N.file`): besides
//! stderr, the sensor's own messages can go to a file in the log directory,
//! as text or as JSON lines in Suricata's format
//! (`{"timestamp":..,"log_level":"Error","event_type":"engine","engine":{"message":..}}`).
//!
//! [`EngineLogLayer`] is installed with the tracing subscriber at start-up
//! and writes nothing until [`open`] is called once the configuration (and
//! so the file name and the log directory) is known.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

struct Sink {
    file: File,
    json: bool,
    /// Most verbose level written.
    max: Level,
}

static SINK: OnceLock<Mutex<Sink>> = OnceLock::new();

/// Opens (appends to) the engine log. `level` is Suricata's threshold
/// (`error`, `warning`, `notice`, `info`, `config`, `perf`, `debug`).
pub fn open(path: &Path, json: bool, level: &str) -> std::io::Result<()> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let max = match level.to_ascii_lowercase().as_str() {
        "error" | "critical" | "alert" | "emergency" => Level::ERROR,
        "warning" => Level::WARN,
        "notice" | "info" | "" => Level::INFO,
        _ => Level::DEBUG,
    };
    let _ = SINK.set(Mutex::new(Sink { file, json, max }));
    Ok(())
}

/// Writes an error that ends the program (main's last word) to the engine
/// log, if one is open.
pub fn fatal(message: &str) {
    write(Level::ERROR, message);
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "Error",
        Level::WARN => "Warning",
        Level::INFO => "Notice",
        Level::DEBUG => "Debug",
        Level::TRACE => "Debug",
    }
}

fn write(level: Level, message: &str) {
    let Some(sink) = SINK.get() else {
        return;
    };
    let Ok(mut s) = sink.lock() else {
        return;
    };
    if level > s.max {
        return;
    }
    let now = crate::packet::Timestamp::now();
    let line = if s.json {
        let v = serde_json::json!({
            "timestamp": now.to_eve(),
            "log_level": level_name(level),
            "event_type": "engine",
            "engine": { "thread_name": "Meerkat-Main", "message": message },
        });
        format!("{v}\n")
    } else {
        format!(
            "[{}] - <{}> - {}\n",
            now.to_eve(),
            level_name(level),
            message
        )
    };
    let _ = s.file.write_all(line.as_bytes());
}

/// The tracing layer that copies events to the engine log.
pub struct EngineLogLayer;

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for EngineLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if SINK.get().is_none() {
            return;
        }
        let mut m = Message::default();
        event.record(&mut m);
        write(*event.metadata().level(), m.0.trim_start());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_in_suricatas_shape() {
        let dir = std::env::temp_dir().join(format!("meerkat-englog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("suricata.json");
        open(&p, true, "notice").unwrap();
        fatal("bad \"policy\"");
        write(Level::DEBUG, "not written");
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["event_type"], "engine");
        assert_eq!(v["log_level"], "Error");
        assert_eq!(v["engine"]["message"], "bad \"policy\"");
        std::fs::remove_dir_all(&dir).ok();
    }
}
