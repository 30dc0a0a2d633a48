//! Suricata's `tls-store` output: the server certificate chain of a TLS
//! flow on which a `tls.store` rule matched, written as one PEM file (every
//! certificate of the chain, base64 in 64-column lines) and a `.meta` text
//! file beside it, named like Suricata 7 names them:
//! `<secs>.<usecs>-<n>.pem` / `.meta`, from the time of the packet that
//! logged it and a counter from 1 over the whole run.
//!
//! As the EVE writer, the packet path only queues a [`CertJob`] on a
//! bounded channel (a full queue drops the job and counts it); one thread
//! writes the files, so a slow disk never holds a verdict.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use super::build::eve_ip;
use super::payload::base64;

/// Jobs waiting for the writer thread.
const QUEUE: usize = 256;

/// What one stored chain needs, copied out of the flow on the packet path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertJob {
    /// The logging packet's time.
    pub secs: i64,
    pub micros: u32,
    /// Its number in the pcap file (offline reading).
    pub pcap_cnt: Option<u64>,
    /// The client and the server (Suricata's `SRC`/`DST` in the meta file
    /// are the flow's, whatever the direction of the logging packet).
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    /// IP protocol number (6).
    pub proto: u8,
    /// The first certificate's subject, issuer and SHA-1 fingerprint.
    pub subject: String,
    pub issuer: String,
    pub fingerprint: String,
    /// The chain as DER, server certificate first.
    pub certs: Vec<Vec<u8>>,
}

/// Errors of the `tls-store` output at start-up.
#[derive(Debug, thiserror::Error)]
pub enum TlsStoreError {
    #[error("cannot create the tls-store directory {dir}: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the tls-store writer thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Counters of the output (read for the exit summary).
#[derive(Debug, Default)]
pub struct TlsStoreCounters {
    /// Chains written (a `.pem` and a `.meta`).
    pub written: AtomicU64,
    /// Jobs dropped: queue full or writer gone.
    pub dropped: AtomicU64,
    /// Files that could not be written.
    pub errors: AtomicU64,
}

/// The writer thread and its queue.
pub struct TlsStore {
    sender: TlsStoreSender,
    thread: Option<JoinHandle<()>>,
}

/// Cheap handle for the workers.
#[derive(Clone)]
pub struct TlsStoreSender {
    tx: Sender<Msg>,
    counters: Arc<TlsStoreCounters>,
}

enum Msg {
    Job(Box<CertJob>),
    Shutdown,
}

impl TlsStore {
    /// Creates `dir` if needed and starts the writer thread.
    ///
    /// # Errors
    /// The directory cannot be created, or the thread cannot start.
    pub fn start(dir: &Path) -> Result<TlsStore, TlsStoreError> {
        fs::create_dir_all(dir).map_err(|source| TlsStoreError::Dir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let (tx, rx) = bounded::<Msg>(QUEUE);
        let counters = Arc::new(TlsStoreCounters::default());
        let (dir, c) = (dir.to_path_buf(), counters.clone());
        let thread = std::thread::Builder::new()
            .name("tls-store".into())
            .spawn(move || run(&dir, &rx, &c))
            .map_err(TlsStoreError::Thread)?;
        Ok(TlsStore {
            sender: TlsStoreSender { tx, counters },
            thread: Some(thread),
        })
    }

    /// A handle for worker threads.
    pub fn sender(&self) -> TlsStoreSender {
        self.sender.clone()
    }

    /// The output's counters.
    pub fn counters(&self) -> Arc<TlsStoreCounters> {
        self.sender.counters.clone()
    }

    /// Writes every queued job and stops the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.sender.tx.send(Msg::Shutdown);
            if thread.join().is_err() {
                tracing::error!(
                    "tls-store writer thread panicked; some certificates were not written"
                );
            }
            let c = &self.sender.counters;
            tracing::info!(
                written = c.written.load(Ordering::Relaxed),
                dropped = c.dropped.load(Ordering::Relaxed),
                errors = c.errors.load(Ordering::Relaxed),
                "tls-store: certificate chains stored"
            );
        }
    }
}

impl Drop for TlsStore {
    fn drop(&mut self) {
        self.stop();
    }
}

impl TlsStoreSender {
    /// Queues a chain; never blocks. Returns false (counted) when the
    /// queue is full or the writer has stopped.
    pub fn send(&self, job: CertJob) -> bool {
        match self.tx.try_send(Msg::Job(Box::new(job))) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("tls-store queue full: certificate chain not stored");
                false
            }
        }
    }
}

fn run(dir: &Path, rx: &Receiver<Msg>, counters: &TlsStoreCounters) {
    let mut id: u64 = 0;
    while let Ok(Msg::Job(job)) = rx.recv() {
        id += 1;
        match write_job(dir, id, &job) {
            Ok(()) => {
                counters.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let n = counters.errors.fetch_add(1, Ordering::Relaxed);
                if n == 0 {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot write a tls-store file (further errors are only counted)");
                }
            }
        }
    }
}

/// `<secs>.<usecs>-<id>` (Suricata prints the microseconds without
/// padding: `%ld.%ld`).
pub fn file_stem(secs: i64, micros: u32, id: u64) -> String {
    format!("{secs}.{micros}-{id}")
}

fn write_job(dir: &Path, id: u64, job: &CertJob) -> std::io::Result<()> {
    let stem = file_stem(job.secs, job.micros, id);
    write_file(&dir.join(format!("{stem}.pem")), pem(&job.certs).as_bytes())?;
    write_file(&dir.join(format!("{stem}.meta")), meta(job).as_bytes())
}

fn write_file(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o640)
        .open(path)?;
    f.write_all(data)
}

/// The chain in PEM, one block per certificate.
pub fn pem(certs: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for der in certs {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b = base64(der);
        // Base64 is ASCII: splitting its bytes keeps valid UTF-8.
        for line in b.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// Suricata's `.meta` text (`LogTlsLogPem`): time, packet number (when
/// read from a pcap), addresses, protocol, ports, subject, issuer and
/// fingerprint of the server certificate.
pub fn meta(job: &CertJob) -> String {
    let stamp = meerkat_shared::time::eve_timestamp_parts(job.secs, job.micros);
    let mut m = format!("TIME:              {}\n", super::fast::fast_time(&stamp));
    if let Some(n) = job.pcap_cnt.filter(|&n| n > 0) {
        m.push_str(&format!("PCAP PKT NUM:      {n}\n"));
    }
    m.push_str(&format!(
        "SRC IP:            {}\nDST IP:            {}\nPROTO:             {}\n\
         SRC PORT:          {}\nDST PORT:          {}\n\
         TLS SUBJECT:       {}\nTLS ISSUERDN:      {}\nTLS FINGERPRINT:   {}\n",
        eve_ip(job.client.0),
        eve_ip(job.server.0),
        job.proto,
        job.client.1,
        job.server.1,
        job.subject,
        job.issuer,
        job.fingerprint
    ));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> CertJob {
        CertJob {
            secs: 1_425_669_142,
            micros: 426_157,
            pcap_cnt: Some(18),
            client: ("192.168.56.1".parse().unwrap(), 49366),
            server: ("192.168.56.101".parse().unwrap(), 443),
            proto: 6,
            subject: "C=FR, O=Stamus, CN=SELKS".into(),
            issuer: "C=FR, O=Stamus, CN=SELKS".into(),
            fingerprint: "3a:0b".into(),
            certs: vec![vec![0x30; 100], vec![0x31; 3]],
        }
    }

    #[test]
    fn names_pem_and_meta_as_suricata() {
        assert_eq!(file_stem(1_425_669_142, 426_157, 1), "1425669142.426157-1");
        // Suricata's %ld: no zero padding of the microseconds.
        assert_eq!(file_stem(1_425_669_142, 57, 12), "1425669142.57-12");
        let p = pem(&job().certs);
        assert_eq!(p.matches("-----BEGIN CERTIFICATE-----\n").count(), 2);
        assert_eq!(p.matches("-----END CERTIFICATE-----\n").count(), 2);
        // 100 bytes -> 136 base64 characters -> lines of 64, 64, 8.
        let lines: Vec<usize> = p.lines().map(str::len).collect();
        assert_eq!(lines, vec![27, 64, 64, 8, 25, 27, 4, 25]);
        let m = meta(&job());
        assert_eq!(
            m,
            "TIME:              03/06/2015-19:12:22.426157\n\
             PCAP PKT NUM:      18\n\
             SRC IP:            192.168.56.1\n\
             DST IP:            192.168.56.101\n\
             PROTO:             6\n\
             SRC PORT:          49366\n\
             DST PORT:          443\n\
             TLS SUBJECT:       C=FR, O=Stamus, CN=SELKS\n\
             TLS ISSUERDN:      C=FR, O=Stamus, CN=SELKS\n\
             TLS FINGERPRINT:   3a:0b\n"
        );
        let mut live = job();
        live.pcap_cnt = None;
        assert!(!meta(&live).contains("PCAP PKT NUM"));
    }

    #[test]
    fn writer_numbers_files_from_one() {
        let dir = std::env::temp_dir().join(format!("meerkat-tls-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = TlsStore::start(&dir.join("certs")).expect("start");
        let s = store.sender();
        assert!(s.send(job()));
        let mut second = job();
        second.micros = 9;
        assert!(s.send(second));
        let counters = store.counters();
        store.shutdown();
        assert_eq!(counters.written.load(Ordering::Relaxed), 2);
        let mut names: Vec<String> = fs::read_dir(dir.join("certs"))
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                "1425669142.426157-1.meta",
                "1425669142.426157-1.pem",
                "1425669142.9-2.meta",
                "1425669142.9-2.pem"
            ]
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
