//! The nsqadmin binary.

fn main() {}
