//! `chinwag-bench`: load generator for chinwagd (stub).
fn main() {}
