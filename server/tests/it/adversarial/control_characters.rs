//! Control, escape, C1 and bidirectional characters: invalid in names and
//! room names, replaced by U+FFFD (one each, neighbours kept) in everything
//! the server relays.

use super::R;
use crate::harness::{Control, Server, join_room};

#[test]
fn names_and_room_names_with_control_or_direction_characters_are_invalid() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut naming = server.connect("naming");
    let bad = [
        "a\u{0}b",
        "\u{1b}[31mred",
        "red\u{1b}",
        "\u{1b}]0;x\u{7}",
        "a\u{7f}b",
        "a\tb",
        "a\rb",
        "a\u{80}b",
        "a\u{85}b",
        "a\u{9b}b",
        "a\u{9f}b",
        "\u{202e}abc",
        "a\u{202a}b",
        "a\u{2066}b",
        "a\u{2069}b",
        "a\u{2028}b",
        "a\u{200f}b",
        "a\u{feff}",
    ];
    for name in bad {
        naming.send(name);
        naming.expect("ERR name-invalid");
    }
    naming.send("nora");
    naming.expect("WELCOME nora");
    naming.skip_info();
    for room in bad {
        naming.send(&format!("/join {room}"));
        naming.expect("ERR name-invalid");
    }
    naming.send("/rooms");
    naming.expect("OK rooms 0");
    ctl.check(&["nora"]);
}

#[test]
fn every_forbidden_code_point_is_replaced_and_its_neighbours_kept() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let (mut a, mut b) = server.pair("alice", "bob");
    let forbidden: Vec<char> = (0u32..=0x1f)
        .filter(|&c| c != 0x09 && c != 0x0a)
        .chain(0x7f..=0x9f)
        .chain([0x2028, 0x2029])
        .chain(0x202a..=0x202e)
        .chain(0x2066..=0x2069)
        .filter_map(char::from_u32)
        .collect();
    let allowed = [
        '\t',
        ' ',
        '~',
        '\u{a0}',
        '\u{a1}',
        '\u{200e}',
        '\u{200f}',
        '\u{2027}',
        '\u{202f}',
        '\u{2065}',
        '\u{206a}',
        '\u{feff}',
        '\u{fffd}',
        '\u{10ffff}',
    ];
    // All in one write: one line per character, wrapped so a CR is not
    // taken as part of the line ending.
    let mut bytes = String::new();
    for c in forbidden.iter().chain(&allowed) {
        bytes.push('<');
        bytes.push(*c);
        bytes.push_str(">\n");
    }
    a.send_raw(bytes.as_bytes());
    for _ in &forbidden {
        b.expect(&format!("MSG alice <{R}>"));
    }
    for c in allowed {
        b.expect(&format!("MSG alice <{c}>"));
    }
    a.quiet();
    b.quiet();
    ctl.check(&["alice", "bob"]);
}

#[test]
fn escapes_are_neutralised_in_room_messages_escaped_lines_and_ping_tokens() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut c = server.login("carol");
    let mut d = server.login("dave");
    let mut e = server.login("erin");
    join_room("den", &mut [&mut c, &mut d, &mut e]);
    for (sent, want) in [
        (
            "\u{1b}[2J\u{1b}[H\u{1b}]0;pwned\u{7}".to_owned(),
            format!("{R}[2J{R}[H{R}]0;pwned{R}"),
        ),
        (
            "\u{9b}31m\u{90}q\u{9c}".to_owned(),
            format!("{R}31m{R}q{R}"),
        ),
        (
            "abc\u{202e}fed\u{2066}x\u{2069}".to_owned(),
            format!("abc{R}fed{R}x{R}"),
        ),
        ("//\u{1b}c".to_owned(), format!("/{R}c")),
        ("nul\u{0}".to_owned(), format!("nul{R}")),
    ] {
        c.send(&sent);
        d.expect(&format!("ROOM den carol {want}"));
        e.expect(&format!("ROOM den carol {want}"));
    }
    c.send("/ping \u{1b}]0;x\u{7}\u{202e}");
    c.expect(&format!("OK ping {R}]0;x{R}{R}"));
    // A chat partner gets the `//` form sanitised too.
    let (mut a, mut b) = server.pair("alice", "bob");
    a.send("//\u{1b}[1mbold\u{85}");
    b.expect(&format!("MSG alice /{R}[1mbold{R}"));
    for client in [&mut a, &mut b, &mut c, &mut d, &mut e] {
        client.quiet();
    }
    ctl.check(&["alice", "bob", "carol", "dave", "erin"]);
}
