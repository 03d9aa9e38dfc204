//! The command-line tools' shared pieces (spec §8.0) and one module per tool.

pub mod common;
