//! `nsqd.dat`: the list of topics and channels with their paused flags (BEH-090..092), in the
//! exact JSON layout Go nsqd writes, so either implementation can take over a data directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::nsqd::Nsqd;

#[derive(Serialize, Deserialize)]
struct Metadata {
    topics: Option<Vec<TopicMeta>>,
    #[serde(default)]
    version: String,
}

#[derive(Serialize, Deserialize)]
struct TopicMeta {
    name: String,
    #[serde(default)]
    paused: bool,
    channels: Option<Vec<ChannelMeta>>,
}

#[derive(Serialize, Deserialize)]
struct ChannelMeta {
    name: String,
    #[serde(default)]
    paused: bool,
}

pub fn path(data_path: &str) -> PathBuf {
    let dir = if data_path.is_empty() { "." } else { data_path };
    Path::new(dir).join("nsqd.dat")
}

/// Writes the current topics and channels atomically (temp file, fsync, rename).
pub fn persist(nsqd: &Nsqd) -> std::io::Result<()> {
    let mut topics = Vec::new();
    for t in nsqd.topics() {
        if t.ephemeral {
            continue;
        }
        let channels: Vec<ChannelMeta> = t
            .channels()
            .iter()
            .filter(|c| !c.ephemeral)
            .map(|c| ChannelMeta {
                name: c.name.clone(),
                paused: c.is_paused(),
            })
            .collect();
        topics.push(TopicMeta {
            name: t.name.clone(),
            paused: t.is_paused(),
            channels: (!channels.is_empty()).then_some(channels),
        });
    }
    let meta = Metadata {
        topics: (!topics.is_empty()).then_some(topics),
        version: nsq_protocol::version::VERSION.to_string(),
    };
    let data = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
    let file = path(&nsqd.options().data_path);
    let tmp = PathBuf::from(format!("{}.{}.tmp", file.display(), rand::random::<u32>()));
    {
        let mut f = open_private(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &file)
}

fn open_private(p: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(p)
}

/// Restores topics and channels (paused flags included) from `nsqd.dat`, then starts the topics.
pub fn load(nsqd: &Arc<Nsqd>) -> Result<(), String> {
    let file = path(&nsqd.options().data_path);
    let data = match std::fs::read(&file) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "failed to read metadata from {} - {}",
                file.display(),
                e
            ))
        }
    };
    let meta: Metadata = serde_json::from_slice(&data)
        .map_err(|e| format!("failed to parse metadata in {} - {}", file.display(), e))?;
    nsqd.set_loading(true);
    let mut restored = Vec::new();
    for t in meta.topics.unwrap_or_default() {
        if !nsq_protocol::names::is_valid_topic_name(t.name.as_bytes()) {
            tracing::warn!("skipping creation of invalid topic {}", t.name);
            continue;
        }
        let topic = nsqd.get_or_create_topic(&t.name);
        if t.paused {
            topic.pause();
        }
        for c in t.channels.unwrap_or_default() {
            if !nsq_protocol::names::is_valid_channel_name(c.name.as_bytes()) {
                tracing::warn!("skipping creation of invalid channel {}", c.name);
                continue;
            }
            let ch = nsqd.get_or_create_channel(&topic, &c.name);
            if c.paused {
                ch.pause();
            }
        }
        restored.push(topic);
    }
    nsqd.set_loading(false);
    for t in restored {
        t.start();
    }
    Ok(())
}
