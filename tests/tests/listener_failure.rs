//! BEH-104: a listener that fails for good makes nsqd log FATAL, shut down cleanly (its
//! queues persisted) and exit with status 1.
//!
//! The failure is caused from outside: the test takes a duplicate of nsqd's listening socket
//! with `pidfd_getfd` and shuts its read side down, after which every `accept` on it fails with
//! EINVAL, as a listener broken under a running daemon would.

use std::net::SocketAddr;
use std::time::Duration;

use nsq_tests::{http_post, Nsqd};

/// A duplicate of the socket of process `pid` that listens on `addr`, or None when the kernel
/// refuses (`pidfd_getfd` needs Linux 5.6 and ptrace rights over the process).
fn steal_listener(pid: u32, addr: SocketAddr) -> Option<libc::c_int> {
    // SAFETY: plain syscalls on descriptors this function owns; every result is checked.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) as libc::c_int;
        if pidfd < 0 {
            return None;
        }
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
        let mut found = None;
        for entry in fds.flatten() {
            let Some(n) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd, n, 0) as libc::c_int;
            if fd < 0 {
                continue;
            }
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let mut listening: libc::c_int = 0;
            let mut olen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            let is_match =
                libc::getsockname(fd, &mut sa as *mut _ as *mut libc::sockaddr, &mut len) == 0
                    && sa.sin_family as libc::c_int == libc::AF_INET
                    && u16::from_be(sa.sin_port) == addr.port()
                    && libc::getsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_ACCEPTCONN,
                        &mut listening as *mut _ as *mut libc::c_void,
                        &mut olen,
                    ) == 0
                    && listening == 1;
            if is_match {
                found = Some(fd);
                break;
            }
            libc::close(fd);
        }
        libc::close(pidfd);
        found
    }
}

#[test]
fn a_broken_tcp_listener_is_fatal_after_a_clean_shutdown() {
    let mut nsqd = Nsqd::start();
    let r = http_post(nsqd.http_addr, "/pub?topic=kept", b"before the failure");
    assert_eq!(r.status, 200);

    let Some(fd) = steal_listener(nsqd.pid(), nsqd.tcp_addr) else {
        eprintln!("skipped: pidfd_getfd is not permitted here");
        return;
    };
    // SAFETY: `fd` is our own duplicate of the listening socket.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RD);
        libc::close(fd);
    }

    let status = nsqd
        .wait_exit(Duration::from_secs(10))
        .expect("nsqd exits after its listener failed");
    assert_eq!(status.code(), Some(1));
    let logs = nsqd.logs();
    let fatal = logs
        .iter()
        .position(|l| l.contains("FATAL: listener.Accept() error - "))
        .unwrap_or_else(|| panic!("no FATAL line in {logs:#?}"));
    let bye = logs
        .iter()
        .position(|l| l.ends_with("NSQ: bye"))
        .unwrap_or_else(|| panic!("no clean shutdown in {logs:#?}"));
    assert!(fatal < bye, "FATAL comes first, then the clean shutdown");
    assert_eq!(
        logs.iter().filter(|l| l.contains("FATAL")).count(),
        1,
        "one FATAL line: {logs:#?}"
    );

    // The message answered OK before the failure survives the restart.
    nsqd.restart_with(&[]);
    let stats = nsqd.stats();
    let topic = nsq_tests::stats_topic(&stats, "kept").expect("topic kept after restart");
    assert_eq!(topic["depth"], 1);
}
