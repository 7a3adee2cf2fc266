//! The cluster's log, as values and as text. Every node appends what its
//! connections do to one Redis stream, and every node applies the whole
//! stream, in the stream's order, to its own copy of the hub; so each
//! entry must say exactly what the hub is to do, and nothing secret. A
//! line is logged as typed (every copy parses it alike), except that a
//! password in a command becomes a stand-in of the same length class.
//!
//! One stream entry carries batches from one node, one batch per waiting
//! connection; each record is a line of tab-separated fields:
//!
//! ```text
//! C <conn> <ms>                     a connection arrives
//! L <conn> <ms> <line>              it sent a line (the text last: it may hold tabs)
//! P <conn> <ms>                     it sent the line after PASSWORD (kept on its node)
//! T <conn> <ms> <purpose> <ok> <hash or -> [<name>]   its password work finished
//! D <conn> <ms>                     it closed
//! H <node> <ms>                     a node joins
//! N <node> <ms>                     a node is gone (its connections close)
//! ```

use std::sync::Arc;

use common::{Command, Input, Name, Secret, Verb, parse_input};

use crate::hub::{Call, ConnId, Done, Now, Purpose};

/// The bits of a connection id below the node's number: each node counts
/// its own connections, and `node << NODE_SHIFT | count` is unique.
pub(crate) const NODE_SHIFT: u32 = 40;

/// The node a connection belongs to.
pub(crate) fn node_of(conn: ConnId) -> u32 {
    u32::try_from(conn >> NODE_SHIFT).unwrap_or(u32::MAX)
}

/// One thing to apply, stamped with its node's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) at: Now,
    pub(crate) what: What,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum What {
    /// A connection arrived.
    Connect(ConnId),
    /// A connection sent a line (already free of passwords).
    Line(ConnId, String),
    /// A connection sent the line after `PASSWORD`.
    Password(ConnId),
    /// A connection's password work finished.
    TaskDone(ConnId, Done),
    /// A connection closed.
    Disconnect(ConnId),
    /// A node joined.
    Hello(u32),
    /// A node is gone.
    NodeDown(u32),
}

impl What {
    /// The hub call this is, for a connection's record.
    pub(crate) fn call(&self) -> Option<(ConnId, Call)> {
        match self {
            What::Line(conn, line) => Some((*conn, Call::Input(parse_input(line)))),
            What::Password(conn) => Some((*conn, Call::Password)),
            What::TaskDone(conn, done) => Some((*conn, Call::TaskDone(done.clone()))),
            What::Disconnect(conn) => Some((*conn, Call::Disconnect)),
            What::Connect(_) | What::Hello(_) | What::NodeDown(_) => None,
        }
    }
}

/// A line as it may be logged: a command's passwords replaced by
/// stand-ins that the hub reads exactly as it would the real ones (a new
/// password is weak or not; a malformed command stays malformed), since it
/// looks at nothing else of them.
pub(crate) fn loggable(line: &str) -> String {
    let Some(command) = line.strip_prefix('/') else {
        return line.to_owned();
    };
    let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
    let Some(verb) = Verb::of(word).filter(|verb| verb.args().is_secret()) else {
        return line.to_owned();
    };
    let stand_in = |password: &Secret| {
        if crate::hub::is_weak(password) {
            "x"
        } else {
            "password"
        }
    };
    let logged = match parse_input(line) {
        Input::Command(Ok(Command::Register(password))) => stand_in(&password).to_owned(),
        Input::Command(Ok(Command::Password { new, .. })) => {
            format!("password {}", stand_in(&new))
        }
        Input::Command(Ok(_)) => "password".to_owned(),
        // Refused for its arguments: as many stand-ins as there were words.
        _ => vec!["x"; rest.split(' ').filter(|w| !w.is_empty()).count()].join(" "),
    };
    if logged.is_empty() {
        format!("/{}", verb.name())
    } else {
        format!("/{} {logged}", verb.name())
    }
}

/// Writes records as text, one per line.
pub(crate) fn encode(records: &[Record], out: &mut String) {
    use std::fmt::Write as _;
    for record in records {
        let ms = record.at.unix_ms;
        // Writing into a String cannot fail.
        let _ = match &record.what {
            What::Connect(conn) => writeln!(out, "C\t{conn}\t{ms}"),
            What::Line(conn, line) => writeln!(out, "L\t{conn}\t{ms}\t{line}"),
            What::Password(conn) => writeln!(out, "P\t{conn}\t{ms}"),
            What::TaskDone(conn, done) => {
                let (purpose, name) = match &done.purpose {
                    Purpose::SignIn(name) => ("signin", name.as_str()),
                    Purpose::Register => ("register", ""),
                    Purpose::ChangePassword => ("password", ""),
                    Purpose::Unregister => ("unregister", ""),
                };
                let ok = u8::from(done.checked);
                let hash = done.hash.as_deref().unwrap_or("-");
                writeln!(out, "T\t{conn}\t{ms}\t{purpose}\t{ok}\t{hash}\t{name}")
            }
            What::Disconnect(conn) => writeln!(out, "D\t{conn}\t{ms}"),
            What::Hello(node) => writeln!(out, "H\t{node}\t{ms}"),
            What::NodeDown(node) => writeln!(out, "N\t{node}\t{ms}"),
        };
    }
}

/// Why a record could not be read: only a bug or another program writing
/// to the stream would cause it; the record is skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a malformed log record: {0:?}")]
pub(crate) struct BadRecord(pub(crate) String);

/// Reads one record.
pub(crate) fn decode(text: &str) -> Result<Record, BadRecord> {
    let bad = || BadRecord(text.to_owned());
    let mut fields = text.splitn(4, '\t');
    let (Some(kind), Some(who), Some(ms)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(bad());
    };
    let who: u64 = who.parse().map_err(|_| bad())?;
    let at = Now {
        unix_ms: ms.parse().map_err(|_| bad())?,
    };
    let rest = fields.next();
    let node = || u32::try_from(who).map_err(|_| bad());
    let what = match (kind, rest) {
        ("C", None) => What::Connect(who),
        ("L", Some(line)) => What::Line(who, line.to_owned()),
        ("P", None) => What::Password(who),
        ("T", Some(rest)) => What::TaskDone(who, decode_done(rest).ok_or_else(bad)?),
        ("D", None) => What::Disconnect(who),
        ("H", None) => What::Hello(node()?),
        ("N", None) => What::NodeDown(node()?),
        _ => return Err(bad()),
    };
    Ok(Record { at, what })
}

fn decode_done(text: &str) -> Option<Done> {
    let mut fields = text.split('\t');
    let purpose = fields.next()?;
    let checked = match fields.next()? {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    let hash = match fields.next()? {
        "-" => None,
        hash => Some(Arc::from(hash)),
    };
    let name = fields.next().unwrap_or("");
    let purpose = match purpose {
        "signin" => Purpose::SignIn(Name::parse(name).ok()?),
        "register" => Purpose::Register,
        "password" => Purpose::ChangePassword,
        "unregister" => Purpose::Unregister,
        _ => return None,
    };
    Some(Done {
        purpose,
        checked,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Now {
        Now { unix_ms: ms }
    }

    #[test]
    fn every_record_survives_the_text() {
        let conn = (3u64 << NODE_SHIFT) | 17;
        let records = vec![
            Record {
                at: at(1),
                what: What::Connect(conn),
            },
            Record {
                at: at(2),
                what: What::Line(conn, "hello\tthere /me".to_owned()),
            },
            Record {
                at: at(3),
                what: What::Line(conn, String::new()),
            },
            Record {
                at: at(4),
                what: What::Password(conn),
            },
            Record {
                at: at(5),
                what: What::TaskDone(
                    conn,
                    Done {
                        purpose: Purpose::SignIn(Name::parse("Alice").unwrap()),
                        checked: true,
                        hash: None,
                    },
                ),
            },
            Record {
                at: at(6),
                what: What::TaskDone(
                    conn,
                    Done {
                        purpose: Purpose::Register,
                        checked: true,
                        hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
                    },
                ),
            },
            Record {
                at: at(7),
                what: What::Disconnect(conn),
            },
            Record {
                at: at(8),
                what: What::Hello(3),
            },
            Record {
                at: at(9),
                what: What::NodeDown(4),
            },
        ];
        let mut text = String::new();
        encode(&records, &mut text);
        let back: Vec<Record> = text.lines().map(|line| decode(line).unwrap()).collect();
        assert_eq!(back, records);
        assert_eq!(node_of(conn), 3);
    }

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(loggable("/register correct horse"), "/register password");
        assert_eq!(loggable("/REGISTER short"), "/register x");
        assert_eq!(
            loggable("/password old-one new-one-long"),
            "/password password password"
        );
        assert_eq!(loggable("/password old-one tiny"), "/password password x");
        assert_eq!(loggable("/unregister my secret"), "/unregister password");
        // A malformed one stays malformed, without its words.
        assert_eq!(loggable("/register"), "/register");
        assert_eq!(loggable("/register    "), "/register");
        assert_eq!(loggable("/password one"), "/password x");
        assert_eq!(loggable("/password a b c"), "/password x x x");
        assert_eq!(loggable("/unregister"), "/unregister");
        assert_eq!(loggable("hello"), "hello");
        assert_eq!(loggable("//register me"), "//register me");
        for line in [
            "/register pw",
            "/password a",
            "/password a b",
            "/unregister",
        ] {
            let logged = parse_input(&loggable(line));
            let typed = parse_input(line);
            let kind = |input: &Input| match input {
                Input::Command(Ok(command)) => format!("{:?}", std::mem::discriminant(command)),
                Input::Command(Err(error)) => format!("{:?}", error.code),
                Input::Text { .. } => "text".to_owned(),
            };
            assert_eq!(kind(&logged), kind(&typed), "{line}");
        }
    }

    proptest::proptest! {
        /// Whatever another program or a bug puts in the stream, reading
        /// it never panics, and a record read back writes the same text.
        #[test]
        fn any_text_is_read_without_panicking(text in "\\PC{0,80}", tabs in 0usize..6) {
            let text = format!("{text}{}", "\t1".repeat(tabs));
            if let Ok(record) = decode(&text) {
                let mut again = String::new();
                encode(std::slice::from_ref(&record), &mut again);
                proptest::prop_assert_eq!(decode(again.trim_end_matches('\n')), Ok(record));
            }
        }

        /// Every line a user can send survives the log unchanged, unless
        /// it is a password command (then `loggable` changed it).
        #[test]
        fn lines_survive_the_log(line in "[^\n\r]{0,200}", conn in 0u64..(1 << 50), ms in 0u64..(1 << 45)) {
            let logged = loggable(&line);
            let record = Record { at: at(ms), what: What::Line(conn, logged.clone()) };
            let mut text = String::new();
            encode(std::slice::from_ref(&record), &mut text);
            proptest::prop_assert_eq!(decode(text.trim_end_matches('\n')), Ok(record));
            let secret = line.strip_prefix('/').and_then(|rest| Verb::of(rest.split(' ').next().unwrap_or("")))
                .is_some_and(|verb| verb.args().is_secret());
            if !secret {
                proptest::prop_assert_eq!(logged, line);
            }
        }
    }

    #[test]
    fn malformed_records_are_refused() {
        for text in [
            "",
            "C",
            "C\tx\t1",
            "Q\t1\t1",
            "T\t1\t1\tnope\t1\t-\t",
            "H\t99999999999\t1",
        ] {
            assert!(decode(text).is_err(), "{text:?}");
        }
    }
}
