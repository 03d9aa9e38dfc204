//! Records the compiling toolchain for the `(built w/<toolchain>)` part of the version string.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    // `rustc --version` prints e.g. "rustc 1.95.0 (59807616e 2026-04-14)"; clients match the
    // toolchain as one `\S+` token, so the name and the number are joined without a space.
    let toolchain = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(|v| format!("rustc{v}")))
        .unwrap_or_else(|| "rustc".to_owned());
    println!("cargo:rustc-env=NSQ_BUILT_WITH={toolchain}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
