//! One topic's archive (T-032..T-036): the consumer's messages are appended to the current
//! file, synced in batches, and only then FINed; files are rotated, closed and moved out of
//! the work dir.
//!
//! Any file error is fatal (logged, exit 1), as in the reference: messages not yet FINed are
//! then redelivered by nsqd, so nothing is lost.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use flate2::write::GzEncoder;
use flate2::Compression;
use nsq_client::{Consumer, Message};
use tokio::sync::mpsc;

use super::app_log::AppLog;
use super::file_name::{self, LocalTime};
use super::options::Options;

/// What the discoverer tells a running logger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: sync and close the current file; the next one opens on demand.
    Hup,
    /// SIGINT/SIGTERM: stop consuming, sync everything received, close, end.
    Term,
}

/// go-nsq's starvation rule: a connection whose in-flight count reached 85% of its RDY.
const STARVED_RATIO: f64 = 0.85;

enum Sink {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

struct OutFile {
    path: PathBuf,
    sink: Sink,
}

pub struct FileLogger {
    topic: String,
    opts: Arc<Options>,
    log: Arc<AppLog>,
    /// The per-topic name template (`<DATETIME>` and maybe `<REV>` still open).
    template: String,
    out: Option<OutFile>,
    /// The name of the current file with `<DATETIME>` filled in and `<REV>` open.
    filename: String,
    open_time: Instant,
    /// Bytes in the file when opened plus the bytes written since (uncompressed with gzip).
    filesize: i64,
    rev: u32,
}

impl FileLogger {
    pub fn new(topic: &str, template: String, opts: Arc<Options>, log: Arc<AppLog>) -> Self {
        FileLogger {
            topic: topic.to_string(),
            opts,
            log,
            template,
            out: None,
            filename: String::new(),
            open_time: Instant::now(),
            filesize: 0,
            rev: 0,
        }
    }

    /// Consumes until stopped: writes each message, syncs on the sync-interval tick, when
    /// max-in-flight messages wait, or when the consumer is starved, and FINs only what a
    /// sync has made durable.
    pub async fn run(mut self, consumer: Consumer, mut control: mpsc::UnboundedReceiver<Control>) {
        let batch = self.opts.max_in_flight.max(1) as usize;
        let mut pending: Vec<Message> = Vec::with_capacity(batch);
        let period = self.opts.sync_interval;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping = false;
        loop {
            let mut sync = false;
            let mut close = false;
            let mut exit = false;
            tokio::select! {
                msg = consumer.recv() => match msg {
                    Some(msg) => {
                        if self.needs_rotation() {
                            self.blocking(|f| f.update_file());
                            sync = true;
                        }
                        self.write_message(&msg.body);
                        pending.push(msg);
                        if pending.len() >= batch {
                            sync = true;
                        }
                    }
                    None => {
                        sync = true;
                        close = true;
                        exit = true;
                    }
                },
                ctl = control.recv(), if !stopping => match ctl {
                    Some(Control::Hup) => {
                        sync = true;
                        close = true;
                    }
                    Some(Control::Term) | None => {
                        consumer.stop();
                        stopping = true;
                        sync = true;
                    }
                },
                _ = ticker.tick(), if !stopping => {
                    if self.needs_rotation() {
                        if self.opts.skip_empty_files {
                            close = true;
                        } else {
                            self.blocking(|f| f.update_file());
                        }
                    }
                    sync = true;
                }
            }
            // While stopping, every message must be answered for the connections to close.
            if (sync || stopping || starved(&consumer, &pending)) && !pending.is_empty() {
                self.log.info(format_args!(
                    "[{}/{}] syncing {} records to disk",
                    self.topic,
                    self.opts.channel,
                    pending.len()
                ));
                self.blocking(|f| f.sync());
                for msg in pending.drain(..) {
                    msg.finish();
                }
            }
            if close {
                self.blocking(|f| f.close());
            }
            if exit {
                break;
            }
        }
    }

    /// Runs file work that may block (fsync) without stalling the runtime's other tasks.
    fn blocking(&mut self, work: impl FnOnce(&mut Self)) {
        tokio::task::block_in_place(|| work(self));
    }

    fn fatal(&self, what: std::fmt::Arguments<'_>) -> ! {
        self.log.fatal(format_args!(
            "[{}/{}] {what}",
            self.topic, self.opts.channel
        ))
    }

    fn current_filename(&self) -> String {
        let datetime = file_name::strftime(&self.opts.datetime_format, &LocalTime::now());
        file_name::with_datetime(&self.template, &datetime)
    }

    fn needs_rotation(&self) -> bool {
        let Some(out) = &self.out else {
            return true;
        };
        let filename = self.current_filename();
        if filename != self.filename {
            self.log.info(format_args!(
                "[{}/{}] new filename {filename}, rotating...",
                self.topic, self.opts.channel
            ));
            return true;
        }
        let interval = self.opts.rotate_interval;
        if !interval.is_zero() {
            let since = self.open_time.elapsed();
            if since > interval {
                self.log.info(format_args!(
                    "[{}/{}] {} since last open, rotating...",
                    self.topic,
                    self.opts.channel,
                    nsq_common::duration::format_go_duration(since)
                ));
                return true;
            }
        }
        if self.opts.rotate_size > 0 && self.filesize > self.opts.rotate_size {
            self.log.info(format_args!(
                "[{}/{}] {} currently {} bytes (> {}), rotating...",
                self.topic,
                self.opts.channel,
                out.path.display(),
                self.filesize,
                self.opts.rotate_size
            ));
            return true;
        }
        false
    }

    fn write_message(&mut self, body: &[u8]) {
        let Some(out) = &mut self.out else {
            self.fatal(format_args!("writing message to disk: no open file"));
        };
        let result = match &mut out.sink {
            Sink::Plain(w) => w.write_all(body).and_then(|()| w.write_all(b"\n")),
            Sink::Gzip(w) => w.write_all(body).and_then(|()| w.write_all(b"\n")),
        };
        if let Err(e) = result {
            self.fatal(format_args!("writing message to disk: {e}"));
        }
        self.filesize += body.len() as i64 + 1;
    }

    /// Makes everything written so far durable. With gzip the current member is finished and
    /// a new one started, so the file stays a valid concatenation of members.
    fn sync(&mut self) {
        let Some(out) = self.out.take() else {
            return;
        };
        let level = self.opts.gzip_level;
        let result = (|| -> io::Result<OutFile> {
            let sink = match out.sink {
                Sink::Plain(mut w) => {
                    w.flush()?;
                    w.get_ref().sync_all()?;
                    Sink::Plain(w)
                }
                Sink::Gzip(enc) => {
                    let mut w = enc.finish()?;
                    w.flush()?;
                    w.get_ref().sync_all()?;
                    Sink::Gzip(GzEncoder::new(w, Compression::new(level)))
                }
            };
            Ok(OutFile {
                path: out.path,
                sink,
            })
        })();
        match result {
            Ok(out) => self.out = Some(out),
            Err(e) => self.fatal(format_args!("failed syncing messages: {e}")),
        }
    }

    /// Flushes (ending the gzip member), fsyncs and closes the current file, then moves it to
    /// the output dir when a separate work dir is used.
    fn close(&mut self) {
        let Some(out) = self.out.take() else {
            return;
        };
        let (file, what) = match out.sink {
            Sink::Plain(w) => (w.into_inner().map_err(|e| e.into_error()), "output file"),
            Sink::Gzip(enc) => (
                enc.finish()
                    .and_then(|w| w.into_inner().map_err(|e| e.into_error())),
                "GZIP writer",
            ),
        };
        let file = match file {
            Ok(f) => f,
            Err(e) => self.fatal(format_args!("failed to close {what}: {e}")),
        };
        if let Err(e) = file.sync_all() {
            self.fatal(format_args!("failed to fsync output file: {e}"));
        }
        drop(file);
        if self.opts.work_dir != self.opts.output_dir {
            self.move_to_output(&out.path);
        }
    }

    /// Hard-links the finished file into the output dir and unlinks it from the work dir; a
    /// name already taken there gets the next free revision.
    fn move_to_output(&self, src: &Path) {
        let rel = self.relative(&file_name::with_rev(&self.filename, self.rev));
        let dst = Path::new(&self.opts.output_dir).join(&rel);
        self.log.info(format_args!(
            "[{}/{}] moving finished file {} to {}",
            self.topic,
            self.opts.channel,
            src.display(),
            dst.display()
        ));
        match exclusive_rename(src, &dst) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => self.fatal(format_args!(
                "unable to move file from {} to {}: {e}",
                src.display(),
                dst.display()
            )),
        }
        let mut rev = self.rev;
        loop {
            rev += 1;
            let dst = Path::new(&self.opts.output_dir)
                .join(self.relative(&file_name::with_rev(&self.filename, rev)));
            match exclusive_rename(src, &dst) {
                Ok(()) => {
                    self.log.info(format_args!(
                        "[{}/{}] renamed finished file {} to {} to avoid overwrite",
                        self.topic,
                        self.opts.channel,
                        src.display(),
                        dst.display()
                    ));
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.log.warn(format_args!(
                        "[{}/{}] destination file already exists: {}",
                        self.topic,
                        self.opts.channel,
                        dst.display()
                    ));
                }
                Err(e) => self.fatal(format_args!(
                    "unable to rename file from {} to {}: {e}",
                    src.display(),
                    dst.display()
                )),
            }
        }
    }

    /// A file name as a path relative to the work or output dir (a leading `/` in the format
    /// does not escape the directory, as with Go's `path.Join`).
    fn relative(&self, name: &str) -> PathBuf {
        PathBuf::from(name.trim_start_matches('/'))
    }

    /// Closes the current file and opens the next: revision 0 for a new name, the next
    /// revision for the same name, skipping names already taken (exclusive mode), present in
    /// the output dir, or already over the rotate size.
    fn update_file(&mut self) {
        self.close();
        let filename = self.current_filename();
        if filename != self.filename {
            self.rev = 0;
        } else {
            self.rev += 1;
        }
        self.filename = filename;
        self.open_time = Instant::now();
        let separate_work_dir = self.opts.work_dir != self.opts.output_dir;
        let exclusive = self.opts.gzip || !self.opts.rotate_interval.is_zero();
        loop {
            let rel = self.relative(&file_name::with_rev(&self.filename, self.rev));
            let path = Path::new(&self.opts.work_dir).join(&rel);
            if let Err(e) = make_parent_dirs(&path) {
                self.fatal(format_args!("unable to create dir: {e}"));
            }
            if separate_work_dir {
                let output = Path::new(&self.opts.output_dir).join(&rel);
                if let Err(e) = make_parent_dirs(&output) {
                    self.fatal(format_args!("unable to create dir: {e}"));
                }
                match std::fs::symlink_metadata(&output) {
                    Ok(_) => {
                        self.log.warn(format_args!(
                            "[{}/{}] output file already exists: {}",
                            self.topic,
                            self.opts.channel,
                            output.display()
                        ));
                        self.rev += 1;
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => self.fatal(format_args!(
                        "unable to stat output file {}: {e}",
                        output.display()
                    )),
                }
            }
            let mut open = OpenOptions::new();
            open.write(true);
            if exclusive {
                open.create_new(true);
            } else {
                open.create(true).append(true);
            }
            let file = match open.open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.log.warn(format_args!(
                        "[{}/{}] working file already exists: {}",
                        self.topic,
                        self.opts.channel,
                        path.display()
                    ));
                    self.rev += 1;
                    continue;
                }
                Err(e) => self.fatal(format_args!("unable to open {}: {e}", path.display())),
            };
            self.log.info(format_args!(
                "[{}/{}] opening {}",
                self.topic,
                self.opts.channel,
                path.display()
            ));
            let size = match file.metadata() {
                Ok(m) => m.len() as i64,
                Err(e) => self.fatal(format_args!("unable to stat file {}: {e}", path.display())),
            };
            self.filesize = size;
            if self.opts.rotate_size > 0 && size > self.opts.rotate_size {
                self.log.info(format_args!(
                    "[{}/{}] {} currently {size} bytes (> {}), rotating...",
                    self.topic,
                    self.opts.channel,
                    path.display(),
                    self.opts.rotate_size
                ));
                self.rev += 1;
                continue;
            }
            let w = BufWriter::with_capacity(64 * 1024, file);
            let sink = if self.opts.gzip {
                Sink::Gzip(GzEncoder::new(w, Compression::new(self.opts.gzip_level)))
            } else {
                Sink::Plain(w)
            };
            self.out = Some(OutFile { path, sink });
            return;
        }
    }
}

/// True when some connection's unanswered messages reached 85% of its RDY count, so nsqd
/// will send nothing more there until we answer (go-nsq's `IsStarved`). Everything pending
/// is unanswered, so counting the pending messages per nsqd gives the in-flight counts.
fn starved(consumer: &Consumer, pending: &[Message]) -> bool {
    if pending.is_empty() {
        return false;
    }
    consumer.connections().iter().any(|(addr, rdy)| {
        let in_flight = pending.iter().filter(|m| m.nsqd_address == *addr).count() as i64;
        // The threshold is truncated, as go-nsq converts it to an integer.
        in_flight > 0 && in_flight >= (*rdy as f64 * STARVED_RATIO) as i64
    })
}

fn make_parent_dirs(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o770)
            .create(dir),
        _ => Ok(()),
    }
}

/// A move that never overwrites: link to the new name (fails if taken), then unlink.
fn exclusive_rename(src: &Path, dst: &Path) -> io::Result<()> {
    std::fs::hard_link(src, dst)?;
    std::fs::remove_file(src)
}
