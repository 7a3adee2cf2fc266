//! The scenario of the 2019 chat lab report, replayed step by step with every
//! protocol line asserted: two users chat, three more join, one declines, a
//! second pair chats, everyone leaves and exits.

use crate::harness::Server;

#[test]
fn lab_report_scenario_replays_line_by_line() {
    let server = Server::start();

    // 2. The first client picks A.
    let mut a = server.connect("A");
    a.send("A");
    a.expect("WELCOME A");
    a.skip_info();

    // 3. The second client tries A, is refused, picks B.
    let mut b = server.connect("B");
    b.send("A");
    b.expect("ERR name-taken");
    b.send("B");
    b.expect("WELCOME B");
    b.skip_info();

    // 4. B asks A with the menu alias; A says yes; two messages each way.
    b.send("2 A");
    b.expect("OK chat A");
    a.expect("REQUEST B");
    a.send("yes");
    a.expect_all(&["CHAT B", "OK accept B"]);
    b.expect("CHAT A");
    b.send("hello");
    a.expect("MSG B hello");
    a.send("hi B, how are you?");
    b.expect("MSG A hi B, how are you?");
    b.send("fine, and you?");
    a.expect("MSG B fine, and you?");
    a.send("great");
    b.expect("MSG A great");

    // 5. C, D and E connect.
    let mut c = server.login("C");
    let mut d = server.login("D");
    let mut e = server.login("E");

    // 6. C lists the users: A and B are chatting with each other.
    c.send("1");
    c.expect_all(&[
        "USER A chatting B",
        "USER B chatting A",
        "USER C available -",
        "USER D available -",
        "USER E available -",
        "OK list 5",
    ]);

    // 7. C asks E, E says no.
    c.send("2 E");
    c.expect("OK chat E");
    e.expect("REQUEST C");
    e.send("no");
    e.expect("OK decline C");
    c.expect("DECLINED E declined");

    // 8. C asks D, they exchange messages.
    c.send("2 D");
    c.expect("OK chat D");
    d.expect("REQUEST C");
    d.send("yes");
    d.expect_all(&["CHAT C", "OK accept C"]);
    c.expect("CHAT D");
    c.send("hi D");
    d.expect("MSG C hi D");
    d.send("hello C");
    c.expect("MSG D hello C");

    // 9. E lists: both pairs are chatting.
    e.send("1");
    e.expect_all(&[
        "USER A chatting B",
        "USER B chatting A",
        "USER C chatting D",
        "USER D chatting C",
        "USER E available -",
        "OK list 5",
    ]);

    // 10. A, B, C and D leave their chats: the first of each pair ends it,
    // the second is already back at the menu.
    a.send("/leave");
    a.expect("OK leave chat B");
    b.expect("ENDED A left");
    b.send("/leave");
    b.expect("ERR not-in-chat");
    c.send("/leave");
    c.expect("OK leave chat D");
    d.expect("ENDED C left");
    d.send("/leave");
    d.expect("ERR not-in-chat");
    for client in [&mut a, &mut b, &mut c, &mut d] {
        client.quiet();
    }
    e.send("1");
    e.expect_all(&[
        "USER A available -",
        "USER B available -",
        "USER C available -",
        "USER D available -",
        "USER E available -",
        "OK list 5",
    ]);

    // E exits with the menu alias; the server closes the connection.
    e.send("3");
    e.expect_bye_and_close("exit");

    // 12. A, B, C and D exit too.
    a.send("1");
    a.expect_all(&[
        "USER A available -",
        "USER B available -",
        "USER C available -",
        "USER D available -",
        "OK list 4",
    ]);
    for client in [&mut a, &mut b, &mut c, &mut d] {
        client.send("3");
        client.expect_bye_and_close("exit");
    }
}
