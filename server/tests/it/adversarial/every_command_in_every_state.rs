//! Every command of the protocol in each of the six states of a user, from
//! one table of the lines expected by the user, the other party and a
//! bystander.

use crate::harness::{Client, Control, Server};

#[derive(Clone, Copy, Debug)]
enum State {
    Naming,
    Available,
    Requesting,
    Requested,
    Chatting,
    Room,
}

const NI: &str = "ERR name-invalid";
const U: &str = "ERR usage";
const NA: &str = "ERR not-available";
const NR: &str = "ERR no-request";
const NSU: &str = "ERR no-such-user";
const SELF: &str = "ERR self";
const NIC: &str = "ERR not-in-chat";
const UC: &str = "ERR unknown-command";
const LA: &str = "@list-available";
const LC: &str = "@list-chatting";
const LR: &str = "@list-room";
const ACC: &str = "CHAT bob | OK accept bob || bob: CHAT amy";
const DEC: &str = "OK decline bob || bob: DECLINED amy declined";
const MUTUAL: &str = "CHAT bob | OK chat bob || bob: CHAT amy";
const BYE: &str = "BYE exit | CLOSED";
const BYE_REQUESTING: &str = "BYE exit | CLOSED || bob: CANCELLED amy disconnected";
const BYE_REQUESTED: &str = "BYE exit | CLOSED || bob: DECLINED amy disconnected";
const BYE_CHATTING: &str = "BYE exit | CLOSED || bob: ENDED amy disconnected";
const BYE_ROOM: &str = "BYE exit | CLOSED || bob: PARTED den amy disconnected | OP den bob";
const NIR: &str = "ERR not-in-room";
const WEAK: &str = "ERR weak-password";
const NREG: &str = "ERR not-registered";
const ASK_BOB: &str = "OK chat bob || bob: REQUEST amy";

/// `amy` (the subject) in each state, with `bob` as the other party and
/// `cat` as a bystander. Columns: naming, available, requesting (amy asked
/// bob), requested (bob asked amy), chatting (with bob), room (den, with
/// bob). A cell is amy's lines separated by ` | `, then optionally
/// `|| bob: …` and `|| cat: …`. `@help` is any INFO lines then `OK help`;
/// `INFO*` any INFO lines; `CLOSED` the connection closes.
#[rustfmt::skip]
const TABLE: &[(&str, [&str; 6])] = &[
    ("", [""; 6]),
    ("/help", ["@help"; 6]),
    ("/HeLp", ["@help"; 6]),
    ("/help me", [U; 6]),
    ("/list", [NI, LA, LA, LA, LC, LR]),
    ("/LIST", [NI, LA, LA, LA, LC, LR]),
    ("/list x", [NI, U, U, U, U, U]),
    ("1", ["WELCOME 1 | INFO*", LA, LA, LA, "|| bob: MSG amy 1", "|| bob: ROOM den amy 1"]),
    ("1 x", [NI, U, U, U, "|| bob: MSG amy 1 x", "|| bob: ROOM den amy 1 x"]),
    ("/chat cat", [NI, "OK chat cat || cat: REQUEST amy", "OK chat cat || bob: CANCELLED amy cancelled || cat: REQUEST amy", "OK chat cat || cat: REQUEST amy", NA, NA]),
    ("/chat bob", [NI, ASK_BOB, ASK_BOB, MUTUAL, NA, NA]),
    ("/CHAT BOB", [NI, ASK_BOB, ASK_BOB, MUTUAL, NA, NA]),
    ("2 bob", [NI, ASK_BOB, ASK_BOB, MUTUAL, "|| bob: MSG amy 2 bob", "|| bob: ROOM den amy 2 bob"]),
    ("2", ["WELCOME 2 | INFO*", U, U, U, "|| bob: MSG amy 2", "|| bob: ROOM den amy 2"]),
    ("/chat", [NI, U, U, U, U, U]),
    ("/chat bob cat", [NI, U, U, U, U, U]),
    ("/chat amy", [NI, SELF, SELF, SELF, NA, NA]),
    ("/chat AMY", [NI, SELF, SELF, SELF, NA, NA]),
    ("/chat nobody", [NI, NSU, NSU, NSU, NA, NA]),
    ("/chat -x", [NI, NSU, NSU, NSU, NA, NA]),
    ("/accept", [NI, NR, NR, ACC, NA, NA]),
    ("/accept bob", [NI, NR, NR, ACC, NA, NA]),
    ("/ACCEPT BOB", [NI, NR, NR, ACC, NA, NA]),
    ("yes", ["WELCOME yes | INFO*", NR, NR, ACC, "|| bob: MSG amy yes", "|| bob: ROOM den amy yes"]),
    ("Y bob", [NI, NR, NR, ACC, "|| bob: MSG amy Y bob", "|| bob: ROOM den amy Y bob"]),
    ("/accept cat", [NI, NR, NR, NR, NA, NA]),
    ("/accept nobody", [NI, NSU, NSU, NSU, NA, NA]),
    ("/accept amy", [NI, SELF, SELF, SELF, NA, NA]),
    ("/accept bob cat", [NI, U, U, U, U, U]),
    ("/decline", [NI, NR, NR, DEC, NR, NR]),
    ("/decline bob", [NI, NR, NR, DEC, NR, NR]),
    ("no", ["WELCOME no | INFO*", NR, NR, DEC, "|| bob: MSG amy no", "|| bob: ROOM den amy no"]),
    ("N", ["WELCOME N | INFO*", NR, NR, DEC, "|| bob: MSG amy N", "|| bob: ROOM den amy N"]),
    ("/decline cat", [NI, NR, NR, NR, NR, NR]),
    ("/decline nobody", [NI, NSU, NSU, NSU, NR, NR]),
    ("/decline amy", [NI, SELF, SELF, SELF, NR, NR]),
    ("/cancel", [NI, NR, "OK cancel bob || bob: CANCELLED amy cancelled", NR, NR, NR]),
    ("/cancel bob", [NI, U, U, U, U, U]),
    ("/leave", [NI, NIC, NIC, NIC, "OK leave chat bob || bob: ENDED amy left", "OK leave room den || bob: PARTED den amy left | OP den bob"]),
    ("/leave now", [NI, U, U, U, U, U]),
    ("/join den", [NI, "OK join den 1", "OK join den 1 || bob: CANCELLED amy busy", "OK join den 1 || bob: DECLINED amy busy", NA, NA]),
    ("/join -x", [NI, NI, NI, NI, NA, NA]),
    ("/join", [NI, U, U, U, U, U]),
    ("/join a b", [NI, U, U, U, U, U]),
    ("/rooms", [NI, "OK rooms 0", "OK rooms 0", "OK rooms 0", "OK rooms 0", "ROOMINFO den 2 | OK rooms 1"]),
    ("/rooms x", [NI, U, U, U, U, U]),
    ("/ping", [NI, "OK ping -", "OK ping -", "OK ping -", "OK ping -", "OK ping -"]),
    ("/ping tok", [NI, "OK ping tok", "OK ping tok", "OK ping tok", "OK ping tok", "OK ping tok"]),
    ("/ping a b", [NI, U, U, U, U, U]),
    ("/frobnicate", [NI, UC, UC, UC, UC, UC]),
    ("/", [NI, UC, UC, UC, UC, UC]),
    ("/ list", [NI, UC, UC, UC, UC, UC]),
    ("/__panic", [NI, UC, UC, UC, UC, UC]),
    ("hello", ["WELCOME hello | INFO*", NIC, NIC, NIC, "|| bob: MSG amy hello", "|| bob: ROOM den amy hello"]),
    ("hello world", [NI, NIC, NIC, NIC, "|| bob: MSG amy hello world", "|| bob: ROOM den amy hello world"]),
    ("//list", [NI, NIC, NIC, NIC, "|| bob: MSG amy /list", "|| bob: ROOM den amy /list"]),
    ("bob", ["ERR name-taken", NIC, NIC, NIC, "|| bob: MSG amy bob", "|| bob: ROOM den amy bob"]),
    ("CAT", ["ERR name-taken", NIC, NIC, NIC, "|| bob: MSG amy CAT", "|| bob: ROOM den amy CAT"]),
    ("/me waves", [NI, NIC, NIC, NIC, "|| bob: ACTION - amy waves", "|| bob: ACTION den amy waves"]),
    ("/ME  waves  twice", [NI, NIC, NIC, NIC, "|| bob: ACTION - amy waves  twice", "|| bob: ACTION den amy waves  twice"]),
    ("/me", [NI, U, U, U, U, U]),
    ("/away", [NI, "OK away", "OK away", "OK away", "OK away", "OK away"]),
    ("/away at lunch", [NI, "OK away", "OK away", "OK away", "OK away", "OK away"]),
    ("/back", [NI, "OK back", "OK back", "OK back", "OK back", "OK back"]),
    ("/back now", [NI, U, U, U, U, U]),
    ("/ignore cat", [NI, "OK ignore cat", "OK ignore cat", "OK ignore cat", "OK ignore cat", "OK ignore cat"]),
    ("/ignore AMY", [NI, SELF, SELF, SELF, SELF, SELF]),
    ("/ignore -x", [NI, NI, NI, NI, NI, NI]),
    ("/ignore", [NI, U, U, U, U, U]),
    ("/unignore cat", [NI, "OK unignore cat", "OK unignore cat", "OK unignore cat", "OK unignore cat", "OK unignore cat"]),
    ("/ignores", [NI, "OK ignores 0", "OK ignores 0", "OK ignores 0", "OK ignores 0", "OK ignores 0"]),
    ("/ignores x", [NI, U, U, U, U, U]),
    ("/topic", [NI, NIR, NIR, NIR, NIR, "TOPIC den - | OK topic"]),
    ("/topic quiz at ten", [NI, NIR, NIR, NIR, NIR, "TOPIC den amy quiz at ten | OK topic || bob: TOPIC den amy quiz at ten"]),
    ("/kick bob", [NI, NIR, NIR, NIR, NIR, "PARTED den bob kicked | OK kick bob || bob: KICKED den amy"]),
    ("/kick bob rude", [NI, NIR, NIR, NIR, NIR, "PARTED den bob kicked | OK kick bob || bob: KICKED den amy rude"]),
    ("/kick cat", [NI, NIR, NIR, NIR, NIR, NSU]),
    ("/kick amy", [NI, NIR, NIR, NIR, NIR, SELF]),
    ("/kick", [NI, U, U, U, U, U]),
    ("/ban bob", [NI, NIR, NIR, NIR, NIR, "PARTED den bob kicked | OK ban bob || bob: KICKED den amy banned"]),
    ("/ban cat", [NI, NIR, NIR, NIR, NIR, "OK ban cat"]),
    ("/ban amy", [NI, NIR, NIR, NIR, NIR, SELF]),
    ("/ban", [NI, U, U, U, U, U]),
    ("/register short", [NI, WEAK, WEAK, WEAK, WEAK, WEAK]),
    ("/register", [NI, U, U, U, U, U]),
    ("/password old new", [NI, NREG, NREG, NREG, NREG, NREG]),
    ("/password old", [NI, U, U, U, U, U]),
    ("/unregister some thing", [NI, NREG, NREG, NREG, NREG, NREG]),
    ("/exit", [BYE, BYE, BYE_REQUESTING, BYE_REQUESTED, BYE_CHATTING, BYE_ROOM]),
    ("/QUIT now", [BYE, BYE, BYE_REQUESTING, BYE_REQUESTED, BYE_CHATTING, BYE_ROOM]),
    ("3 now", [NI, BYE, BYE_REQUESTING, BYE_REQUESTED, "|| bob: MSG amy 3 now", "|| bob: ROOM den amy 3 now"]),
    ("3", ["WELCOME 3 | INFO*", BYE, BYE_REQUESTING, BYE_REQUESTED, "|| bob: MSG amy 3", "|| bob: ROOM den amy 3"]),
];

/// The three users of one table row, `amy` in `state`.
fn scene(server: &Server, state: State) -> [Client; 3] {
    let mut bob = server.login("bob");
    let cat = server.login("cat");
    let mut amy = match state {
        State::Naming => server.connect("amy"),
        _ => server.login("amy"),
    };
    match state {
        State::Naming | State::Available => {}
        State::Requesting => {
            amy.send("/chat bob");
            amy.expect("OK chat bob");
            bob.expect("REQUEST amy");
        }
        State::Requested => {
            bob.send("/chat amy");
            bob.expect("OK chat amy");
            amy.expect("REQUEST bob");
        }
        State::Chatting => {
            amy.send("/chat bob");
            amy.expect("OK chat bob");
            bob.expect("REQUEST amy");
            bob.send("/accept");
            bob.expect_all(&["CHAT amy", "OK accept amy"]);
            amy.expect("CHAT bob");
        }
        State::Room => {
            amy.send("/join den");
            amy.expect("OK join den 1");
            bob.send("/join den");
            bob.expect("OK join den 2");
            amy.expect("JOINED den bob");
        }
    }
    [amy, bob, cat]
}

fn expand(token: &str) -> Vec<String> {
    let list = |amy: &str, bob: &str| {
        vec![
            format!("USER amy {amy}"),
            format!("USER bob {bob}"),
            "USER cat available -".to_owned(),
            "USER ctl_a chatting ctl_b".to_owned(),
            "USER ctl_b chatting ctl_a".to_owned(),
            "USER ctl_idle available -".to_owned(),
            "OK list 6".to_owned(),
        ]
    };
    match token {
        "@help" => vec!["INFO*".to_owned(), "OK help".to_owned()],
        "@list-available" => list("available -", "available -"),
        "@list-chatting" => list("chatting bob", "chatting amy"),
        "@list-room" => list("room den", "room den"),
        other => vec![other.to_owned()],
    }
}

/// Reads `want` (with `INFO*` and `CLOSED`); true if the client closed.
fn expect_spec(client: &mut Client, want: &[String], context: &str) -> bool {
    let mut pending: Option<String> = None;
    for (i, token) in want.iter().enumerate() {
        match token.as_str() {
            "INFO*" => {
                if i + 1 == want.len() {
                    // Trailing: the barrier skips INFO lines anyway.
                    continue;
                }
                loop {
                    let line = client.next_key();
                    if line != "INFO" {
                        pending = Some(line);
                        break;
                    }
                }
            }
            "CLOSED" => {
                client.expect_closed();
                return true;
            }
            want_line => {
                let got = pending.take().unwrap_or_else(|| client.next_key());
                if got != want_line {
                    client.fail(&format!("{context}: expected {want_line:?}, got {got:?}"));
                }
            }
        }
    }
    false
}

/// `/help` works in every state: INFO lines, then `OK help`. Anything
/// else before it was not expected.
fn help_barrier(client: &mut Client, context: &str) {
    client.send("/help");
    loop {
        let line = client.next_key();
        if line == "OK help" {
            return;
        }
        if line != "INFO" {
            client.fail(&format!("{context}: unexpected {line:?}"));
        }
    }
}

fn run_table(state: State, column: usize) {
    // Rooms are entered again and again; their history is not under test.
    let server = Server::start_with(&["--history", "0"]);
    let mut ctl = Control::new(&server);
    for (n, (command, cells)) in TABLE.iter().enumerate() {
        let cell = cells[column];
        let context = format!("{state:?}, {command:?} (cell {cell:?})");
        let mut clients = scene(&server, state);
        let mut parts = cell.split("||").map(str::trim);
        let own: Vec<String> = parts
            .next()
            .unwrap_or_default()
            .split('|')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .flat_map(expand)
            .collect();
        let mut others: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        for part in parts {
            let (who, lines) = part.split_once(':').expect("`who: lines`");
            let index = match who.trim() {
                "bob" => 0,
                "cat" => 1,
                other => panic!("unknown user {other:?} in the table"),
            };
            others[index] = lines
                .split('|')
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect();
        }
        clients[0].send(command);
        let mut open = [true; 3];
        open[0] = !expect_spec(&mut clients[0], &own, &context);
        for (i, want) in others.iter().enumerate() {
            expect_spec(&mut clients[i + 1], want, &context);
        }
        for (client, open) in clients.iter_mut().zip(open) {
            if open {
                help_barrier(client, &context);
            }
        }
        for (client, open) in clients.iter_mut().zip(open) {
            if open {
                client.exit_skipping_events();
            }
        }
        if n % 16 == 15 {
            ctl.check(&[]);
        }
    }
    ctl.check(&[]);
}

#[test]
fn every_command_while_naming() {
    run_table(State::Naming, 0);
}

#[test]
fn every_command_while_available() {
    run_table(State::Available, 1);
}

#[test]
fn every_command_while_requesting() {
    run_table(State::Requesting, 2);
}

#[test]
fn every_command_while_requested() {
    run_table(State::Requested, 3);
}

#[test]
fn every_command_while_chatting() {
    run_table(State::Chatting, 4);
}

#[test]
fn every_command_in_a_room() {
    run_table(State::Room, 5);
}
