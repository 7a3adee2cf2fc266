//! Version 2's manners as the real server sends them, rendered by the
//! client (from a pipe, so the text is exact): the topic shown on joining,
//! `/me` in a room and in a chat, being kicked with a reason and put back
//! at the menu, becoming operator when the operator leaves, an away user's
//! reason on asking them to chat, and the `/ignores` table.

use crate::harness::TestServer;
use crate::peer::Peer;
use crate::script::Script;

#[test]
fn topic_actions_kick_operator_away_and_ignores_are_rendered() {
    let server = TestServer::start();
    let mut amy = Peer::join(server.addr(), "amy");
    amy.send("/join den");
    amy.expect("OK join den 1");
    amy.send("/topic release on friday");
    amy.expect("OK topic");
    let mut dave = Peer::join(server.addr(), "dave");
    dave.send("/away lunch");
    dave.expect("OK away");

    let addr = server.addr().to_string();
    let mut carol = Script::spawn(&addr, &["--name", "carol", "--no-color"], &[]);
    carol.expect("-!- welcome, carol!");
    carol.send("/join den");
    carol.expect("-!- topic of #den (set by amy): release on friday");
    carol.expect("-!- you joined #den (1 other member)");
    amy.expect("JOINED den carol");

    amy.send("/me waves at carol");
    carol.expect("[den] * amy waves at carol");
    amy.send("/kick carol too loud");
    amy.expect("OK kick carol");
    carol.expect("-!- you were removed from #den by amy: too loud; back at the menu");

    carol.send("/join den");
    carol.expect("-!- you joined #den (1 other member)");
    amy.expect("JOINED den carol");
    amy.send("/leave");
    amy.expect("OK leave room den");
    carol.expect("-!- amy left #den");
    carol.expect("-!- you are now the operator of #den");
    carol.send("/leave");
    carol.expect("-!- you left #den; back at the menu");

    carol.send("/chat dave");
    carol.expect("-!- dave is away: lunch (your request was delivered)");
    carol.expect("-!- asked dave to chat");
    dave.expect("REQUEST carol");
    dave.send("/accept carol");
    dave.expect("OK accept carol");
    carol.expect("-!- you are now chatting with dave");
    dave.send("/me nods");
    carol.expect("* dave nods");
    carol.send("/leave");
    carol.expect("-!- you left the chat with dave; back at the menu");

    carol.send("/ignore amy");
    carol.expect("-!- you now ignore amy");
    carol.send("/ignores");
    carol.expect("-!- you ignore 1 user:");
    carol.expect("-!-   amy");
    let output = carol.finish();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
