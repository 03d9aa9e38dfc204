//! Facts about the machine the daemons report to peers.

/// The OS hostname (empty if the OS will not say). Daemons default `--broadcast-address` to it
/// and send it in lookupd IDENTIFY exchanges.
pub fn os_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hostname_is_stable() {
        assert_eq!(super::os_hostname(), super::os_hostname());
    }
}
