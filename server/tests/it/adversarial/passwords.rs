//! Hostile input at the password step and against registered names: lines
//! too long or not UTF-8 in place of a password, telnet bytes inside one,
//! a command typed as the password, a slow trickle past the deadline, and
//! registering and unregistering in a loop (an Argon2 hash each time) —
//! each answered as the contract says, with the control group undisturbed.

use crate::harness::{Client, Control, Server};

const PASSWORD: &str = "the real passphrase";

fn with_registered(server: &Server, name: &str) {
    let mut owner = server.login(name);
    owner.send(&format!("/register {PASSWORD}"));
    owner.expect(&format!("OK register {name}"));
    owner.exit_skipping_events();
}

fn at_prompt(server: &Server, label: &str, name: &str) -> Client {
    let mut client = server.connect(label);
    client.send(name);
    client.expect(&format!("PASSWORD {name}"));
    client
}

#[test]
fn an_over_long_or_badly_encoded_line_is_refused_and_the_prompt_stands() {
    let server = Server::start_with(&["--max-line", "64"]);
    let mut ctl = Control::new(&server);
    with_registered(&server, "olive");
    let mut client = at_prompt(&server, "client", "olive");
    client.send(&"x".repeat(200));
    client.expect("ERR too-long");
    client.send_raw(b"\xc3\x28 not utf-8\n");
    client.expect("ERR bad-encoding");
    // Still at the password step: the next good line is the password.
    client.send(PASSWORD);
    client.expect("WELCOME olive");
    client.skip_info();
    ctl.check(&["olive"]);
}

#[test]
fn telnet_bytes_inside_a_password_are_removed_first() {
    let server = Server::start();
    with_registered(&server, "pia");
    let mut client = at_prompt(&server, "client", "pia");
    // IAC NOP and IAC WILL NAWS in the middle of the typed password.
    let mut line = b"the real ".to_vec();
    line.extend_from_slice(&[255, 241]);
    line.extend_from_slice(b"pass");
    line.extend_from_slice(&[255, 251, 31]);
    line.extend_from_slice(b"phrase\n");
    client.send_raw(&line);
    // The refusal of NAWS comes first, then the echo's end, then WELCOME.
    client.expect_bytes(&[255, 254, 31]);
    client.expect("WELCOME pia");
}

#[test]
fn a_command_typed_at_the_prompt_is_a_wrong_password_not_a_command() {
    let server = Server::start();
    with_registered(&server, "quinn");
    let mut client = at_prompt(&server, "client", "quinn");
    client.send("/exit");
    client.expect("ERR bad-password");
    // Back at naming, where /exit works.
    client.send("/exit");
    client.expect_bye_and_close("exit");
}

#[test]
fn a_trickled_password_does_not_outlast_the_name_timeout() {
    let server = Server::start_with(&["--name-timeout", "1"]);
    with_registered(&server, "rita");
    let mut client = at_prompt(&server, "client", "rita");
    client.send_raw(b"the real pass");
    client.expect_bye_and_close("timeout");
}

#[test]
fn registering_and_unregistering_in_a_loop_disturbs_no_one() {
    let server = Server::start();
    let mut ctl = Control::new(&server);
    let mut churner = server.login("sam");
    for round in 0..6 {
        churner.send(&format!("/register {PASSWORD}"));
        churner.send(&format!("/unregister {PASSWORD}"));
        if round % 2 == 0 {
            ctl.burst();
        }
        churner.expect("OK register sam");
        churner.expect("OK unregister sam");
    }
    ctl.check(&["sam"]);
}
