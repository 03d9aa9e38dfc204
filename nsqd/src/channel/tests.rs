use super::*;
use crate::health::Health;
use crate::options::Options;
use bytes::Bytes;

fn config(dir: &std::path::Path, mem_queue_size: i64, sync_every: i64) -> QueueConfig {
    let opts = Options {
        data_path: dir.display().to_string(),
        mem_queue_size,
        sync_every,
        ..Options::default()
    };
    QueueConfig::from_options(&opts, Arc::new(Health::default()))
}

fn msg(n: u8) -> Message {
    let mut id = *b"0000000000000000";
    id[15] = b'a' + n;
    Message::new(id, 1, Bytes::from_static(b"body"))
}

fn topology_channel(dir: &std::path::Path) -> Channel {
    let mut cfg = config(dir, 10, 2500);
    cfg.topology_aware = true;
    Channel::new("t", "c", cfg)
}

fn client(id: u64, locality: u8) -> Arc<ClientShared> {
    let c = Arc::new(ClientShared::new(id, "a".into(), "a".into(), 0));
    c.locality.store(locality, Ordering::Relaxed);
    c
}

fn pull(ch: &Channel, c: &Arc<ClientShared>, max: usize) -> Vec<MessageId> {
    let mut out = Vec::new();
    ch.pull(c, max, Duration::from_secs(60), 0, &mut out);
    out.iter().map(|m| m.id).collect()
}

fn counts(ch: &Channel) -> (u64, u64, u64) {
    let s = ch.stats(false);
    (
        s.zone_local_msg_count,
        s.region_local_msg_count,
        s.global_msg_count,
    )
}

#[test]
fn a_topology_put_prefers_waiting_zone_then_region_clients() {
    let dir = tempfile::tempdir().unwrap();
    let ch = topology_channel(dir.path());
    let global = client(1, 0);
    let region = client(2, REGION_LOCAL);
    let zone = client(3, ZONE_LOCAL | REGION_LOCAL);
    // All three wait, the global one first in line.
    for c in [&global, &region, &zone] {
        assert!(pull(&ch, c, 2).is_empty());
    }
    ch.put_batch(&[msg(1)], Duration::ZERO, OnFailure::Reject, None)
        .unwrap();
    assert_eq!(ch.depth(), 1);
    // Reserved for the zone-local client: the others find nothing.
    assert!(pull(&ch, &global, 2).is_empty());
    assert!(pull(&ch, &region, 2).is_empty());
    assert_eq!(pull(&ch, &zone, 2), vec![msg(1).id]);
    assert_eq!(counts(&ch), (1, 0, 0));

    // The zone client has room for one more and waits again: it takes one of the next
    // three, the region client (room 2) the next two; nothing is left for memory.
    ch.put_batch(
        &[msg(2), msg(3), msg(4)],
        Duration::ZERO,
        OnFailure::Reject,
        None,
    )
    .unwrap();
    assert_eq!(pull(&ch, &zone, 1), vec![msg(2).id]);
    assert_eq!(pull(&ch, &region, 2), vec![msg(3).id, msg(4).id]);
    assert_eq!(counts(&ch), (2, 2, 0));

    // No local client waits now: the memory queue, for anyone.
    ch.put_batch(&[msg(5)], Duration::ZERO, OnFailure::Reject, None)
        .unwrap();
    assert_eq!(pull(&ch, &global, 2), vec![msg(5).id]);
    assert_eq!(counts(&ch), (2, 2, 1));
}

#[test]
fn handed_messages_go_back_to_memory_when_their_client_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let ch = topology_channel(dir.path());
    let global = client(1, 0);
    let zone = client(2, ZONE_LOCAL);
    ch.add_client(global.clone(), 0).unwrap();
    ch.add_client(zone.clone(), 0).unwrap();
    assert!(pull(&ch, &zone, 5).is_empty());
    ch.put_batch(&[msg(1), msg(2)], Duration::ZERO, OnFailure::Reject, None)
        .unwrap();
    ch.remove_client(zone.id);
    assert_eq!(pull(&ch, &global, 5), vec![msg(1).id, msg(2).id]);
    assert_eq!(counts(&ch), (0, 0, 2));
}

#[test]
fn without_the_experiment_every_client_counts_as_global() {
    let dir = tempfile::tempdir().unwrap();
    let ch = Channel::new("t", "c", config(dir.path(), 10, 2500));
    let zone = client(1, ZONE_LOCAL);
    let global = client(2, 0);
    assert!(pull(&ch, &global, 5).is_empty());
    assert!(pull(&ch, &zone, 5).is_empty());
    ch.put_batch(&[msg(1)], Duration::ZERO, OnFailure::Reject, None)
        .unwrap();
    assert_eq!(pull(&ch, &global, 5), vec![msg(1).id]);
    assert_eq!(counts(&ch), (0, 0, 1));
}

#[test]
fn a_failed_write_rejects_a_publish_but_keeps_held_messages() {
    let dir = tempfile::tempdir().unwrap();
    // Writes fail: the data path does not exist.
    let cfg = config(&dir.path().join("missing"), 0, 2500);
    let health = cfg.health.clone();
    let ch = Channel::new("t", "c", cfg);
    let err = ch
        .put_batch(&[msg(1)], Duration::ZERO, OnFailure::Reject, None)
        .unwrap_err();
    assert!(err.0.starts_with("open "), "{err}");
    assert!(health.status().starts_with("NOK - open "));
    assert_eq!((ch.depth(), ch.stats(false).message_count), (0, 0));

    assert!(ch
        .put_batch(&[msg(2), msg(3)], Duration::ZERO, OnFailure::Keep, None)
        .is_err());
    assert_eq!((ch.depth(), ch.stats(false).message_count), (2, 2));

    std::fs::create_dir(dir.path().join("missing")).unwrap();
    ch.put_batch(&[msg(4)], Duration::ZERO, OnFailure::Reject, None)
        .unwrap();
    assert_eq!(health.status(), "OK");
    assert_eq!(ch.stats(false).backend_depth, 1);
}

#[test]
fn durable_puts_collect_one_ticket_per_queue() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 0, 1);
    assert!(cfg.disk.durable_acks);
    let ch = Channel::new("t", "c", cfg.clone());
    let mut wait = SyncWait::new(cfg.health.clone());
    ch.put_batch(
        &[msg(1)],
        Duration::ZERO,
        OnFailure::Reject,
        Some(&mut wait),
    )
    .unwrap();
    ch.put_batch(
        &[msg(2), msg(3)],
        Duration::ZERO,
        OnFailure::Reject,
        Some(&mut wait),
    )
    .unwrap();
    // Deferred messages stay in memory: nothing to wait for.
    ch.put_batch(
        &[msg(4)],
        Duration::from_secs(60),
        OnFailure::Reject,
        Some(&mut wait),
    )
    .unwrap();
    assert!(!wait.is_empty());
    wait.wait_blocking().unwrap();
    assert_eq!(ch.stats(false).backend_depth, 3);
    assert_eq!(ch.stats(false).deferred_count, 1);
}

#[test]
fn close_writes_memory_then_in_flight_then_deferred_and_their_due_times() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 10, 2500);
    let ch = Channel::new("t", "c", cfg.clone());
    ch.put_batch(&[msg(1), msg(2)], Duration::ZERO, OnFailure::Reject, None)
        .unwrap();
    ch.put_batch(&[msg(3)], Duration::from_secs(60), OnFailure::Reject, None)
        .unwrap();
    let client = Arc::new(ClientShared::new(1, "a".into(), "a".into(), 0));
    let mut out = Vec::new();
    ch.pull(&client, 1, Duration::from_secs(60), 0, &mut out);
    assert_eq!(out[0].id, msg(1).id);
    assert_eq!(ch.close(), 0);

    let file = deferred_store::path(dir.path(), "t:c");
    let due = deferred_store::load(&file);
    assert_eq!(due.keys().collect::<Vec<_>>(), vec![&msg(3).id]);
    let ahead = due[&msg(3).id] - crate::clock::unix_nanos();
    assert!(ahead > 50_000_000_000 && ahead <= 60_000_000_000, "{ahead}");

    // Reopened: memory (2), in flight (1, attempts kept), then the deferred one, which
    // goes back to the deferred queue when it is read.
    let ch = Channel::new("t", "c", cfg);
    assert_eq!(ch.depth(), 3);
    let mut out = Vec::new();
    ch.pull(&client, 10, Duration::from_secs(60), 0, &mut out);
    let got: Vec<(MessageId, u16)> = out.iter().map(|m| (m.id, m.attempts)).collect();
    assert_eq!(got, vec![(msg(2).id, 1), (msg(1).id, 2)]);
    assert_eq!(ch.stats(false).deferred_count, 1);
    assert_eq!(ch.depth(), 0);
}
