//! Message payloads: every message a soak client sends carries
//! `sk <sender> <seq> <kind> <body>`, and every action (`/me`)
//! `sa <sender> <seq> <kind> <body>`, so a receiver can check who sent it,
//! whether it came as the line it was sent as (`MSG`/`ROOM` or `ACTION`),
//! spot duplicates, gaps and reordering per sender (messages and actions
//! share one numbering), and verify that the body arrived exactly as the
//! protocol says (sanitised, telnet-stripped, `//`-unescaped, byte-exact
//! at the length limit).

use common::DEFAULT_MAX_LINE;
use common::telnet::{DONT, IAC, SB, SE, SGA, TTYPE, WILL};

/// Telnet's no-operation command; not in `common::telnet` because the
/// server never needs it by name: it drops any two-byte command.
const NOP: u8 = 241;
/// The `IS` code of a `TTYPE` subnegotiation (RFC 1091).
const TTYPE_IS: u8 = 0;

/// Control and direction characters that must arrive as U+FFFD (TAB stays).
const CONTROL_BODY: &str = "a\u{1}b\u{1b}[2Jc\u{202e}d\u{2028}e\u{7f}f\u{85}g\th\ri\u{2066}j";
/// Multi-byte text that must arrive verbatim.
const UNICODE_BODY: &str = "héllo wörld ✓ 日本語 🦀";
/// Leading, inner and trailing spaces that must arrive verbatim.
const SPACES_BODY: &str = "  two  spaces  ";

/// The kinds of deliverable message, by their one-letter tag.
pub(crate) const KINDS: [char; 7] = ['p', 'c', 'e', 'm', 't', 's', 'u'];
/// The kinds an action may be: all but `//`-escaping, which is about
/// lines that are not commands.
pub(crate) const ACTION_KINDS: [char; 6] = ['p', 'c', 'm', 't', 's', 'u'];
/// What an action line starts with: the command, and the space that ends it.
const ME: &str = "/me ";

/// The line to send (without terminator) for message `seq` of `kind`, and
/// the telnet refusals it should provoke.
pub(crate) fn message_line(kind: char, sender: &str, seq: u64) -> (Vec<u8>, Vec<[u8; 3]>) {
    payload_line(false, kind, sender, seq)
}

/// The `/me` line to send (without terminator) for action `seq` of `kind`
/// (one of [`ACTION_KINDS`]), and the telnet refusals it should provoke.
pub(crate) fn action_line(kind: char, sender: &str, seq: u64) -> (Vec<u8>, Vec<[u8; 3]>) {
    payload_line(true, kind, sender, seq)
}

fn payload_line(action: bool, kind: char, sender: &str, seq: u64) -> (Vec<u8>, Vec<[u8; 3]>) {
    let tag = if action { "sa" } else { "sk" };
    let head = format!("{tag} {sender} {seq} {kind} ");
    let mut line = Vec::new();
    if action {
        line.extend_from_slice(ME.as_bytes());
    }
    let mut telnet = Vec::new();
    match kind {
        'e' => line.extend_from_slice(format!("/{head}escaped").as_bytes()),
        'm' => {
            // The whole line at the limit, `/me ` included.
            line.extend_from_slice(head.as_bytes());
            line.resize(DEFAULT_MAX_LINE, b'x');
        }
        't' => {
            line.extend_from_slice(head.as_bytes());
            line.extend_from_slice(b"ab");
            line.extend_from_slice(&[IAC, NOP]);
            line.extend_from_slice(b"cd");
            line.extend_from_slice(&[IAC, SB, TTYPE, TTYPE_IS, b'v', b't', IAC, SE]);
            line.extend_from_slice(b"ef");
            line.extend_from_slice(&[IAC, WILL, SGA]);
            line.extend_from_slice(b"gh");
            telnet.push([IAC, DONT, SGA]);
        }
        _ => {
            line.extend_from_slice(head.as_bytes());
            line.extend_from_slice(plain_body(kind, seq).as_bytes());
        }
    }
    let mut bytes = Vec::with_capacity(line.len() + 1);
    if kind == 'e' {
        bytes.push(b'/');
    }
    bytes.extend_from_slice(&line);
    (bytes, telnet)
}

/// The body as sent, for kinds whose body is plain text.
fn plain_body(kind: char, seq: u64) -> String {
    match kind {
        'c' => CONTROL_BODY.to_owned(),
        'u' => UNICODE_BODY.to_owned(),
        's' => SPACES_BODY.to_owned(),
        _ => format!("message {seq} of the soak"),
    }
}

/// A message as received.
#[derive(Debug)]
pub(crate) struct Received<'a> {
    pub(crate) sender: &'a str,
    pub(crate) seq: u64,
    /// It was sent as an action (`/me`), not as a message.
    pub(crate) action: bool,
}

/// Parses and checks a received message text.
///
/// # Errors
///
/// A description of what is wrong with it.
pub(crate) fn check_received(text: &str) -> Result<Received<'_>, String> {
    let (escaped, rest) = match text.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut parts = rest.splitn(5, ' ');
    let (Some(tag @ ("sk" | "sa")), Some(sender), Some(seq), Some(kind), Some(body)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(format!("message is not a soak payload: {text:?}"));
    };
    let action = tag == "sa";
    let seq: u64 = seq
        .parse()
        .map_err(|_| format!("bad sequence number in {text:?}"))?;
    let kind_char = kind.chars().next().unwrap_or('?');
    if kind.len() != 1 || !KINDS.contains(&kind_char) {
        return Err(format!(
            "a line the server had to reject was delivered: {text:?}"
        ));
    }
    if escaped != (kind_char == 'e') || (action && escaped) {
        return Err(format!("// escaping not applied as documented: {text:?}"));
    }
    // An action's text is its line after `/me `.
    let line_len = text.len() + if action { ME.len() } else { 0 };
    if !body_ok(kind_char, seq, body, line_len) {
        return Err(format!("kind {kind} body altered in transit: {body:?}"));
    }
    Ok(Received {
        sender,
        seq,
        action,
    })
}

/// Whether a received body is what the protocol promises for its kind;
/// `line_len` is the length of the line it was sent as.
fn body_ok(kind: char, seq: u64, body: &str, line_len: usize) -> bool {
    match kind {
        'e' => body == "escaped",
        'm' => line_len == DEFAULT_MAX_LINE && body.bytes().all(|b| b == b'x'),
        't' => body == "abcdefgh",
        'c' => body == common::sanitize(CONTROL_BODY) && !body.chars().any(common::is_forbidden),
        _ => body == plain_body(kind, seq),
    }
}

/// A line that must be refused `ERR bad-encoding` (invalid UTF-8).
pub(crate) fn bad_encoding_line(sender: &str) -> Vec<u8> {
    let mut line = format!("sk {sender} 0 X ").into_bytes();
    line.extend_from_slice(b"\xc0\xaf \xed\xa0\x80 \xe2\x82");
    line
}

/// A line one byte past the limit, which must be refused `ERR too-long`.
pub(crate) fn too_long_line(sender: &str, extra: usize) -> Vec<u8> {
    let mut line = format!("sk {sender} 0 L ").into_bytes();
    line.resize(DEFAULT_MAX_LINE + extra, b'y');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the server would relay: telnet removed, sanitised, unescaped;
    /// for `/me`, the action's text.
    fn relay(bytes: &[u8]) -> String {
        let mut decoder = common::LineDecoder::new(DEFAULT_MAX_LINE);
        let mut out = None;
        let mut line = bytes.to_vec();
        line.push(b'\n');
        decoder.feed(&line, |item| {
            if let common::Decoded::Line(text) = item {
                out = Some(text.to_owned());
            }
        });
        let text = out.expect("the line decodes");
        match common::parse_input(&text) {
            common::Input::Text { text, .. } => text.to_string(),
            common::Input::Command(Ok(common::Command::Me(text))) => text.to_string(),
            other => panic!("not text or an action: {other:?}"),
        }
    }

    #[test]
    fn every_kind_survives_the_servers_rules() {
        for kind in KINDS {
            let (line, _) = message_line(kind, "c1n1", 7);
            let text = relay(&line);
            let received = check_received(&text).expect("valid");
            assert_eq!((received.sender, received.seq), ("c1n1", 7));
            assert!(!received.action);
        }
    }

    #[test]
    fn every_action_kind_survives_the_servers_rules() {
        for kind in ACTION_KINDS {
            let (line, _) = action_line(kind, "c1n1", 8);
            assert!(line.len() <= DEFAULT_MAX_LINE);
            let text = relay(&line);
            let received = check_received(&text).expect("valid");
            assert_eq!((received.sender, received.seq), ("c1n1", 8));
            assert!(received.action);
        }
    }
}
