//! The data-path lock (BEH-093): a non-blocking exclusive flock on the directory, released by
//! the kernel when the process dies, so a SIGKILLed nsqd never blocks the next start.

use std::fs::File;

pub struct DirLock {
    _dir: File,
}

impl DirLock {
    pub fn acquire(dir: &str) -> Result<DirLock, String> {
        let path = if dir.is_empty() { "." } else { dir };
        let f = File::open(path).map_err(|e| format!("cannot open directory {path} - {e}"))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
            let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                let e = std::io::Error::last_os_error();
                return Err(format!(
                    "cannot flock directory {path} - {} (possibly in use by another instance of nsqd)",
                    errno_text(&e)
                ));
            }
        }
        Ok(DirLock { _dir: f })
    }
}

/// The bare errno description, as Go prints syscall errors ("resource temporarily unavailable").
fn errno_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let bare = s.split(" (os error").next().unwrap_or(&s);
    let mut chars = bare.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
