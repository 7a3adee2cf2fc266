//! Every command, alias and escape, as a table.

use super::*;

fn command(line: &str) -> Result<Command, ErrorCode> {
    match parse_input(line) {
        Input::Command(parsed) => parsed.map_err(|error| error.code),
        other => panic!("{line:?} is not a command: {other:?}"),
    }
}

fn text(line: &str) -> (String, Option<Result<Command, ErrorCode>>) {
    match parse_input(line) {
        Input::Text { text, alias } => (text.to_string(), alias.map(|a| a.map_err(|e| e.code))),
        other => panic!("{line:?} is not text: {other:?}"),
    }
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[test]
fn every_command_and_its_arguments() {
    use Command::*;
    let cases: &[(&str, Result<Command, ErrorCode>)] = &[
        ("/help", Ok(Help)),
        ("/help me", Err(ErrorCode::Usage)),
        ("/list", Ok(List)),
        ("/list x", Err(ErrorCode::Usage)),
        ("/chat bob", Ok(Chat("bob".into()))),
        ("/chat", Err(ErrorCode::Usage)),
        ("/chat bob carol", Err(ErrorCode::Usage)),
        ("/accept", Ok(Accept(None))),
        ("/accept bob", Ok(Accept(some("bob")))),
        ("/accept a b", Err(ErrorCode::Usage)),
        ("/decline", Ok(Decline(None))),
        ("/decline bob", Ok(Decline(some("bob")))),
        ("/decline a b", Err(ErrorCode::Usage)),
        ("/cancel", Ok(Cancel)),
        ("/cancel bob", Err(ErrorCode::Usage)),
        ("/leave", Ok(Leave)),
        ("/leave now", Err(ErrorCode::Usage)),
        ("/join lobby", Ok(Join("lobby".into()))),
        ("/join", Err(ErrorCode::Usage)),
        ("/join a b", Err(ErrorCode::Usage)),
        ("/rooms", Ok(Rooms)),
        ("/rooms x", Err(ErrorCode::Usage)),
        ("/ping", Ok(Ping(None))),
        ("/ping t0k", Ok(Ping(Some("t0k".into())))),
        ("/ping a b", Err(ErrorCode::Usage)),
        ("/exit", Ok(Exit)),
        ("/quit", Ok(Exit)),
        ("/exit now please", Ok(Exit)),
        ("/quit bye", Ok(Exit)),
        ("/nope", Err(ErrorCode::UnknownCommand)),
        ("/", Err(ErrorCode::UnknownCommand)),
        ("/ list", Err(ErrorCode::UnknownCommand)),
        ("/list\t", Err(ErrorCode::UnknownCommand)),
    ];
    for (line, expected) in cases {
        assert_eq!(&command(line), expected, "line {line:?}");
    }
}

#[test]
fn version_2_commands_and_their_arguments() {
    use Command::*;
    let t = |text: &str| -> Arc<str> { Arc::from(text) };
    let cases: &[(&str, Result<Command, ErrorCode>)] = &[
        ("/me waves", Ok(Me(t("waves")))),
        ("/me   waves  at  you ", Ok(Me(t("waves  at  you ")))),
        ("/me \u{1b}[2J", Ok(Me(t("\u{fffd}[2J")))),
        ("/me", Err(ErrorCode::Usage)),
        ("/me    ", Err(ErrorCode::Usage)),
        ("/away", Ok(Away(None))),
        ("/away at lunch", Ok(Away(Some(t("at lunch"))))),
        ("/back", Ok(Back)),
        ("/back now", Err(ErrorCode::Usage)),
        ("/ignore troll", Ok(Ignore("troll".into()))),
        ("/ignore", Err(ErrorCode::Usage)),
        ("/ignore a b", Err(ErrorCode::Usage)),
        ("/unignore troll", Ok(Unignore("troll".into()))),
        ("/ignores", Ok(Ignores)),
        ("/ignores x", Err(ErrorCode::Usage)),
        ("/topic", Ok(Topic(None))),
        (
            "/topic exam on Friday",
            Ok(Topic(Some(t("exam on Friday")))),
        ),
        ("/kick bob", Ok(Kick("bob".into(), None))),
        (
            "/kick bob  too  loud",
            Ok(Kick("bob".into(), Some(t("too  loud")))),
        ),
        ("/kick", Err(ErrorCode::Usage)),
        ("/ban bob", Ok(Ban("bob".into()))),
        ("/ban bob now", Err(ErrorCode::Usage)),
        (
            "/register correct horse",
            Ok(Register(Secret::new("correct horse"))),
        ),
        (
            "/register  two  spaces ",
            Ok(Register(Secret::new("two  spaces "))),
        ),
        ("/register", Err(ErrorCode::Usage)),
        ("/unregister pw", Ok(Unregister(Secret::new("pw")))),
        ("/unregister", Err(ErrorCode::Usage)),
        (
            "/password old new",
            Ok(Password {
                old: Secret::new("old"),
                new: Secret::new("new"),
            }),
        ),
        ("/password old", Err(ErrorCode::Usage)),
        ("/password a b c", Err(ErrorCode::Usage)),
    ];
    for (line, expected) in cases {
        assert_eq!(&command(line), expected, "line {line:?}");
    }
}

#[test]
fn a_password_is_taken_as_typed_not_sanitised() {
    let Ok(Command::Register(secret)) = command("/register tab\there\u{7f}") else {
        panic!("not a register command");
    };
    assert_eq!(secret.expose(), "tab\there\u{7f}".as_bytes());
    assert!(Verb::Register.args().is_secret());
    assert!(Verb::Password.args().is_secret());
    assert!(!Verb::Me.args().is_secret());
}

#[test]
fn commands_are_case_insensitive_and_arguments_split_on_runs_of_spaces() {
    assert_eq!(command("/LIST"), Ok(Command::List));
    assert_eq!(command("/Chat   bob  "), Ok(Command::Chat("bob".into())));
    assert_eq!(command("/QuIt"), Ok(Command::Exit));
    assert_eq!(command("/list   "), Ok(Command::List));
}

#[test]
fn usage_errors_name_their_command() {
    for (line, name) in [
        ("/HELP x", "help"),
        ("/list x", "list"),
        ("/Chat", "chat"),
        ("/accept a b", "accept"),
        ("/decline a b", "decline"),
        ("/cancel x", "cancel"),
        ("/leave x", "leave"),
        ("/join", "join"),
        ("/rooms x", "rooms"),
        ("/ping a b", "ping"),
    ] {
        let expected = CommandError {
            code: ErrorCode::Usage,
            command: Verb::of(name),
        };
        assert_eq!(parse_input(line), Input::Command(Err(expected)), "{line:?}");
    }
    let unknown = CommandError {
        code: ErrorCode::UnknownCommand,
        command: None,
    };
    assert_eq!(parse_input("/x"), Input::Command(Err(unknown)));
    for (line, name) in [
        ("1 x", "list"),
        ("2", "chat"),
        ("yes a b", "accept"),
        ("n a b", "decline"),
    ] {
        match parse_input(line) {
            Input::Text {
                alias: Some(Err(error)),
                ..
            } => assert_eq!(error.command.map(Verb::name), Some(name)),
            other => panic!("{line:?}: {other:?}"),
        }
    }
}

#[test]
fn ping_tokens_are_sanitised() {
    assert_eq!(
        command("/ping a\u{1b}b"),
        Ok(Command::Ping(Some("a\u{fffd}b".into())))
    );
    assert_eq!(
        command("/ping \u{202e}x"),
        Ok(Command::Ping(Some("\u{fffd}x".into())))
    );
}

#[test]
fn menu_aliases() {
    use Command::*;
    let cases: &[(&str, Option<Result<Command, ErrorCode>>)] = &[
        ("1", Some(Ok(List))),
        ("1 x", Some(Err(ErrorCode::Usage))),
        ("2 bob", Some(Ok(Chat("bob".into())))),
        ("2", Some(Err(ErrorCode::Usage))),
        ("3", Some(Ok(Exit))),
        ("3 bye", Some(Ok(Exit))),
        ("yes", Some(Ok(Accept(None)))),
        ("YES", Some(Ok(Accept(None)))),
        ("y bob", Some(Ok(Accept(some("bob"))))),
        ("Y", Some(Ok(Accept(None)))),
        ("no", Some(Ok(Decline(None)))),
        ("N carol", Some(Ok(Decline(some("carol"))))),
        ("no thanks at all", Some(Err(ErrorCode::Usage))),
        ("  1", Some(Ok(List))),
        ("hello", None),
        ("yesterday", None),
        ("12", None),
        ("", None),
    ];
    for (line, expected) in cases {
        assert_eq!(&text(line).1, expected, "line {line:?}");
    }
}

#[test]
fn text_keeps_its_spaces_and_is_sanitised() {
    assert_eq!(text("  hi  there "), ("  hi  there ".into(), None));
    assert_eq!(text("a\u{7}b\rc").0, "a\u{fffd}b\u{fffd}c");
    assert_eq!(text("tab\there").0, "tab\there");
}

#[test]
fn double_slash_escapes_a_message() {
    assert_eq!(text("//help"), ("/help".into(), None));
    assert_eq!(text("//"), ("/".into(), None));
    assert_eq!(text("///x"), ("//x".into(), None));
    assert_eq!(text("//1"), ("/1".into(), None));
}

#[test]
fn every_word_of_every_command_parses_to_that_command() {
    for &verb in Verb::ALL {
        for word in verb.words() {
            assert_eq!(Verb::of(word), Some(verb));
            assert_eq!(Verb::of(&word.to_ascii_uppercase()), Some(verb));
            let line = match verb.args() {
                Args::User | Args::Room | Args::Text | Args::Secret | Args::UserAndText => {
                    format!("/{word} x")
                }
                Args::TwoSecrets => format!("/{word} x y"),
                _ => format!("/{word}"),
            };
            match parse_input(&line) {
                Input::Command(Ok(_)) => {}
                other => panic!("{line:?}: {other:?}"),
            }
        }
    }
    assert_eq!(Verb::Exit.name(), "exit");
    assert_eq!(Verb::of("quit"), Some(Verb::Exit));
    assert_eq!(Verb::of(""), None);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsing_never_panics_and_text_is_clean(line in "\\PC*|[/ a-zA-Z0-9\u{0}-\u{1f}\u{80}-\u{9f}\u{2028}-\u{202e}]*") {
            match parse_input(&line) {
                Input::Text { text, .. } => prop_assert!(!text.chars().any(crate::is_forbidden)),
                Input::Command(Ok(Command::Ping(Some(token)))) => {
                    prop_assert!(!token.chars().any(crate::is_forbidden));
                    prop_assert!(!token.contains(' '));
                }
                Input::Command(_) => {}
            }
        }
    }
}
