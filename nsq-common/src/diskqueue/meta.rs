//! The `<name>.diskqueue.meta.dat` text file (DQ-005).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Queue positions as persisted between runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Meta {
    pub depth: i64,
    pub read_file_num: i64,
    pub read_pos: i64,
    pub write_file_num: i64,
    pub write_pos: i64,
}

impl Meta {
    /// `<depth>\n<readFileNum>,<readPos>\n<writeFileNum>,<writePos>\n`
    pub fn render(&self) -> String {
        format!(
            "{}\n{},{}\n{},{}\n",
            self.depth, self.read_file_num, self.read_pos, self.write_file_num, self.write_pos
        )
    }

    /// Parses what `render` produces; like Go's Fscanf it tolerates stray spaces.
    pub fn parse(text: &str) -> Option<Meta> {
        let mut lines = text.split('\n');
        let depth = lines.next()?.trim().parse().ok()?;
        let (read_file_num, read_pos) = parse_pair(lines.next()?)?;
        let (write_file_num, write_pos) = parse_pair(lines.next()?)?;
        Some(Meta {
            depth,
            read_file_num,
            read_pos,
            write_file_num,
            write_pos,
        })
    }
}

fn parse_pair(line: &str) -> Option<(i64, i64)> {
    let (a, b) = line.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Writes the metadata so that a crash leaves either the old or the new
/// file, never a torn one: a uniquely named temp file, fsync, then rename.
pub(super) fn persist(path: &Path, meta: &Meta) -> io::Result<()> {
    // Go names it `<meta>.<rand.Int()>.tmp`; a non-negative 63-bit value matches that shape.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", rand::random::<u64>() >> 1));
    let tmp = PathBuf::from(tmp);
    let result = write_synced(&tmp, meta.render().as_bytes()).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(data)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_matches_spec_examples() {
        assert_eq!(Meta::default().render(), "0\n0,0\n0,0\n");
        assert_eq!(Meta::default().render().len(), 10);
        let m = Meta {
            depth: 7,
            read_file_num: 0,
            read_pos: 0,
            write_file_num: 0,
            write_pos: 226,
        };
        assert_eq!(m.render(), "7\n0,0\n0,226\n");
    }

    #[test]
    fn parse_round_trips_and_rejects_garbage() {
        let m = Meta {
            depth: -3,
            read_file_num: 12,
            read_pos: 345,
            write_file_num: 13,
            write_pos: 6789,
        };
        assert_eq!(Meta::parse(&m.render()), Some(m));
        assert_eq!(
            Meta::parse("1\n2, 3\n4,5"),
            Some(Meta {
                depth: 1,
                read_file_num: 2,
                read_pos: 3,
                write_file_num: 4,
                write_pos: 5,
            })
        );
        assert_eq!(Meta::parse(""), None);
        assert_eq!(Meta::parse("1\n2,3\n"), None);
        assert_eq!(Meta::parse("x\n0,0\n0,0\n"), None);
        assert_eq!(Meta::parse("0\n0;0\n0,0\n"), None);
    }
}
