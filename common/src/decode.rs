//! The byte-to-line decoder: telnet commands out, lines framed at LF (a CR
//! before it dropped), the length limit enforced as bytes arrive, UTF-8
//! checked. Chunks go in at any boundary; "need more bytes" is just state.
//!
//! Memory is bounded by the limit: an endless line is discarded as it
//! arrives, and the contents of telnet subnegotiations are never kept.

use memchr::memchr2;

use crate::telnet::{DO, DONT, ECHO, IAC, SB, SE, WILL, WONT};

/// The default `--max-line`: longest line in bytes, terminator excluded.
pub const DEFAULT_MAX_LINE: usize = 4096;

/// One thing the decoder found in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A complete line, without its terminator. May be empty.
    Line(&'a str),
    /// A line passed the limit; it is discarded up to its newline. Reported
    /// once per line, as soon as the limit is passed.
    TooLong,
    /// A complete line that is not valid UTF-8; it is discarded.
    BadEncoding,
    /// Bytes to send back: the refusal of a telnet option the peer offered or
    /// requested (`IAC WONT x` for `IAC DO x`, `IAC DONT x` for `IAC WILL x`).
    Reply([u8; 3]),
    /// The peer sent `IAC DO ECHO`. Only the caller knows what it means:
    /// agreement, if this side offered to echo (`IAC WILL ECHO`, around a
    /// password), which must not be answered; otherwise a request, refused
    /// with [`WONT_ECHO`].
    DoEcho,
}

/// The refusal of `IAC DO ECHO`, and the end of the echo offer.
pub const WONT_ECHO: [u8; 3] = [IAC, WONT, ECHO];
/// The offer to echo, which stops a telnet client's local echo.
pub const WILL_ECHO: [u8; 3] = [IAC, WILL, ECHO];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Telnet {
    Data,
    /// After `IAC`.
    Command,
    /// After `IAC WILL|WONT|DO|DONT`, waiting for the option byte.
    Option(u8),
    /// Inside `IAC SB … IAC SE`: bytes are dropped.
    Subnegotiation,
    /// After `IAC` inside a subnegotiation.
    SubnegotiationCommand,
}

/// Turns a TCP byte stream into [`Decoded`] items. See the module docs.
#[derive(Debug)]
pub struct LineDecoder {
    max_line: usize,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// True while discarding the rest of an over-long line.
    discarding: bool,
    telnet: Telnet,
}

impl LineDecoder {
    /// A decoder for lines of at most `max_line` bytes (terminator excluded).
    pub fn new(max_line: usize) -> LineDecoder {
        LineDecoder {
            max_line,
            partial: Vec::new(),
            discarding: false,
            telnet: Telnet::Data,
        }
    }

    /// Bytes held for an unfinished line (at most `max_line + 1`).
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Decodes `chunk`, calling `sink` for each item in stream order. Items
    /// borrow from `chunk` or from the decoder, so the sink must not keep them.
    pub fn feed(&mut self, chunk: &[u8], mut sink: impl FnMut(Decoded<'_>)) {
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.telnet != Telnet::Data {
                self.telnet_byte(rest[0], &mut sink);
                rest = &rest[1..];
                continue;
            }
            match memchr2(b'\n', IAC, rest) {
                None => {
                    self.push_data(rest, &mut sink);
                    return;
                }
                Some(at) if rest[at] == IAC => {
                    self.push_data(&rest[..at], &mut sink);
                    self.telnet = Telnet::Command;
                    rest = &rest[at + 1..];
                }
                Some(at) => {
                    if self.partial.is_empty() && !self.discarding {
                        // Fast path: the whole line is in this chunk, no copy.
                        emit_line(&rest[..at], self.max_line, &mut sink);
                    } else {
                        self.push_data(&rest[..at], &mut sink);
                        if !self.discarding {
                            emit_line(&self.partial, self.max_line, &mut sink);
                        }
                        self.partial.clear();
                        self.discarding = false;
                    }
                    rest = &rest[at + 1..];
                }
            }
        }
    }

    /// Appends line bytes (no LF, no IAC) to the unfinished line, reporting
    /// `TooLong` the moment the line can no longer fit.
    fn push_data(&mut self, data: &[u8], sink: &mut impl FnMut(Decoded<'_>)) {
        if self.discarding || data.is_empty() {
            return;
        }
        // Keep at most max_line + 1 bytes: the extra one may be the CR of a
        // CRLF terminator, which does not count.
        let room = self.max_line + 1 - self.partial.len();
        self.partial
            .extend_from_slice(&data[..data.len().min(room)]);
        if data.len() > room || overlong(&self.partial, self.max_line, false) {
            self.partial.clear();
            self.discarding = true;
            sink(Decoded::TooLong);
        }
    }

    /// A literal data byte produced by telnet unescaping (`IAC IAC`).
    fn push_byte(&mut self, byte: u8, sink: &mut impl FnMut(Decoded<'_>)) {
        self.push_data(&[byte], sink);
    }

    fn telnet_byte(&mut self, byte: u8, sink: &mut impl FnMut(Decoded<'_>)) {
        self.telnet = match (self.telnet, byte) {
            (Telnet::Command, IAC) => {
                self.push_byte(IAC, sink);
                Telnet::Data
            }
            (Telnet::Command, WILL | WONT | DO | DONT) => Telnet::Option(byte),
            (Telnet::Command, SB) => Telnet::Subnegotiation,
            // Two-byte commands (IP, AYT, BRK, NOP, a stray SE, …) are dropped.
            (Telnet::Command, _) => Telnet::Data,
            (Telnet::Option(DO), ECHO) => {
                sink(Decoded::DoEcho);
                Telnet::Data
            }
            (Telnet::Option(DO), option) => {
                sink(Decoded::Reply([IAC, WONT, option]));
                Telnet::Data
            }
            (Telnet::Option(WILL), option) => {
                sink(Decoded::Reply([IAC, DONT, option]));
                Telnet::Data
            }
            (Telnet::Option(_), _) => Telnet::Data,
            (Telnet::Subnegotiation, IAC) => Telnet::SubnegotiationCommand,
            (Telnet::Subnegotiation, _) => Telnet::Subnegotiation,
            (Telnet::SubnegotiationCommand, SE) => Telnet::Data,
            (Telnet::SubnegotiationCommand, _) => Telnet::Subnegotiation,
            (Telnet::Data, _) => unreachable!("telnet_byte is only called outside Data"),
        };
    }
}

/// Whether a line (with any trailing CR still attached when `complete` is
/// false) is already known to be longer than `max_line`.
fn overlong(bytes: &[u8], max_line: usize, complete: bool) -> bool {
    let content = if complete || bytes.last() == Some(&b'\r') {
        bytes.strip_suffix(b"\r").unwrap_or(bytes)
    } else {
        bytes
    };
    content.len() > max_line
}

fn emit_line(bytes: &[u8], max_line: usize, sink: &mut impl FnMut(Decoded<'_>)) {
    if overlong(bytes, max_line, true) {
        sink(Decoded::TooLong);
        return;
    }
    let content = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    match std::str::from_utf8(content) {
        Ok(line) => sink(Decoded::Line(line)),
        Err(_) => sink(Decoded::BadEncoding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Item {
        Line(String),
        TooLong,
        BadEncoding,
        Reply([u8; 3]),
        DoEcho,
    }

    fn decode_chunks(max_line: usize, chunks: &[&[u8]]) -> Vec<Item> {
        let mut decoder = LineDecoder::new(max_line);
        let mut items = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, |item| {
                items.push(match item {
                    Decoded::Line(line) => Item::Line(line.to_owned()),
                    Decoded::TooLong => Item::TooLong,
                    Decoded::BadEncoding => Item::BadEncoding,
                    Decoded::Reply(bytes) => Item::Reply(bytes),
                    Decoded::DoEcho => Item::DoEcho,
                })
            });
            assert!(decoder.buffered() <= max_line + 1);
        }
        items
    }

    /// Decodes `input` whole, then split at every single point and byte by
    /// byte, and checks every way gives `expected`.
    fn check(max_line: usize, input: &[u8], expected: &[Item]) {
        assert_eq!(
            decode_chunks(max_line, &[input]),
            expected,
            "whole input {input:?}"
        );
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(
                decode_chunks(max_line, &[a, b]),
                expected,
                "split at {split}"
            );
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(decode_chunks(max_line, &bytes), expected, "byte by byte");
    }

    fn line(text: &str) -> Item {
        Item::Line(text.to_owned())
    }

    #[test]
    fn lf_and_crlf_end_lines_and_a_lone_cr_stays_in_the_text() {
        check(
            100,
            b"a\nb\r\nc\r\r\nd\re\n",
            &[line("a"), line("b"), line("c\r"), line("d\re")],
        );
    }

    #[test]
    fn empty_lines_are_reported() {
        check(100, b"\n\r\n\n", &[line(""), line(""), line("")]);
    }

    #[test]
    fn bytes_after_the_last_newline_wait() {
        check(100, b"one\ntwo", &[line("one")]);
    }

    #[test]
    fn the_limit_counts_bytes_without_the_terminator() {
        check(
            4,
            b"abcd\nabcd\r\nabcde\nok\n",
            &[line("abcd"), line("abcd"), Item::TooLong, line("ok")],
        );
        // A code point is never split: 3 + a 2-byte char is 5 bytes.
        check(4, "abcé\nabé\n".as_bytes(), &[Item::TooLong, line("abé")]);
    }

    #[test]
    fn an_endless_line_is_reported_once_and_discarded() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\n/ping x\n");
        assert_eq!(
            decode_chunks(8, &[&input]),
            [Item::TooLong, line("/ping x")]
        );
        let chunks: Vec<&[u8]> = input.chunks(7).collect();
        assert_eq!(decode_chunks(8, &chunks), [Item::TooLong, line("/ping x")]);
    }

    #[test]
    fn too_long_is_reported_as_soon_as_the_limit_is_passed() {
        let mut decoder = LineDecoder::new(4);
        let mut seen = 0;
        decoder.feed(b"abcd", |_| seen += 1);
        assert_eq!(seen, 0);
        decoder.feed(b"e", |item| {
            assert_eq!(item, Decoded::TooLong);
            seen += 1
        });
        assert_eq!(seen, 1);
        decoder.feed(b"fgh", |_| seen += 1);
        assert_eq!(seen, 1);
    }

    #[test]
    fn a_cr_at_the_limit_waits_for_its_lf() {
        check(3, b"abc\r\n", &[line("abc")]);
        check(3, b"abc\rd\n", &[Item::TooLong]);
    }

    #[test]
    fn invalid_utf8_is_rejected_whole() {
        for bad in [
            &b"\xfe"[..],
            b"\xc0\xaf",
            b"\xed\xa0\x80",
            b"\xe2\x82",
            b"ok\x80ok",
        ] {
            let mut input = bad.to_vec();
            input.extend_from_slice(b"\nnext\n");
            check(100, &input, &[Item::BadEncoding, line("next")]);
        }
    }

    #[test]
    fn telnet_commands_are_removed_wherever_they_fall() {
        // IAC IP, IAC AYT, IAC NOP and IAC BRK inside a line.
        check(
            100,
            b"he\xff\xf4llo\xff\xf6 w\xff\xf1or\xff\xf3ld\n",
            &[line("hello world")],
        );
        // WONT and DONT get no answer; a subnegotiation vanishes whole.
        check(
            100,
            b"a\xff\xfc\x01b\xff\xfe\x03c\xff\xfa\x18\x00xterm\xff\xf0d\n",
            &[line("abcd")],
        );
        // IAC inside a subnegotiation that is not SE keeps it open.
        check(100, b"\xff\xfa\x01\xff\x01more\xff\xf0x\n", &[line("x")]);
    }

    #[test]
    fn offered_and_requested_options_are_refused() {
        // Ctrl-C in telnet: IAC IP IAC DO TIMING-MARK.
        check(100, b"\xff\xf4\xff\xfd\x06", &[Item::Reply([IAC, WONT, 6])]);
        check(
            100,
            b"\xff\xfb\x18hi\xff\xfd\x01\n",
            &[Item::Reply([IAC, DONT, 0x18]), Item::DoEcho, line("hi")],
        );
        // DONT ECHO, like every DONT and WONT, gets no answer.
        check(100, b"\xff\xfe\x01\xff\xfc\x01ok\n", &[line("ok")]);
    }

    #[test]
    fn iac_iac_is_a_literal_byte() {
        check(100, b"a\xff\xffb\n", &[Item::BadEncoding]);
    }

    #[test]
    fn an_endless_subnegotiation_is_not_buffered() {
        let mut decoder = LineDecoder::new(16);
        decoder.feed(b"\xff\xfa\x18", |_| panic!("nothing to report"));
        for _ in 0..1000 {
            decoder.feed(&[b'z'; 1000], |_| panic!("nothing to report"));
        }
        assert_eq!(decoder.buffered(), 0);
        let mut lines = Vec::new();
        decoder.feed(b"\xff\xf0ok\n", |item| lines.push(format!("{item:?}")));
        assert_eq!(lines, ["Line(\"ok\")"]);
    }

    #[test]
    fn telnet_bytes_do_not_count_towards_the_limit() {
        check(
            2,
            b"a\xff\xfb\x01b\n",
            &[Item::Reply([IAC, DONT, 1]), line("ab")],
        );
    }

    #[test]
    fn many_lines_in_one_chunk() {
        let input = "m\n".repeat(1000);
        assert_eq!(decode_chunks(10, &[input.as_bytes()]).len(), 1000);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

            #[test]
            fn splitting_never_changes_the_result(
                input in proptest::collection::vec(
                    prop_oneof![Just(b'\n'), Just(b'\r'), Just(0xffu8), Just(0xfd), Just(0xfa), Just(0xf0), any::<u8>(), 0x61u8..0x7a],
                    0..300),
                cuts in proptest::collection::vec(0usize..300, 0..8),
                max_line in 1usize..40,
            ) {
                let whole = decode_chunks(max_line, &[&input]);
                let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (input.len() + 1)).collect();
                points.sort_unstable();
                let mut chunks = Vec::new();
                let mut start = 0;
                for point in points {
                    chunks.push(&input[start..point]);
                    start = point;
                }
                chunks.push(&input[start..]);
                prop_assert_eq!(decode_chunks(max_line, &chunks), whole.clone());
                for item in whole {
                    if let Item::Line(line) = item {
                        prop_assert!(line.len() <= max_line);
                        prop_assert!(!line.contains('\n'));
                    }
                }
            }
        }
    }
}
