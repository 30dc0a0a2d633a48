//! Saved stream positions: `fleet-cursor.json` (the `<prefix>:bans`
//! stream) and `input-cursor.json` (`[input] redis`), each naming its key
//! so a changed prefix or key starts afresh instead of using a foreign id.
//! Written by the engine after the batch up to that id was applied (a
//! crash replays, never skips; applying twice is harmless).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fleet::wire::StreamId;

pub const FLEET: &str = "fleet-cursor.json";
pub const INPUT: &str = "input-cursor.json";

#[derive(Serialize, Deserialize)]
struct Saved {
    key: String,
    id: String,
}

/// The saved id for `key`, if any (a file for another key is ignored).
pub fn load(dir: &Path, file: &str, key: &str) -> Option<StreamId> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    let s: Saved = serde_json::from_str(&text).ok()?;
    if s.key != key {
        tracing::warn!(saved = %s.key, now = %key, "saved stream cursor is for another key; starting afresh");
        return None;
    }
    s.id.parse().ok()
}

/// Writes through a temporary file and a rename.
pub fn save(dir: &Path, file: &str, key: &str, id: StreamId) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{file}.tmp"));
    let s = Saved {
        key: key.to_string(),
        id: id.to_string(),
    };
    std::fs::write(&tmp, serde_json::to_vec(&s).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, dir.join(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_per_key() {
        let d = std::env::temp_dir().join(format!("mk-cursor-{}", std::process::id()));
        let id = StreamId { ms: 42, seq: 7 };
        save(&d, FLEET, "mk:bans", id).unwrap();
        assert_eq!(load(&d, FLEET, "mk:bans"), Some(id));
        assert_eq!(load(&d, FLEET, "other:bans"), None);
        assert_eq!(load(&d, INPUT, "mk:bans"), None);
        let _ = std::fs::remove_dir_all(&d);
    }
}
