//! Embeds every file of `static/` (the UI build output, flat) into the binary: writes a table
//! of `(name, include_bytes!(path))` that `src/static_files.rs` includes.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<(String, String)> = Vec::new();
    if let Ok(read) = std::fs::read_dir(&dir) {
        for entry in read.flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            println!("cargo:rerun-if-changed={}", path.display());
            entries.push((name.to_string(), path.display().to_string()));
        }
    }
    entries.sort();
    let mut out = String::from("/// Every embedded UI file: name and contents.\n");
    out.push_str("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (name, path) in &entries {
        let _ = writeln!(out, "    ({name:?}, include_bytes!({path:?})),");
    }
    out.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".to_string());
    let target = Path::new(&out_dir).join("static_assets.rs");
    if let Err(e) = std::fs::write(&target, out) {
        panic!("cannot write {}: {e}", target.display());
    }
}
