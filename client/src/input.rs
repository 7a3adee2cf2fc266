//! What the user typed → protocol lines. A pasted block arrives as one
//! string with newlines; only its first line may be a command, and every
//! later line that starts with `/` is sent as a message (`//…`), so a pasted
//! `/exit` can never disconnect anyone. Names are checked locally before they
//! are sent, with the same rules and words as the server. A command that
//! carries a password (`/register`, `/password`, `/unregister`: the
//! protocol's `Args::is_secret`) is recognised here so that it is masked
//! while typed and never kept in the history.

use common::{Command, Input, Name, Secret, Verb, parse_input};

use crate::state::Place;

/// Splits what one `readline` returned into the lines to send, in order.
/// Empty lines are dropped (the server ignores them anyway) and a `\r`
/// before a newline is removed.
pub(crate) fn split_typed(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if index > 0 && line.starts_with('/') {
            lines.push(format!("/{line}"));
        } else {
            lines.push(line.to_owned());
        }
    }
    lines
}

/// Why `text` cannot be a username, in words for the user; `None` if it
/// can. `/exit`, `/quit` and `/help` are not names but work while naming.
pub(crate) fn name_problem(text: &str) -> Option<String> {
    if is_naming_command(text) {
        return None;
    }
    match Name::parse(text) {
        Ok(_) => None,
        Err(error) => Some(format!(
            "{text:?} cannot be a name: {error}. try again (or /exit)"
        )),
    }
}

/// The commands the server accepts before a name is chosen.
pub(crate) fn is_naming_command(text: &str) -> bool {
    let word = text
        .strip_prefix('/')
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    ["exit", "quit", "help"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(word))
}

/// Whether `line`, sent from `place`, asks the server to close the
/// connection: `/exit` or `/quit` anywhere, the alias `3` at the menu.
pub(crate) fn is_exit_in(line: &str, place: &Place) -> bool {
    is_exit(line) || (*place == Place::Menu && line.split(' ').find(|w| !w.is_empty()) == Some("3"))
}

/// The command word of `line` (`/word …`), if it is a command and not an
/// escaped message (`//…`).
fn command_word(line: &str) -> Option<&str> {
    line.strip_prefix('/')
        .filter(|rest| !rest.starts_with('/'))
        .map(|rest| rest.split(' ').next().unwrap_or_default())
}

/// Where the password starts in `line` (the byte after the command word and
/// its space), if `line` is a command that carries one.
pub(crate) fn secret_start(line: &str) -> Option<usize> {
    let word = command_word(line)?;
    let verb = Verb::of(word)?;
    if !verb.args().is_secret() {
        return None;
    }
    // `/` + word + the space; a line without the space has no secret yet.
    let start = 1 + word.len() + 1;
    (line.len() >= start).then_some(start)
}

/// Whether `line` is a command that carries a password.
pub(crate) fn is_secret(line: &str) -> bool {
    command_word(line)
        .and_then(Verb::of)
        .is_some_and(|verb| verb.args().is_secret())
}

/// The password `line` sets if the server accepts it: the one of
/// `/register PASSWORD`, the new one of `/password OLD NEW`; read by the
/// protocol's own parser, so exactly as the server will read it.
pub(crate) fn new_password(line: &str) -> Option<Secret> {
    match parse_input(line) {
        Input::Command(Ok(Command::Register(secret) | Command::Password { new: secret, .. })) => {
            Some(secret)
        }
        _ => None,
    }
}

/// Whether `line` is `/exit` or `/quit`.
pub(crate) fn is_exit(line: &str) -> bool {
    let word = line
        .strip_prefix('/')
        .filter(|rest| !rest.starts_with('/'))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    word.eq_ignore_ascii_case("exit") || word.eq_ignore_ascii_case("quit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_line_is_sent_as_is() {
        assert_eq!(split_typed("/list"), ["/list"]);
        assert_eq!(split_typed("hello  there "), ["hello  there "]);
        assert_eq!(split_typed("//not a command"), ["//not a command"]);
        assert!(split_typed("").is_empty());
    }

    #[test]
    fn a_paste_becomes_lines_and_only_the_first_may_be_a_command() {
        assert_eq!(
            split_typed("first\nsecond\r\n\n/exit\n//x\nlast"),
            ["first", "second", "//exit", "///x", "last"]
        );
        assert_eq!(split_typed("/join r\n/leave"), ["/join r", "//leave"]);
        assert_eq!(split_typed("\n/exit"), ["//exit"]);
    }

    #[test]
    fn names_are_checked_with_helpful_words() {
        assert_eq!(name_problem("alice"), None);
        assert_eq!(name_problem("/exit"), None);
        assert_eq!(name_problem("/HELP"), None);
        assert_eq!(
            name_problem("al ice").unwrap(),
            "\"al ice\" cannot be a name: a name uses only letters, digits, '_' and '-'. try again (or /exit)"
        );
        assert_eq!(
            name_problem("_x").unwrap(),
            "\"_x\" cannot be a name: a name starts with a letter or a digit. try again (or /exit)"
        );
        assert!(
            name_problem(&"a".repeat(25))
                .unwrap()
                .contains("a name has at most 24 characters")
        );
        assert!(
            name_problem("/list")
                .unwrap()
                .contains("only letters, digits")
        );
    }

    #[test]
    fn password_commands_are_secret() {
        assert!(is_secret("/register hunter2 hunter2"));
        assert!(is_secret("/PASSWORD old new"));
        assert!(is_secret("/unregister x"));
        assert!(is_secret("/register"));
        assert!(!is_secret("//register x"));
        assert!(!is_secret("/registers x"));
        assert!(!is_secret("/list"));
        assert!(!is_secret("register x"));
        assert_eq!(secret_start("/register hunter2"), Some(10));
        assert_eq!(secret_start("/password a b"), Some(10));
        assert_eq!(secret_start("/register"), None);
        assert_eq!(secret_start("/register "), Some(10));
        assert_eq!(secret_start("/join x"), None);
    }

    #[test]
    fn new_passwords_are_read_as_the_server_reads_them() {
        let new = |line| new_password(line).map(|s| s.expose().to_vec());
        assert_eq!(new("/register two  words "), Some(b"two  words ".to_vec()));
        assert_eq!(new("/PASSWORD old-one new-one"), Some(b"new-one".to_vec()));
        assert_eq!(new("/password only-one"), None);
        assert_eq!(new("/unregister it"), None);
        assert_eq!(new("//register x"), None);
        assert_eq!(new("register x"), None);
    }

    #[test]
    fn exit_commands_are_recognised() {
        assert!(is_exit("/exit"));
        assert!(is_exit("/QUIT now"));
        assert!(!is_exit("//exit"));
        assert!(!is_exit("exit"));
        assert!(!is_exit("/exiting"));
        assert!(is_exit_in("3", &Place::Menu));
        assert!(!is_exit_in("3", &Place::Chat("b".into())));
        assert!(is_exit_in("/exit", &Place::Naming));
    }
}
