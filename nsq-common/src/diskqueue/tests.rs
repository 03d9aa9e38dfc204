use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;

use super::*;

fn config(dir: &Path, max_bytes_per_file: i64) -> DiskQueueConfig {
    DiskQueueConfig {
        name: "q".to_string(),
        data_path: dir.to_path_buf(),
        max_bytes_per_file,
        min_msg_size: 1,
        max_msg_size: 1024 * 1024,
        sync_every: 1_000_000,
        // No timer thread: tests drive syncs explicitly.
        sync_timeout: Duration::ZERO,
    }
}

fn open(dir: &Path, max_bytes_per_file: i64) -> DiskQueue {
    DiskQueue::open(config(dir, max_bytes_per_file)).unwrap()
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn data(num: i64) -> String {
    format!("q.diskqueue.{num:06}.dat")
}

const META: &str = "q.diskqueue.meta.dat";

fn meta_text(dir: &Path) -> String {
    fs::read_to_string(dir.join(META)).unwrap()
}

fn file_len(dir: &Path, name: &str) -> u64 {
    fs::metadata(dir.join(name)).unwrap().len()
}

fn rec(i: usize) -> Vec<u8> {
    format!("rec-{i}").into_bytes()
}

/// 10-byte records, 14 bytes on disk.
fn rec10(i: usize) -> Vec<u8> {
    format!("record-{i:03}").into_bytes()
}

fn read_all(dq: &DiskQueue) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| dq.try_read().map(|b| b.to_vec())).collect()
}

#[test]
fn file_layout_and_metadata_are_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    dq.put(b"a").unwrap();
    dq.put(b"bc").unwrap();
    dq.put(b"def").unwrap();
    assert_eq!(dq.depth(), 3);
    assert_eq!(
        fs::read(dir.path().join(data(0))).unwrap(),
        b"\0\0\0\x01a\0\0\0\x02bc\0\0\0\x03def"
    );
    // Nothing synced yet.
    assert_eq!(files(dir.path()), vec![data(0)]);
    dq.sync().unwrap();
    assert_eq!(meta_text(dir.path()), "3\n0,0\n0,18\n");
    // The temp file was renamed away.
    assert_eq!(files(dir.path()), vec![data(0), META.to_string()]);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in [data(0), META.to_string()] {
            let mode = fs::metadata(dir.path().join(&name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
}

#[test]
fn metadata_matches_spec_examples() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    dq.sync().unwrap();
    assert_eq!(meta_text(dir.path()), "0\n0,0\n0,0\n");
    assert_eq!(file_len(dir.path(), META), 10);
    // Seven records totalling 226 bytes with their length prefixes.
    for size in [28, 28, 28, 28, 28, 28, 30] {
        dq.put(&vec![b'x'; size]).unwrap();
    }
    dq.close().unwrap();
    assert_eq!(meta_text(dir.path()), "7\n0,0\n0,226\n");
}

#[test]
fn rollover_never_splits_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 30);
    for i in 0..3 {
        dq.put(&rec10(i)).unwrap();
    }
    // 28 + 14 would exceed 30, so the third record starts file 1.
    assert_eq!(file_len(dir.path(), &data(0)), 28);
    assert_eq!(file_len(dir.path(), &data(1)), 14);
    // Rollover synced: the metadata already names file 1.
    assert_eq!(meta_text(dir.path()), "3\n0,0\n1,14\n");

    // Bigger than a whole file: written alone in a fresh one.
    let big = vec![b'B'; 40];
    dq.put(&big).unwrap();
    dq.put(&rec10(3)).unwrap();
    assert_eq!(file_len(dir.path(), &data(2)), 44);
    assert_eq!(file_len(dir.path(), &data(3)), 14);

    let expected = vec![rec10(0), rec10(1), rec10(2), big, rec10(3)];
    assert_eq!(read_all(&dq), expected);
    assert_eq!(dq.depth(), 0);
    // Every consumed file is gone; the write file stays.
    assert_eq!(files(dir.path()), vec![data(3), META.to_string()]);
    dq.close().unwrap();
    assert_eq!(meta_text(dir.path()), "0\n3,14\n3,14\n");
}

#[test]
fn oversized_first_record_does_not_roll_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 30);
    dq.put(&[b'B'; 40]).unwrap();
    assert_eq!(files(dir.path()), vec![data(0)]);
    assert_eq!(file_len(dir.path(), &data(0)), 44);
}

#[test]
fn put_batch_matches_single_puts() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 30);
    let records: Vec<Vec<u8>> = (0..5).map(rec10).collect();
    let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
    dq.put_batch(&refs).unwrap();
    assert_eq!(dq.depth(), 5);
    assert_eq!(
        files(dir.path()),
        vec![data(0), data(1), data(2), META.to_string()]
    );
    assert_eq!(file_len(dir.path(), &data(0)), 28);
    assert_eq!(file_len(dir.path(), &data(1)), 28);
    assert_eq!(file_len(dir.path(), &data(2)), 14);
    let mut expected = Vec::new();
    for r in &records {
        expected.extend_from_slice(&(r.len() as u32).to_be_bytes());
        expected.extend_from_slice(r);
    }
    let mut on_disk = Vec::new();
    for n in 0..3 {
        on_disk.extend(fs::read(dir.path().join(data(n))).unwrap());
    }
    assert_eq!(on_disk, expected);
    assert_eq!(read_all(&dq), records);
}

#[test]
fn size_limits_give_go_error_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20);
    cfg.min_msg_size = 26;
    cfg.max_msg_size = 1000;
    let dq = DiskQueue::open(cfg).unwrap();
    let err = dq.put(&[0; 25]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid message write size (25) minMsgSize=26 maxMsgSize=1000"
    );
    let err = dq.put(&[0; 1001]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid message write size (1001) minMsgSize=26 maxMsgSize=1000"
    );
    // One bad size in a batch writes nothing at all.
    let ok = [0u8; 26];
    let bad = [0u8; 1];
    assert!(dq.put_batch(&[&ok, &bad]).is_err());
    assert_eq!(dq.depth(), 0);
    assert!(files(dir.path()).is_empty());
    dq.put(&[0; 26]).unwrap();
    dq.put(&[0; 1000]).unwrap();
    assert_eq!(dq.depth(), 2);
}

#[test]
fn reopen_after_close_resumes_where_the_reader_was() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    for i in 0..5 {
        dq.put(&rec(i)).unwrap();
    }
    assert_eq!(dq.try_read().unwrap(), rec(0));
    assert_eq!(dq.try_read().unwrap(), rec(1));
    dq.close().unwrap();
    // Records 2..5 were read ahead but not handed over: still pending.
    assert_eq!(meta_text(dir.path()), "3\n0,18\n0,45\n");
    assert!(dq.try_read().is_none());
    assert_eq!(dq.put(b"late").unwrap_err().to_string(), "exiting");
    assert!(matches!(dq.close(), Err(DiskQueueError::Exiting)));
    drop(dq);

    let dq = open(dir.path(), 1 << 20);
    assert_eq!(dq.depth(), 3);
    assert_eq!(read_all(&dq), vec![rec(2), rec(3), rec(4)]);
    assert_eq!(dq.depth(), 0);
    dq.put(&rec(5)).unwrap();
    assert_eq!(read_all(&dq), vec![rec(5)]);
    dq.close().unwrap();
    assert_eq!(meta_text(dir.path()), "0\n0,54\n0,54\n");
}

#[test]
fn crash_with_unsynced_writes_continues_in_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    for i in 0..3 {
        dq.put(&rec(i)).unwrap();
    }
    dq.sync().unwrap();
    dq.put(&rec(3)).unwrap();
    dq.put(&rec(4)).unwrap();
    drop(dq); // no close: metadata still says 3 records, writePos 27
    assert_eq!(meta_text(dir.path()), "3\n0,0\n0,27\n");
    assert_eq!(file_len(dir.path(), &data(0)), 45);

    let dq = open(dir.path(), 1 << 20);
    // The two unsynced records are found and counted.
    assert_eq!(dq.depth(), 5);
    dq.put(b"new-0").unwrap();
    // The old write file is left intact; writing went to file 1.
    assert_eq!(file_len(dir.path(), &data(0)), 45);
    assert_eq!(
        fs::read(dir.path().join(data(1))).unwrap(),
        b"\0\0\0\x05new-0"
    );
    let expected = vec![rec(0), rec(1), rec(2), rec(3), rec(4), b"new-0".to_vec()];
    assert_eq!(read_all(&dq), expected);
    assert_eq!(dq.depth(), 0);
    assert!(!files(dir.path()).iter().any(|f| f.ends_with(".bad")));
    dq.close().unwrap();
    assert_eq!(files(dir.path()), vec![data(1), META.to_string()]);
    assert_eq!(meta_text(dir.path()), "0\n1,9\n1,9\n");
}

#[test]
fn reader_that_caught_up_follows_a_rollover_without_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 30);
    dq.put(&rec10(0)).unwrap();
    assert_eq!(dq.try_read().unwrap(), rec10(0));
    dq.put(&rec10(1)).unwrap();
    assert_eq!(dq.try_read().unwrap(), rec10(1));
    assert!(dq.try_read().is_none());
    dq.put(&rec10(2)).unwrap(); // rolls to file 1
    assert_eq!(dq.try_read().unwrap(), rec10(2));
    assert_eq!(dq.depth(), 0);
    assert_eq!(files(dir.path()), vec![data(1), META.to_string()]);
}

#[test]
fn consumed_files_are_deleted_as_their_last_record_is_handed_over() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 30);
    for i in 0..6 {
        dq.put(&rec10(i)).unwrap();
    }
    assert_eq!(
        files(dir.path()),
        vec![data(0), data(1), data(2), META.to_string()]
    );
    dq.try_read().unwrap();
    assert!(dir.path().join(data(0)).exists());
    dq.try_read().unwrap();
    assert!(!dir.path().join(data(0)).exists());
    // Moving to a new read file synced the metadata.
    assert_eq!(meta_text(dir.path()), "4\n1,0\n2,28\n");
    dq.try_read().unwrap();
    dq.try_read().unwrap();
    assert_eq!(files(dir.path()), vec![data(2), META.to_string()]);
}

fn corrupt_length(dir: &Path, name: &str, at: u64, value: i32) {
    let mut f = OpenOptions::new().write(true).open(dir.join(name)).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&value.to_be_bytes()).unwrap();
}

#[test]
fn bad_record_length_sets_the_file_aside_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 30);
    for i in 0..4 {
        dq.put(&rec10(i)).unwrap();
    }
    dq.close().unwrap();
    corrupt_length(dir.path(), &data(0), 0, i32::MAX);

    let dq = open(dir.path(), 30);
    assert_eq!(dq.depth(), 4);
    assert_eq!(read_all(&dq), vec![rec10(2), rec10(3)]);
    // The two lost records were written off when the reader caught up.
    assert_eq!(dq.depth(), 0);
    let names = files(dir.path());
    assert!(names.contains(&format!("{}.bad", data(0))), "{names:?}");
    assert!(!names.contains(&data(0)));
    dq.close().unwrap();
    assert_eq!(meta_text(dir.path()), "0\n1,28\n1,28\n");
}

#[test]
fn negative_record_length_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 30);
    for i in 0..4 {
        dq.put(&rec10(i)).unwrap();
    }
    dq.close().unwrap();
    corrupt_length(dir.path(), &data(0), 14, -1);
    let dq = open(dir.path(), 30);
    assert_eq!(read_all(&dq), vec![rec10(0), rec10(2), rec10(3)]);
    assert!(dir.path().join(format!("{}.bad", data(0))).exists());
}

#[test]
fn truncated_file_is_read_as_far_as_possible_then_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 30);
    for i in 0..4 {
        dq.put(&rec10(i)).unwrap();
    }
    dq.close().unwrap();
    // Keep record 0 and six bytes of record 1.
    let f = OpenOptions::new()
        .write(true)
        .open(dir.path().join(data(0)))
        .unwrap();
    f.set_len(20).unwrap();
    drop(f);

    let dq = open(dir.path(), 30);
    assert_eq!(read_all(&dq), vec![rec10(0), rec10(2), rec10(3)]);
    assert_eq!(dq.depth(), 0);
    assert!(dir.path().join(format!("{}.bad", data(0))).exists());
}

#[test]
fn corrupt_write_file_moves_the_writer_on_too() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    dq.put(&rec(0)).unwrap();
    dq.put(&rec(1)).unwrap();
    dq.close().unwrap();
    corrupt_length(dir.path(), &data(0), 0, 0);

    let dq = open(dir.path(), 1 << 20);
    assert!(dq.try_read().is_none());
    assert_eq!(dq.depth(), 0);
    dq.put(&rec(2)).unwrap();
    assert_eq!(
        files(dir.path()),
        vec![format!("{}.bad", data(0)), data(1), META.to_string()]
    );
    assert_eq!(read_all(&dq), vec![rec(2)]);
}

#[test]
fn missing_read_file_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(META), "2\n0,0\n1,9\n").unwrap();
    fs::write(dir.path().join(data(1)), b"\0\0\0\x05rec-7").unwrap();
    let dq = open(dir.path(), 1 << 20);
    assert_eq!(read_all(&dq), vec![rec(7)]);
    assert_eq!(dq.depth(), 0);
}

#[test]
fn empty_removes_everything_and_numbering_continues() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 30);
    for i in 0..3 {
        dq.put(&rec10(i)).unwrap();
    }
    dq.try_read().unwrap();
    dq.sync().unwrap();
    assert_eq!(files(dir.path()), vec![data(0), data(1), META.to_string()]);
    dq.empty().unwrap();
    assert_eq!(dq.depth(), 0);
    assert!(files(dir.path()).is_empty());
    assert!(dq.try_read().is_none());

    dq.put(&rec10(9)).unwrap();
    assert_eq!(files(dir.path()), vec![data(2)]);
    assert_eq!(dq.depth(), 1);
    dq.sync().unwrap();
    assert_eq!(meta_text(dir.path()), "1\n2,0\n2,14\n");
    assert_eq!(read_all(&dq), vec![rec10(9)]);

    dq.put(&rec10(10)).unwrap();
    dq.delete().unwrap();
    assert!(files(dir.path()).is_empty());
    assert_eq!(dq.put(&rec10(11)).unwrap_err().to_string(), "exiting");
    assert!(matches!(dq.empty(), Err(DiskQueueError::Exiting)));
    drop(dq);
    assert!(files(dir.path()).is_empty());
}

/// Builds a data directory by hand from the spec's byte layout, the way the
/// Go nsqd leaves it, with nsqd's record sizes ([8 ts][2 attempts][16 id][body]).
#[test]
fn go_written_directory_is_read_back() {
    fn message(id: u8, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&1_700_000_000_000_000_000i64.to_be_bytes());
        m.extend_from_slice(&3u16.to_be_bytes());
        m.extend_from_slice(&[b'0' + id; 16]);
        m.extend_from_slice(body);
        m
    }
    fn framed(records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            out.extend_from_slice(&(r.len() as i32).to_be_bytes());
            out.extend_from_slice(r);
        }
        out
    }
    let dir = tempfile::tempdir().unwrap();
    let (m0, m1, m2, m3) = (
        message(0, b"already consumed"),
        message(1, b"hello"),
        message(2, b"world"),
        message(3, b""),
    );
    let file0 = framed(&[&m0, &m1, &m2]);
    let file1 = framed(&[&m3]);
    let consumed = (4 + m0.len()) as i64;
    fs::write(dir.path().join("h1.diskqueue.000000.dat"), &file0).unwrap();
    fs::write(dir.path().join("h1.diskqueue.000001.dat"), &file1).unwrap();
    fs::write(
        dir.path().join("h1.diskqueue.meta.dat"),
        format!("3\n0,{consumed}\n1,{}\n", file1.len()),
    )
    .unwrap();

    let mut cfg = DiskQueueConfig::new("h1", dir.path());
    cfg.sync_timeout = Duration::ZERO;
    let dq = DiskQueue::open(cfg.clone()).unwrap();
    assert_eq!(dq.depth(), 3);
    assert_eq!(dq.try_read().unwrap(), m1);
    assert_eq!(dq.try_read().unwrap(), m2);
    assert!(!dir.path().join("h1.diskqueue.000000.dat").exists());
    assert_eq!(dq.try_read().unwrap(), m3);
    assert!(dq.try_read().is_none());
    assert_eq!(dq.depth(), 0);
    dq.close().unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("h1.diskqueue.meta.dat")).unwrap(),
        format!("0\n1,{0}\n1,{0}\n", file1.len())
    );

    // And what we write, the same layout reads back.
    let dq = DiskQueue::open(cfg).unwrap();
    dq.put(&m1).unwrap();
    dq.close().unwrap();
    let mut expected = file1.clone();
    expected.extend(framed(&[&m1]));
    assert_eq!(
        fs::read(dir.path().join("h1.diskqueue.000001.dat")).unwrap(),
        expected
    );
}

#[test]
fn unparsable_metadata_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(META), "garbage").unwrap();
    let dq = open(dir.path(), 1 << 20);
    assert_eq!(dq.depth(), 0);
    dq.put(b"x").unwrap();
    assert_eq!(read_all(&dq), vec![b"x".to_vec()]);
}

#[test]
fn sync_every_counts_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20);
    cfg.sync_every = 3;
    let dq = DiskQueue::open(cfg).unwrap();
    dq.put(&rec(0)).unwrap();
    dq.put(&rec(1)).unwrap();
    assert!(!dir.path().join(META).exists());
    dq.put(&rec(2)).unwrap();
    assert_eq!(meta_text(dir.path()), "3\n0,0\n0,27\n");
    dq.try_read().unwrap();
    dq.try_read().unwrap();
    assert_eq!(meta_text(dir.path()), "3\n0,0\n0,27\n");
    dq.try_read().unwrap();
    assert_eq!(meta_text(dir.path()), "0\n0,27\n0,27\n");
}

#[test]
fn tick_syncs_only_after_activity() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    dq.shared.tick();
    assert!(!dir.path().join(META).exists());
    dq.put(&rec(0)).unwrap();
    dq.shared.tick();
    assert_eq!(meta_text(dir.path()), "1\n0,0\n0,9\n");
    fs::remove_file(dir.path().join(META)).unwrap();
    dq.shared.tick();
    assert!(!dir.path().join(META).exists());
}

#[test]
fn timer_thread_stops_on_close_and_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20);
    cfg.sync_timeout = Duration::from_millis(1);
    let dq = DiskQueue::open(cfg.clone()).unwrap();
    dq.put(&rec(0)).unwrap();
    dq.close().unwrap();
    assert_eq!(meta_text(dir.path()), "1\n0,0\n0,9\n");
    let dq = DiskQueue::open(cfg).unwrap();
    drop(dq);
}

#[test]
fn notify_fires_once_per_successful_put() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20);
    cfg.max_msg_size = 10;
    let dq = DiskQueue::open(cfg).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    dq.set_notify(Box::new(move || {
        seen.fetch_add(1, Ordering::SeqCst);
    }));
    dq.put(b"one").unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    dq.put_batch(&[b"a", b"b", b"c"]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(dq.put(b"far too long").is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn records_larger_than_the_read_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    let big: Vec<u8> = (0..3 * READ_CHUNK + 17).map(|i| (i % 251) as u8).collect();
    dq.put(b"small").unwrap();
    dq.put(&big).unwrap();
    dq.put(b"after").unwrap();
    assert_eq!(
        read_all(&dq),
        vec![b"small".to_vec(), big, b"after".to_vec()]
    );
}

#[test]
fn concurrent_producer_and_consumer_keep_order() {
    const N: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let dq = Arc::new(open(dir.path(), 64 * 1024));
    let (tx, rx) = mpsc::channel::<()>();
    let tx = Mutex::new(tx);
    dq.set_notify(Box::new(move || {
        let _ = lock(&tx).send(());
    }));
    let producer = {
        let dq = Arc::clone(&dq);
        std::thread::spawn(move || {
            for i in 0..N {
                if i % 10 == 0 {
                    let batch: Vec<Vec<u8>> = (i..i + 10).map(rec).collect();
                    let refs: Vec<&[u8]> = batch.iter().map(|r| r.as_slice()).collect();
                    dq.put_batch(&refs).unwrap();
                }
            }
        })
    };
    let mut next = 0;
    while next < N {
        match dq.try_read() {
            Some(record) => {
                assert_eq!(record, rec(next));
                next += 1;
            }
            None => rx.recv().unwrap(),
        }
    }
    producer.join().unwrap();
    assert!(dq.try_read().is_none());
    assert_eq!(dq.depth(), 0);
    let names = files(dir.path());
    assert!(!names.iter().any(|f| f.ends_with(".bad")), "{names:?}");
    assert_eq!(
        names
            .iter()
            .filter(|f| f.ends_with(".dat") && *f != META)
            .count(),
        1
    );
}

#[test]
fn write_errors_reach_the_caller_and_later_puts_recover() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-yet");
    let dq = open(&missing, 1 << 20);
    let err = dq.put(b"x").unwrap_err();
    let path = missing.join(data(0));
    assert!(
        err.to_string()
            .starts_with(&format!("open {}: ", path.display())),
        "{err}"
    );
    assert_eq!(dq.depth(), 0);
    fs::create_dir(&missing).unwrap();
    dq.put(b"y").unwrap();
    assert_eq!(read_all(&dq), vec![b"y".to_vec()]);
}

#[test]
fn queue_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<DiskQueue>();
    assert_send_sync::<DiskQueueError>();
}

#[test]
fn crash_after_an_unsynced_rollover_keeps_the_later_files() {
    let dir = tempfile::tempdir().unwrap();
    // 14-byte records, two per 30-byte file.
    let dq = open(dir.path(), 30);
    dq.put(&rec10(0)).unwrap();
    dq.sync().unwrap();
    for i in 1..5 {
        dq.put(&rec10(i)).unwrap();
    }
    drop(dq);
    // As if the rollovers' syncs never ran: 1 record, write file 0 at 14.
    fs::write(dir.path().join(META), "1\n0,0\n0,14\n").unwrap();
    assert_eq!(
        files(dir.path()),
        vec![data(0), data(1), data(2), META.to_string()]
    );

    let dq = open(dir.path(), 30);
    assert_eq!(dq.depth(), 5);
    dq.put(&rec10(5)).unwrap();
    // Writing resumed after every file found, so nothing was overwritten.
    assert_eq!(fs::read(dir.path().join(data(3))).unwrap().len(), 14);
    assert_eq!(read_all(&dq), (0..6).map(rec10).collect::<Vec<_>>());
    assert_eq!(dq.depth(), 0);
    assert!(!files(dir.path()).iter().any(|f| f.ends_with(".bad")));
}

#[test]
fn torn_record_after_a_crash_is_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    dq.put(&rec(0)).unwrap();
    dq.sync().unwrap();
    dq.put(&rec(1)).unwrap();
    drop(dq);
    // Half a record, as a crash in the middle of a write leaves it.
    let mut f = OpenOptions::new()
        .append(true)
        .open(dir.path().join(data(0)))
        .unwrap();
    f.write_all(&[0, 0, 0, 9, b'r']).unwrap();
    drop(f);
    let dq = open(dir.path(), 1 << 20);
    assert_eq!(dq.depth(), 2);
    assert_eq!(read_all(&dq), vec![rec(0), rec(1)]);
    assert_eq!(dq.depth(), 0);
}

#[test]
fn phantom_depth_is_reset_when_the_reader_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(META), "4\n0,0\n0,0\n").unwrap();
    let dq = open(dir.path(), 1 << 20);
    assert_eq!(dq.depth(), 4);
    assert!(dq.try_read().is_none());
    assert_eq!(dq.depth(), 0);
}

#[test]
fn waiters_are_released_by_one_sync_on_the_timer_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20);
    // A tick far away: only the due syncs can release the waiters.
    cfg.sync_timeout = Duration::from_secs(3600);
    cfg.sync_every = 1;
    let dq = Arc::new(DiskQueue::open(cfg).unwrap());
    assert_eq!(dq.written(), 0);
    dq.wait_synced(0).unwrap();
    let waiters: Vec<_> = (0..4)
        .map(|i| {
            let dq = Arc::clone(&dq);
            std::thread::spawn(move || {
                dq.put(&rec(i)).unwrap();
                let seq = dq.written();
                dq.wait_synced(seq).map(|()| seq)
            })
        })
        .collect();
    for w in waiters {
        let seq = w.join().unwrap().unwrap();
        assert!((1..=4).contains(&seq));
    }
    assert_eq!(dq.written(), 4);
    dq.close().unwrap();
    assert_eq!(meta_text(dir.path()), "4\n0,0\n0,36\n");
}

#[test]
fn waiters_get_data_fsyncs_and_the_metadata_keeps_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20);
    cfg.sync_timeout = Duration::from_secs(3600);
    cfg.sync_every = 3;
    let dq = DiskQueue::open(cfg).unwrap();
    dq.put(&rec(0)).unwrap();
    dq.wait_synced(dq.written()).unwrap();
    dq.put(&rec(1)).unwrap();
    dq.wait_synced(dq.written()).unwrap();
    // Two data fsyncs, no metadata yet: sync_every is 3.
    assert!(!dir.path().join(META).exists());
    dq.close().unwrap();
    assert_eq!(meta_text(dir.path()), "2\n0,0\n0,18\n");
}

#[test]
fn waiting_without_a_timer_thread_syncs_inline() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    dq.put(&rec(0)).unwrap();
    dq.wait_synced(dq.written()).unwrap();
    // Only the data was fsynced.
    assert!(!dir.path().join(META).exists());
}

#[test]
fn a_deleted_queue_fails_its_waiters() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    dq.put(&rec(0)).unwrap();
    let seq = dq.written();
    dq.delete().unwrap();
    assert!(matches!(dq.wait_synced(seq), Err(DiskQueueError::Exiting)));
}

#[test]
fn a_failed_fsync_fails_the_waiters_it_covered() {
    let dir = tempfile::tempdir().unwrap();
    let dq = open(dir.path(), 1 << 20);
    dq.put(&rec(0)).unwrap();
    dq.shared
        .report_sync(1, Err(&io::Error::other("disk on fire")));
    let err = dq.wait_synced(1).unwrap_err();
    assert_eq!(err.to_string(), "sync: disk on fire");
    // A later success does not make the failed records good.
    dq.sync().unwrap();
    assert!(dq.wait_synced(1).is_err());
    dq.put(&rec(1)).unwrap();
    dq.wait_synced(2).unwrap();
}

#[test]
fn a_hold_keeps_the_read_position_off_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 1 << 20);
    cfg.sync_every = 1;
    let dq = DiskQueue::open(cfg).unwrap();
    dq.put(&rec(0)).unwrap();
    assert_eq!(meta_text(dir.path()), "1\n0,0\n0,9\n");
    let hold = dq.hold_sync();
    assert_eq!(dq.try_read().unwrap(), rec(0));
    // The read made a sync due, but the hold keeps the old position.
    assert_eq!(meta_text(dir.path()), "1\n0,0\n0,9\n");
    // Data fsyncs for waiters go on meanwhile.
    dq.put(&rec(1)).unwrap();
    dq.wait_synced(dq.written()).unwrap();
    assert_eq!(meta_text(dir.path()), "1\n0,0\n0,9\n");
    drop(hold);
    assert_eq!(meta_text(dir.path()), "1\n0,9\n0,18\n");
}
