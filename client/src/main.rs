//! `chinwag`: the terminal client (stub until the client issue lands).
fn main() {}
