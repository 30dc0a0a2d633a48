//! The daemon's log writer: standard error, except while a thread holds its
//! lines with [`Hold`]; they are then written together, with one `write`,
//! when the hold ends.
//!
//! The engine holds the `ban` lines of a read batch until the batch is in
//! the ban journal: a `kill -9` before that point rolls the batch back and
//! its events are judged again after the restart, so lines written earlier
//! would appear twice in the log. Holding them leaves only the single
//! `write` itself between the journal and the log.

use std::cell::RefCell;
use std::io::Write;

/// Held bytes beyond which the lines are written out early (bounded).
const MAX_HELD: usize = 8 << 20;

thread_local! {
    static HELD: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// `MakeWriter` for `tracing_subscriber::fmt().with_writer(...)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Writer;

    fn make_writer(&'a self) -> Writer {
        Writer
    }
}

/// Writes one formatted log event (see [`Stderr`]).
#[derive(Debug)]
pub struct Writer;

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let held = HELD.with(|h| {
            let Ok(mut h) = h.try_borrow_mut() else {
                return false;
            };
            let Some(v) = h.as_mut() else {
                return false;
            };
            v.extend_from_slice(buf);
            if v.len() > MAX_HELD {
                let out = std::mem::take(v);
                let _ = std::io::stderr().write_all(&out);
            }
            true
        });
        if held {
            Ok(buf.len())
        } else {
            std::io::stderr().write(buf)
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Holds this thread's log lines until dropped (nested holds join the
/// outer one).
#[derive(Debug)]
pub struct Hold {
    outer: bool,
}

impl Hold {
    pub fn start() -> Hold {
        let outer = HELD.with(|h| match h.try_borrow_mut() {
            Ok(mut h) if h.is_none() => {
                *h = Some(Vec::new());
                true
            }
            _ => false,
        });
        Hold { outer }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.outer {
            return;
        }
        let out = HELD.with(|h| h.try_borrow_mut().ok().and_then(|mut h| h.take()));
        if let Some(v) = out.filter(|v| !v.is_empty()) {
            let _ = std::io::stderr().write_all(&v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_lines_wait_for_the_end_of_the_hold() {
        let mut w = Writer;
        {
            let _h = Hold::start();
            let _inner = Hold::start();
            w.write_all(b"one\n").unwrap();
            w.write_all(b"two\n").unwrap();
            let held = HELD.with(|h| h.borrow().clone());
            assert_eq!(held.as_deref(), Some(&b"one\ntwo\n"[..]));
        }
        assert!(HELD.with(|h| h.borrow().is_none()));
    }
}
