//! Every line formats to its wire form and parses back; malformed lines
//! are refused.

use super::*;

fn s(text: &str) -> Arc<str> {
    Arc::from(text)
}

fn every_line() -> Vec<(ServerLine, &'static str)> {
    vec![
        (
            ServerLine::Hello(s("choose a name")),
            "HELLO chinwag/2 choose a name",
        ),
        (ServerLine::Hello(s("")), "HELLO chinwag/2"),
        (ServerLine::Welcome(s("Bob")), "WELCOME Bob"),
        (
            ServerLine::Info(s("  1  list users")),
            "INFO   1  list users",
        ),
        (ServerLine::Info(s("")), "INFO"),
        (ServerLine::Ok(OkReply::Help), "OK help"),
        (ServerLine::Ok(OkReply::List(3)), "OK list 3"),
        (ServerLine::Ok(OkReply::Chat(s("A"))), "OK chat A"),
        (ServerLine::Ok(OkReply::Accept(s("A"))), "OK accept A"),
        (ServerLine::Ok(OkReply::Decline(s("A"))), "OK decline A"),
        (ServerLine::Ok(OkReply::Cancel(s("A"))), "OK cancel A"),
        (
            ServerLine::Ok(OkReply::LeaveChat(s("A"))),
            "OK leave chat A",
        ),
        (
            ServerLine::Ok(OkReply::LeaveRoom(s("r"))),
            "OK leave room r",
        ),
        (ServerLine::Ok(OkReply::Join(s("r"), 2)), "OK join r 2"),
        (ServerLine::Ok(OkReply::Rooms(0)), "OK rooms 0"),
        (ServerLine::Ok(OkReply::Ping(None)), "OK ping -"),
        (ServerLine::Ok(OkReply::Ping(Some(s("x1")))), "OK ping x1"),
        (
            ServerLine::Err(ErrorCode::Busy, s("later")),
            "ERR busy later",
        ),
        (ServerLine::Err(ErrorCode::Usage, s("")), "ERR usage"),
        (
            ServerLine::User(s("A"), UserState::Available),
            "USER A available -",
        ),
        (
            ServerLine::User(s("A"), UserState::Chatting(s("B"))),
            "USER A chatting B",
        ),
        (
            ServerLine::User(s("A"), UserState::Room(s("r"))),
            "USER A room r",
        ),
        (ServerLine::RoomInfo(s("lobby"), 5), "ROOMINFO lobby 5"),
        (ServerLine::Request(s("B")), "REQUEST B"),
        (
            ServerLine::Cancelled(s("B"), CancelReason::Cancelled),
            "CANCELLED B cancelled",
        ),
        (
            ServerLine::Cancelled(s("B"), CancelReason::Busy),
            "CANCELLED B busy",
        ),
        (
            ServerLine::Cancelled(s("B"), CancelReason::Disconnected),
            "CANCELLED B disconnected",
        ),
        (
            ServerLine::Declined(s("B"), DeclineReason::Declined),
            "DECLINED B declined",
        ),
        (
            ServerLine::Declined(s("B"), DeclineReason::Busy),
            "DECLINED B busy",
        ),
        (
            ServerLine::Declined(s("B"), DeclineReason::Disconnected),
            "DECLINED B disconnected",
        ),
        (ServerLine::Chat(s("B")), "CHAT B"),
        (ServerLine::Msg(s("B"), s("hi  there ")), "MSG B hi  there "),
        (ServerLine::Msg(s("B"), s(" lead")), "MSG B  lead"),
        (ServerLine::Ended(s("B"), EndReason::Left), "ENDED B left"),
        (
            ServerLine::Ended(s("B"), EndReason::Disconnected),
            "ENDED B disconnected",
        ),
        (ServerLine::Joined(s("r"), s("B")), "JOINED r B"),
        (
            ServerLine::Parted(s("r"), s("B"), PartReason::Left),
            "PARTED r B left",
        ),
        (
            ServerLine::Parted(s("r"), s("B"), PartReason::Disconnected),
            "PARTED r B disconnected",
        ),
        (
            ServerLine::Room(s("r"), s("B"), s("hello all")),
            "ROOM r B hello all",
        ),
        (ServerLine::Bye(ByeReason::Exit, s("")), "BYE exit"),
        (
            ServerLine::Bye(ByeReason::Replaced, s("signed in elsewhere")),
            "BYE replaced signed in elsewhere",
        ),
        (ServerLine::Bye(ByeReason::Shutdown, s("")), "BYE shutdown"),
        (ServerLine::Bye(ByeReason::Overload, s("")), "BYE overload"),
        (ServerLine::Bye(ByeReason::Timeout, s("")), "BYE timeout"),
        (ServerLine::Bye(ByeReason::Full, s("")), "BYE full"),
        (ServerLine::Bye(ByeReason::Refused, s("")), "BYE refused"),
        (
            ServerLine::Password(s("alice")),
            "PASSWORD alice this name is registered; type its password",
        ),
        (
            ServerLine::History(Box::new(HistoryLine {
                room: s("Den"),
                at_ms: 1_764_000_000_123,
                kind: HistoryKind::Msg,
                from: s("bob"),
                text: s(" hi  there"),
            })),
            "HISTORY Den 1764000000123 msg bob  hi  there",
        ),
        (
            ServerLine::History(Box::new(HistoryLine {
                room: s("Den"),
                at_ms: 0,
                kind: HistoryKind::Action,
                from: s("bob"),
                text: s("waves"),
            })),
            "HISTORY Den 0 action bob waves",
        ),
        (
            ServerLine::Action(Some(s("Den")), s("bob"), s("waves")),
            "ACTION Den bob waves",
        ),
        (
            ServerLine::Action(None, s("bob"), s("waves back")),
            "ACTION - bob waves back",
        ),
        (
            ServerLine::Away(s("bob"), s("at lunch")),
            "AWAY bob at lunch",
        ),
        (ServerLine::Away(s("bob"), s("")), "AWAY bob"),
        (ServerLine::Ignoring(s("troll")), "IGNORING troll"),
        (
            ServerLine::Topic(s("Den"), Some(s("amy")), s("exam on Friday")),
            "TOPIC Den amy exam on Friday",
        ),
        (ServerLine::Topic(s("Den"), None, s("")), "TOPIC Den -"),
        (ServerLine::Op(s("Den"), s("amy")), "OP Den amy"),
        (
            ServerLine::Kicked(s("Den"), s("amy"), s("spam")),
            "KICKED Den amy spam",
        ),
        (
            ServerLine::Kicked(s("Den"), s("amy"), s("")),
            "KICKED Den amy",
        ),
        (ServerLine::User(s("A"), UserState::Away), "USER A away -"),
        (
            ServerLine::Parted(s("r"), s("B"), PartReason::Kicked),
            "PARTED r B kicked",
        ),
        (ServerLine::Ok(OkReply::Register(s("A"))), "OK register A"),
        (ServerLine::Ok(OkReply::Password), "OK password"),
        (
            ServerLine::Ok(OkReply::Unregister(s("A"))),
            "OK unregister A",
        ),
        (ServerLine::Ok(OkReply::Away), "OK away"),
        (ServerLine::Ok(OkReply::Back), "OK back"),
        (ServerLine::Ok(OkReply::Ignore(s("B"))), "OK ignore B"),
        (ServerLine::Ok(OkReply::Unignore(s("B"))), "OK unignore B"),
        (ServerLine::Ok(OkReply::Ignores(2)), "OK ignores 2"),
        (ServerLine::Ok(OkReply::Topic), "OK topic"),
        (ServerLine::Ok(OkReply::Kick(s("B"))), "OK kick B"),
        (ServerLine::Ok(OkReply::Ban(s("B"))), "OK ban B"),
    ]
}

#[test]
fn every_line_formats_and_parses_back() {
    for (line, text) in every_line() {
        assert_eq!(line.to_string(), text);
        let mut bytes = Vec::new();
        line.write_to(&mut bytes);
        assert_eq!(bytes, format!("{text}\r\n").into_bytes());
        assert_eq!(ServerLine::parse(text), Ok(line.clone()), "{text:?}");
        assert_eq!(ServerLine::parse(&format!("{text}\r\n")), Ok(line.clone()));
        assert_eq!(line.tag().as_str(), text.split(' ').next().unwrap());
    }
}

#[test]
fn every_tag_round_trips_and_has_a_case_above() {
    let covered: Vec<Tag> = every_line().iter().map(|(line, _)| line.tag()).collect();
    for &tag in Tag::ALL {
        assert_eq!(tag.as_str().parse::<Tag>(), Ok(tag));
        assert!(covered.contains(&tag), "no test line for {tag}");
    }
}

#[test]
fn malformed_lines_are_rejected() {
    let cases = [
        ("NOPE x", LineParseError::UnknownTag("NOPE".into())),
        ("", LineParseError::UnknownTag("".into())),
        (
            "hello chinwag/2",
            LineParseError::UnknownTag("hello".into()),
        ),
        ("HELLO chinwag/3", LineParseError::Malformed("HELLO")),
        ("WELCOME", LineParseError::Malformed("WELCOME")),
        ("OK", LineParseError::Malformed("OK")),
        ("OK dance", LineParseError::Malformed("OK")),
        ("OK list x", LineParseError::Malformed("OK")),
        ("OK leave sideways x", LineParseError::Malformed("OK leave")),
        ("ERR nope", LineParseError::Malformed("ERR")),
        ("USER a available b", LineParseError::Malformed("USER")),
        ("USER a chatting -", LineParseError::Malformed("USER")),
        ("USER a room -", LineParseError::Malformed("USER")),
        ("USER a away b", LineParseError::Malformed("USER")),
        ("USER a idle -", LineParseError::Malformed("USER")),
        ("BYE", LineParseError::Malformed("BYE")),
        ("BYE later", LineParseError::Malformed("BYE")),
        (
            "HISTORY Den soon msg bob hi",
            LineParseError::Malformed("HISTORY"),
        ),
        (
            "HISTORY Den 1 chat bob hi",
            LineParseError::Malformed("HISTORY"),
        ),
        ("HISTORY Den 1 msg", LineParseError::Malformed("HISTORY")),
        ("PASSWORD", LineParseError::Malformed("PASSWORD")),
        ("ACTION Den", LineParseError::Malformed("ACTION")),
        ("TOPIC", LineParseError::Malformed("TOPIC")),
        ("OP Den", LineParseError::Malformed("OP")),
        ("KICKED Den", LineParseError::Malformed("KICKED")),
        ("OK me", LineParseError::Malformed("OK")),
        ("OK exit", LineParseError::Malformed("OK")),
        ("OK quit", LineParseError::Malformed("OK")),
        ("OK ignores many", LineParseError::Malformed("OK")),
        ("USER a", LineParseError::Malformed("USER")),
        ("ROOMINFO r many", LineParseError::Malformed("ROOMINFO")),
        ("CANCELLED a maybe", LineParseError::Malformed("CANCELLED")),
        ("DECLINED a", LineParseError::Malformed("DECLINED")),
        ("ENDED a gone", LineParseError::Malformed("ENDED")),
        ("PARTED r a gone", LineParseError::Malformed("PARTED")),
        ("JOINED r", LineParseError::Malformed("JOINED")),
        ("ROOM r", LineParseError::Malformed("ROOM")),
        ("MSG  x", LineParseError::Malformed("MSG")),
        ("REQUEST", LineParseError::Malformed("REQUEST")),
        ("CHAT", LineParseError::Malformed("CHAT")),
    ];
    for (text, error) in cases {
        assert_eq!(ServerLine::parse(text), Err(error.clone()), "{text:?}");
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn prose_after_the_fields_is_allowed_and_ignored() {
    assert_eq!(
        ServerLine::parse("OK list 1 that is all"),
        Ok(ServerLine::Ok(OkReply::List(1)))
    );
    assert_eq!(
        ServerLine::parse("CHAT bob say hi"),
        Ok(ServerLine::Chat(s("bob")))
    );
    assert_eq!(
        ServerLine::parse("OK help done"),
        Ok(ServerLine::Ok(OkReply::Help))
    );
}

#[test]
fn error_lines_carry_the_default_prose() {
    let line = ServerLine::error(ErrorCode::NameTaken);
    assert!(
        line.to_string()
            .starts_with("ERR name-taken that name is in use")
    );
}

#[test]
fn reasons_parse() {
    assert_eq!("left".parse::<EndReason>(), Ok(EndReason::Left));
    assert_eq!("busy".parse::<PartReason>(), Err(()));
    assert_eq!(PartReason::Disconnected.as_str(), "disconnected");
    assert_eq!("replaced".parse::<ByeReason>(), Ok(ByeReason::Replaced));
    assert!(!ByeReason::Refused.prose().is_empty());
    assert_eq!(
        ServerLine::bye(ByeReason::Exit).to_string(),
        "BYE exit goodbye"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = Arc<str>> {
        "[A-Za-z0-9][A-Za-z0-9_-]{0,23}".prop_map(|w| Arc::from(w.as_str()))
    }

    fn text() -> impl Strategy<Value = Arc<str>> {
        "[^\r\n]{0,40}".prop_map(|t| Arc::from(t.as_str()))
    }

    fn any_line() -> impl Strategy<Value = ServerLine> {
        prop_oneof![
            text().prop_map(ServerLine::Info),
            (word(), text()).prop_map(|(a, t)| ServerLine::Msg(a, t)),
            (word(), word(), text()).prop_map(|(r, a, t)| ServerLine::Room(r, a, t)),
            (word(), any::<usize>()).prop_map(|(r, n)| ServerLine::RoomInfo(r, n)),
            (word(), word()).prop_map(|(a, b)| ServerLine::User(a, UserState::Chatting(b))),
            prop::option::of(word()).prop_map(|t| ServerLine::Ok(OkReply::Ping(t))),
            (word(), any::<usize>()).prop_map(|(r, n)| ServerLine::Ok(OkReply::Join(r, n))),
            (0..ErrorCode::ALL.len(), text())
                .prop_map(|(i, t)| ServerLine::Err(ErrorCode::ALL[i], t)),
        ]
    }

    proptest! {
        #[test]
        fn format_then_parse_is_the_identity(line in any_line()) {
            prop_assert_eq!(ServerLine::parse(&line.to_string()), Ok(line));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,60}") {
            let _ = ServerLine::parse(&text);
        }
    }
}
