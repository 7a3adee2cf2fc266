//! The line decoder on raw bytes cut at arbitrary points: the result must not
//! depend on the cuts, no line may pass the limit, and the decoder may never
//! hold more than the limit plus one byte.
#![no_main]

use common::{Decoded, LineDecoder};
use libfuzzer_sys::fuzz_target;

fn decode(max_line: usize, chunks: &[&[u8]]) -> Vec<String> {
    let mut decoder = LineDecoder::new(max_line);
    let mut items = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, |item| {
            if let Decoded::Line(line) = &item {
                assert!(line.len() <= max_line, "line over the limit");
                assert!(!line.contains('\n'), "newline inside a line");
            }
            items.push(format!("{item:?}"));
        });
        assert!(decoder.buffered() <= max_line + 1, "decoder buffered past the limit");
    }
    items
}

fuzz_target!(|input: (u8, Vec<u8>, Vec<u16>)| {
    let (limit, bytes, cuts) = input;
    let max_line = 1 + usize::from(limit % 64);
    let whole = decode(max_line, &[&bytes]);
    let mut points: Vec<usize> = cuts.iter().map(|&cut| usize::from(cut) % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for point in points {
        chunks.push(&bytes[start..point]);
        start = point;
    }
    chunks.push(&bytes[start..]);
    assert_eq!(decode(max_line, &chunks), whole, "result depends on read boundaries");
});
