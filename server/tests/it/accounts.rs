//! Registered names over real sockets: `/register`, signing in with the
//! password step and its telnet echo bytes, wrong passwords, the per-name
//! cap, taking a name back from a stale session, `/password` and
//! `/unregister`. Passwords are checked with real Argon2id.

use crate::harness::{Client, Control, Server, assert_name_free, list};

const PASSWORD: &str = "correct horse battery";

/// Logs in `name` and registers it with `password`.
fn registered(server: &Server, name: &str, password: &str) -> Client {
    let mut client = server.login(name);
    client.send(&format!("/register {password}"));
    client.expect(&format!("OK register {name}"));
    client
}

/// Connects and names a registered `name`, up to the `PASSWORD` prompt.
fn at_password_prompt(server: &Server, label: &str, name: &str) -> Client {
    let mut client = server.connect(label);
    client.send(name);
    client.expect(&format!("PASSWORD {name}"));
    client
}

/// Signs in to a registered `name`; skips the menu.
fn sign_in(server: &Server, label: &str, name: &str, password: &str) -> Client {
    let mut client = at_password_prompt(server, label, name);
    client.send(password);
    client.expect(&format!("WELCOME {name}"));
    client.skip_info();
    client
}

#[test]
fn a_registered_name_needs_its_password_and_the_echo_is_offered_around_it() {
    let server = Server::start();
    let mut owner = registered(&server, "alice", PASSWORD);
    owner.send("/exit");
    owner.expect_bye_and_close("exit");
    let mut again = server.connect_raw("again");
    again.expect("HELLO chinwag/2");
    again.send("ALICE");
    // IAC WILL ECHO, then the prompt, with the registered spelling.
    again.expect_bytes(&common::WILL_ECHO);
    again.expect("PASSWORD alice");
    again.send(PASSWORD);
    // IAC WONT ECHO as soon as the password line is read, then WELCOME.
    again.expect_bytes(&common::WONT_ECHO);
    again.expect("WELCOME alice");
    again.skip_info();
    assert_eq!(list(&mut again), ["USER alice available -"]);
}

#[test]
fn a_wrong_password_is_refused_and_the_fifth_ends_the_connection() {
    let server = Server::start();
    registered(&server, "bob", PASSWORD).exit_skipping_events();
    let mut guesser = server.connect("guesser");
    for attempt in 0..5 {
        guesser.send("bob");
        guesser.expect("PASSWORD bob");
        guesser.send(&format!("guess number {attempt}"));
        guesser.expect("ERR bad-password");
        assert!(!guesser.echo_offered(), "echo must be taken back");
    }
    guesser.expect_bye_and_close("refused");
    // The name is still bob's.
    sign_in(&server, "owner", "bob", PASSWORD);
}

#[test]
fn after_a_wrong_password_the_connection_may_pick_another_name() {
    let server = Server::start();
    registered(&server, "carol", PASSWORD).exit_skipping_events();
    let mut client = at_password_prompt(&server, "client", "carol");
    client.send("not it at all");
    client.expect("ERR bad-password");
    client.send("caroline");
    client.expect("WELCOME caroline");
}

#[test]
fn password_checks_for_a_name_are_capped_server_wide() {
    let server = Server::start_with(&["--password-tries", "3"]);
    registered(&server, "dave", PASSWORD).exit_skipping_events();
    let mut guesser = server.connect("guesser");
    // Registering took no check; three wrong guesses use them all.
    for attempt in 0..3 {
        guesser.send("dave");
        guesser.expect("PASSWORD dave");
        guesser.send(&format!("wrong guess {attempt}"));
        guesser.expect("ERR bad-password");
    }
    // Now at the name, from any connection, even with the right password.
    guesser.send("dave");
    guesser.expect("ERR try-later");
    let mut owner = server.connect("owner");
    owner.send("dave");
    owner.expect("ERR try-later");
    // Other names are not affected.
    owner.send("eve");
    owner.expect("WELCOME eve");
}

#[test]
fn signing_in_takes_the_name_back_from_a_session_mid_chat() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut old = registered(&server, "frank", PASSWORD);
    let mut partner = server.login("grace");
    old.send("/chat grace");
    old.expect("OK chat grace");
    partner.expect("REQUEST frank");
    partner.send("yes");
    partner.expect_all(&["CHAT frank", "OK accept frank"]);
    old.expect("CHAT grace");
    let mut new = at_password_prompt(&server, "new", "frank");
    new.send(PASSWORD);
    new.expect("WELCOME frank");
    new.skip_info();
    // The old session is told why and closed; its partner sees a
    // disconnect, in that order, before anything the new session does.
    old.expect_bye_and_close("replaced");
    partner.expect("ENDED frank disconnected");
    ctl.check(&["frank", "grace"]);
    new.send("/chat grace");
    new.expect("OK chat grace");
    partner.expect("REQUEST frank");
}

#[test]
fn register_password_and_unregister_over_the_wire() {
    let server = Server::start();
    let mut user = server.login("heidi");
    for (line, reply) in [
        ("/register short", "ERR weak-password"),
        ("/register", "ERR usage"),
        ("/password one two", "ERR not-registered"),
        ("/unregister whatever", "ERR not-registered"),
        (&format!("/register {PASSWORD}"), "OK register heidi"),
        ("/register another passphrase", "ERR registered"),
        ("/password wrongpassword newpassword", "ERR bad-password"),
        ("/password wrongpassword short", "ERR weak-password"),
        ("/password only-one-word", "ERR usage"),
        ("/unregister not the password", "ERR bad-password"),
    ] {
        user.send(line);
        user.expect(reply);
    }
    // A password of 129 bytes is refused, 128 accepted.
    let mut other = server.login("ivan");
    other.send(&format!("/register {}", "x".repeat(129)));
    other.expect("ERR weak-password");
    other.send(&format!("/register {}", "x".repeat(128)));
    other.expect("OK register ivan");
    // The passphrase with spaces works from both sides of a change.
    user.send(&format!("/unregister {PASSWORD}"));
    user.expect("OK unregister heidi");
    user.send("/register new-pass-1");
    user.expect("OK register heidi");
    user.send("/password new-pass-1 new-pass-2");
    user.expect("OK password");
    user.exit_skipping_events();
    let mut wrong = at_password_prompt(&server, "wrong", "heidi");
    wrong.send("new-pass-1");
    wrong.expect("ERR bad-password");
    sign_in(&server, "right", "heidi", "new-pass-2");
}

#[test]
fn an_unregistered_name_is_free_for_anyone_again() {
    let server = Server::start();
    let mut owner = registered(&server, "judy", PASSWORD);
    owner.send(&format!("/unregister {PASSWORD}"));
    owner.expect("OK unregister judy");
    owner.exit_skipping_events();
    assert_name_free(&server, "judy");
}

#[test]
fn wrong_passwords_in_a_loop_do_not_stop_a_chat() {
    // Argon2 runs off the lock and a few at a time: while one connection
    // guesses as fast as it can, a chat goes on, complete and in order.
    let server = Server::start_with(&["--password-tries", "0"]);
    registered(&server, "kate", PASSWORD).exit_skipping_events();
    let mut ctl = Control::new(&server);
    for round in 0..4 {
        // Four wrong guesses per connection: a fifth would end it.
        let mut guesser = server.connect(&format!("guesser{round}"));
        let guesses = "kate\nnot the password\n".repeat(4);
        guesser.send_raw(guesses.as_bytes());
        ctl.burst();
        for _ in 0..4 {
            guesser.expect("PASSWORD kate");
            guesser.expect("ERR bad-password");
        }
    }
    ctl.check(&[]);
}

#[test]
fn sql_looking_names_and_passwords_are_just_text() {
    let server = Server::start();
    // Names cannot hold quotes; a password and a message can.
    let password = "x'); DROP TABLE accounts;--";
    let mut user = registered(&server, "Robert", password);
    let mut peer = server.login("tables");
    user.send("/chat tables");
    user.expect("OK chat tables");
    peer.expect("REQUEST Robert");
    peer.send("yes");
    peer.expect_all(&["CHAT Robert", "OK accept Robert"]);
    user.expect("CHAT tables");
    user.send("'; DELETE FROM history; --");
    peer.expect("MSG Robert '; DELETE FROM history; --");
    user.exit_skipping_events();
    sign_in(&server, "again", "Robert", password);
}

#[test]
fn a_password_prompt_times_out_like_naming() {
    let server = Server::start_with(&["--name-timeout", "1"]);
    let mut owner = server.login("liam");
    owner.send(&format!("/register {PASSWORD}"));
    owner.expect("OK register liam");
    owner.exit_skipping_events();
    let mut slow = at_password_prompt(&server, "slow", "liam");
    // The echo offer is taken back before the goodbye.
    slow.expect_bytes(&common::WONT_ECHO);
    slow.expect_bye_and_close("timeout");
}

#[test]
fn passwords_never_reach_the_log_even_at_trace_level() {
    let mut command = std::process::Command::new(Server::binary());
    command
        .args([
            "--bind",
            "127.0.0.1:0",
            "--data",
            "none",
            "--flood-rate",
            "0",
        ])
        .env("RUST_LOG", "trace");
    let server = Server::start_command(command);
    let secrets = ["first-secret-aa", "second-secret-bb", "wrong-secret-cc"];
    let mut owner = registered(&server, "nora", secrets[0]);
    owner.send(&format!("/password {} {}", secrets[0], secrets[1]));
    owner.expect("OK password");
    let mut other = at_password_prompt(&server, "other", "nora");
    other.send(secrets[2]);
    other.expect("ERR bad-password");
    let mut taker = at_password_prompt(&server, "taker", "nora");
    taker.send(secrets[1]);
    taker.expect("WELCOME nora");
    taker.skip_info();
    owner.expect_bye_and_close("replaced");
    taker.send(&format!("/unregister {}", secrets[1]));
    taker.expect("OK unregister nora");
    let log = server.stderr_text();
    assert!(
        log.contains("wrong password"),
        "the log records the attempt"
    );
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} is in the log");
    }
}
