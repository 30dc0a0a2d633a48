//! The control socket: line-delimited JSON, one request and one response
//! per line. The socket is created with mode 0660.
//!
//! ```text
//! -> {"cmd":"ban","ip":"198.51.100.7","for":"2h","reason":"manual"}
//! <- {"ok":true,"data":{...}}
//! ```

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest accepted request line.
pub const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    Status,
    List,
    Ban {
        ip: String,
        #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
        duration: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Unban {
        ip: String,
    },
    Flush,
    Reload,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Response {
    pub fn ok(data: Value) -> Response {
        Response {
            ok: true,
            error: None,
            data: Some(data),
        }
    }

    pub fn err(msg: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(msg.into()),
            data: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot connect to the control socket {path}: {source} (is meerkat-dom running? give the socket with --socket or the config with -c)")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {path}: bad response: {why}")]
    BadResponse { path: PathBuf, why: String },
    #[error("control socket {path} is in use by a running meerkat-dom (stop it first)")]
    InUse { path: PathBuf },
}

/// Sends one request and waits for its response (client side, blocking).
pub fn request(path: &Path, req: &Request, timeout: Duration) -> Result<Response, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut s =
        std::os::unix::net::UnixStream::connect(path).map_err(|source| ControlError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_vec(req).map_err(|e| ControlError::BadResponse {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    line.push(b'\n');
    s.write_all(&line).map_err(io)?;
    let mut resp = Vec::new();
    BufReader::new(&s)
        .take(64 << 20)
        .read_until(b'\n', &mut resp)
        .map_err(io)?;
    serde_json::from_slice(&resp).map_err(|e| ControlError::BadResponse {
        path: path.to_path_buf(),
        why: if resp.is_empty() {
            "connection closed without a response".into()
        } else {
            e.to_string()
        },
    })
}

use std::io::Read as _;

/// Binds the socket (mode 0660), creating its directory and removing a
/// stale socket file left by a crashed daemon.
pub fn bind(path: &Path) -> Result<tokio::net::UnixListener, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ControlError::InUse {
                path: path.to_path_buf(),
            });
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    let l = tokio::net::UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io)?;
    Ok(l)
}

/// Serves one connection: each request line is answered by `handle`.
pub async fn serve_conn<F, Fut>(stream: tokio::net::UnixStream, handle: F)
where
    F: Fn(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    loop {
        let mut line = Vec::new();
        let n = match (&mut r)
            .take(MAX_REQUEST as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "control connection read failed");
                return;
            }
        };
        if n == 0 {
            return;
        }
        let resp = if line.len() > MAX_REQUEST {
            Response::err(format!("request longer than {MAX_REQUEST} bytes"))
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(req) => handle(req).await,
                Err(e) => Response::err(format!(
                    "bad request: {e} (expected e.g. {{\"cmd\":\"status\"}})"
                )),
            }
        };
        let mut out = serde_json::to_vec(&resp).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
        out.push(b'\n');
        if w.write_all(&out).await.is_err() {
            return;
        }
        if line.len() > MAX_REQUEST || !line.ends_with(b"\n") {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wire_format() {
        let r = Request::Ban {
            ip: "198.51.100.7".into(),
            duration: Some("2h".into()),
            reason: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"cmd":"ban","ip":"198.51.100.7","for":"2h"}"#
        );
        let back: Request = serde_json::from_str(r#"{"cmd":"unban","ip":"::1"}"#).unwrap();
        assert_eq!(back, Request::Unban { ip: "::1".into() });
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"explode"}"#).is_err());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn serves_over_a_real_socket() {
        let dir = std::env::temp_dir().join(format!("meerkat-ctl-{}", std::process::id()));
        let path = dir.join("dom.sock");
        let l = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        // A second daemon must not steal the socket.
        assert!(matches!(bind(&path), Err(ControlError::InUse { .. })));
        let server = tokio::spawn(async move {
            // The first connection is bind()'s liveness probe.
            for _ in 0..2 {
                let (s, _) = l.accept().await.unwrap();
                serve_conn(s, |req| async move {
                    match req {
                        Request::Status => Response::ok(serde_json::json!({"x":1})),
                        _ => Response::err("no"),
                    }
                })
                .await;
            }
        });
        let p2 = path.clone();
        let resp = tokio::task::spawn_blocking(move || {
            request(&p2, &Request::Status, Duration::from_secs(5))
        })
        .await
        .unwrap()
        .unwrap();
        assert!(resp.ok);
        assert_eq!(resp.data.unwrap()["x"], 1);
        server.await.unwrap();
        // The listener is gone: a stale socket file is replaced.
        assert!(bind(&path).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
