//! Tab-completion candidates, pure: command names for the first word, user
//! names after every command whose first argument is one (`/chat`,
//! `/accept`, `/ignore`, `/kick`…; the protocol's `Args::starts_with_user`)
//! and anywhere in a message or a command's free text (`/me`, `/away`,
//! `/topic`, a kick's reason), room names after `/join`. Never inside a
//! password: not after `/register` and its kind, not at the password
//! prompt. Matching ignores ASCII case, as the server does.

use common::{Args, Verb};

use crate::state::{Place, State};

/// Every command word, with a trailing space when it takes an argument,
/// sorted: all of them come from the protocol's own list.
fn commands() -> Vec<String> {
    let mut commands: Vec<String> = Verb::ALL
        .iter()
        .flat_map(|verb| {
            let space = match verb.args() {
                Args::None | Args::Ignored => "",
                _ => " ",
            };
            verb.words()
                .iter()
                .map(move |word| format!("/{word}{space}"))
        })
        .collect();
    commands.sort();
    commands
}

/// A completion: where the word being completed starts, and what may
/// replace it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Completion {
    pub(crate) start: usize,
    pub(crate) candidates: Vec<String>,
}

/// The candidates for the word before byte `pos` in `line`.
pub(crate) fn complete(line: &str, pos: usize, state: &State) -> Completion {
    let before = &line[..pos];
    let start = before.rfind(' ').map_or(0, |i| i + 1);
    if matches!(state.place, Place::Password(_)) {
        return Completion {
            start,
            candidates: Vec::new(),
        };
    }
    let word = &before[start..];
    let starts = |candidate: &str| {
        candidate.len() >= word.len()
            && candidate.as_bytes()[..word.len()].eq_ignore_ascii_case(word.as_bytes())
    };
    let first_word_end = before.find(' ');
    let candidates: Vec<String> = match first_word_end {
        None if word.starts_with('/') && !word.starts_with("//") => {
            commands().into_iter().filter(|c| starts(c)).collect()
        }
        _ => {
            let command = first_word_end.map_or("", |end| &before[..end]);
            let verb = command
                .strip_prefix('/')
                .filter(|word| !word.starts_with('/'))
                .map(Verb::of);
            let argument_index = before[..start].split(' ').filter(|w| !w.is_empty()).count();
            let first_argument = argument_index == 1;
            let verb = verb.flatten();
            let names: Vec<&str> = match verb.map(Verb::args) {
                Some(args) if args.is_secret() => Vec::new(),
                Some(Args::Room) if first_argument => state.rooms().collect(),
                Some(args) if args.starts_with_user() && first_argument => {
                    let me = state.me.as_deref().unwrap_or_default();
                    // Who matters most to this command comes first: people
                    // waiting for an answer, or whom we ignore.
                    let first: Vec<&str> = match verb {
                        Some(Verb::Unignore) => state.ignored().collect(),
                        _ => state.requests.iter().map(String::as_str).collect(),
                    };
                    let mut names = first.clone();
                    names.extend(state.users().filter(|u| {
                        !u.eq_ignore_ascii_case(me)
                            && !first.iter().any(|f| f.eq_ignore_ascii_case(u))
                    }));
                    names
                }
                // Free text (`/me`, `/away`, `/topic`, a kick's reason) is
                // like a message: names complete inside it.
                Some(Args::Text | Args::OptionalText | Args::UserAndText) if !word.is_empty() => {
                    state.users().collect()
                }
                // After a command, only its own arguments complete.
                Some(_) => Vec::new(),
                _ if word.is_empty() => Vec::new(),
                _ => state.users().collect(),
            };
            names
                .into_iter()
                .filter(|n| starts(n))
                .map(str::to_owned)
                .collect()
        }
    };
    Completion { start, candidates }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ServerLine;

    fn state() -> State {
        let mut state = State::new();
        for line in [
            "WELCOME Me",
            "USER Alice available -",
            "USER alfred room Lobby",
            "USER Bob chatting me",
            "OK list 3",
            "ROOMINFO Lobby 1",
            "ROOMINFO lounge 2",
            "OK rooms 2",
            "REQUEST bob",
            "IGNORING zed",
            "OK ignores 1",
        ] {
            state.apply(&ServerLine::parse(line).unwrap());
        }
        state
    }

    fn check(line: &str, expected_start: usize, expected: &[&str]) {
        let got = complete(line, line.len(), &state());
        assert_eq!(got.start, expected_start, "{line:?}");
        assert_eq!(got.candidates, expected, "{line:?}");
    }

    #[test]
    fn commands_complete_from_a_slash() {
        let every_command = [
            "/accept ",
            "/away ",
            "/back",
            "/ban ",
            "/cancel",
            "/chat ",
            "/decline ",
            "/exit",
            "/help",
            "/ignore ",
            "/ignores",
            "/join ",
            "/kick ",
            "/leave",
            "/list",
            "/me ",
            "/password ",
            "/ping ",
            "/quit",
            "/register ",
            "/rooms",
            "/topic ",
            "/unignore ",
            "/unregister ",
        ];
        check("/", 0, &every_command);
        check("/c", 0, &["/cancel", "/chat "]);
        check("/JO", 0, &["/join "]);
        check("/nope", 0, &[]);
        check("//c", 0, &[]);
    }

    #[test]
    fn user_names_complete_after_chat_and_friends() {
        check("/chat a", 6, &["alfred", "Alice"]);
        check("/chat ", 6, &["bob", "alfred", "Alice"]);
        check("/accept B", 8, &["bob"]);
        check("/decline  al", 10, &["alfred", "Alice"]);
        check("/chat alice x", 12, &[]);
    }

    #[test]
    fn user_names_complete_after_every_command_that_takes_one() {
        check("/ignore al", 8, &["alfred", "Alice"]);
        check("/kick B", 6, &["bob"]);
        check("/ban a", 5, &["alfred", "Alice"]);
        check("/kick bob rea", 10, &[]);
        // Whom we ignore comes first after /unignore.
        check("/unignore ", 10, &["zed", "alfred", "Alice", "bob"]);
    }

    #[test]
    fn nothing_completes_inside_a_password() {
        check("/register a", 10, &[]);
        check("/password al", 10, &[]);
        check("/unregister b", 12, &[]);
        let mut state = state();
        state.apply(&ServerLine::parse("PASSWORD Alice").unwrap());
        let got = complete("al", 2, &state);
        assert!(got.candidates.is_empty());
        let got = complete("/", 1, &state);
        assert!(got.candidates.is_empty());
    }

    #[test]
    fn rooms_complete_after_join() {
        check("/join l", 6, &["Lobby", "lounge"]);
        check("/join LO", 6, &["Lobby", "lounge"]);
        check("/join lob", 6, &["Lobby"]);
    }

    #[test]
    fn names_complete_inside_messages() {
        check("hi al", 3, &["alfred", "Alice"]);
        check("b", 0, &["bob"]);
        check("hello ", 6, &[]);
        check("/leave a", 7, &[]);
    }

    #[test]
    fn names_complete_inside_free_text() {
        check("/me waves at al", 13, &["alfred", "Alice"]);
        check("/away lunch with b", 17, &["bob"]);
        check("/topic ask AL", 11, &["alfred", "Alice"]);
        check("/kick bob for spamming al", 23, &["alfred", "Alice"]);
        check("/me ", 4, &[]);
        check("/ping al", 6, &[]);
    }

    #[test]
    fn completion_works_in_the_middle_of_a_line() {
        let got = complete("/chat al and more", 8, &state());
        assert_eq!(got.start, 6);
        assert_eq!(got.candidates, ["alfred", "Alice"]);
    }
}
