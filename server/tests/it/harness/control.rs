//! The control group: users who take no part in what a test does to the
//! server, and the checks that they were not disturbed (numbered bursts
//! both ways, `/list`, a name that can be registered again).

use super::{Client, Server};

/// Two users chatting and one idle user, none of them involved in the
/// attack. [`Control::check`] proves they were not disturbed.
pub(crate) struct Control {
    a: Client,
    b: Client,
    idle: Client,
    round: usize,
}

impl Control {
    pub(crate) fn new(server: &Server) -> Control {
        let (a, b) = server.pair("ctl_a", "ctl_b");
        let idle = server.login("ctl_idle");
        Control {
            a,
            b,
            idle,
            round: 0,
        }
    }

    /// A numbered burst both ways (sent at the same time, each in one
    /// write) must arrive complete and in order with nothing else; the idle
    /// user got nothing; `/list` shows the control group plus exactly
    /// `others`.
    pub(crate) fn check(&mut self, others: &[&str]) {
        self.burst();
        self.list_is(others);
    }

    /// Only the numbered bursts and the idle user's silence, for use while
    /// the set of users online is changing.
    pub(crate) fn burst(&mut self) {
        const N: usize = 20;
        let round = self.round;
        self.round += 1;
        let burst = |who: &str| -> String {
            (0..N)
                .map(|i| format!("{who} round {round} seq {i}\n"))
                .collect()
        };
        self.a.send_raw(burst("a").as_bytes());
        self.b.send_raw(burst("b").as_bytes());
        for i in 0..N {
            self.b.expect(&format!("MSG ctl_a a round {round} seq {i}"));
        }
        for i in 0..N {
            self.a.expect(&format!("MSG ctl_b b round {round} seq {i}"));
        }
        self.a.quiet();
        self.b.quiet();
        self.idle.quiet();
    }

    fn list_is(&mut self, others: &[&str]) {
        let users = list(&mut self.idle);
        let mut want: Vec<String> = others
            .iter()
            .map(|name| (*name).to_owned())
            .chain(["ctl_a", "ctl_b", "ctl_idle"].map(str::to_owned))
            .collect();
        want.sort_by_key(|name| name.to_ascii_lowercase());
        let got: Vec<String> = users.iter().map(|line| user_name(line)).collect();
        if got != want {
            self.idle
                .fail(&format!("/list shows {got:?}, expected {want:?}"));
        }
        for (line, wanted) in [
            ("USER ctl_a chatting ctl_b", true),
            ("USER ctl_b chatting ctl_a", true),
            ("USER ctl_idle available -", true),
        ] {
            if users.iter().any(|l| l == line) != wanted {
                self.idle.fail(&format!("/list {users:?} lacks {line:?}"));
            }
        }
    }
}

/// Sends `/list` and returns its `USER` lines, checking the count.
pub(crate) fn list(client: &mut Client) -> Vec<String> {
    client.send("/list");
    let mut users = Vec::new();
    loop {
        let line = client.next_key();
        if let Some(count) = line.strip_prefix("OK list ") {
            if count.parse::<usize>().ok() != Some(users.len()) {
                client.fail(&format!("{line:?} after {} USER lines", users.len()));
            }
            return users;
        }
        if !line.starts_with("USER ") {
            client.fail(&format!("unexpected line {line:?} in a /list reply"));
        }
        users.push(line);
    }
}

fn user_name(line: &str) -> String {
    line.split(' ').nth(1).unwrap_or_default().to_owned()
}

/// `name` can be registered right now (and is released again).
pub(crate) fn assert_name_free(server: &Server, name: &str) {
    let mut again = server.login(name);
    again.send("/exit");
    again.expect_bye_and_close("exit");
}
