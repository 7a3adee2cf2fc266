//! Ignoring, as the ledger judges deliveries. A receiver's own stream
//! shows exactly when its ignore was in force (the server answers
//! `/ignore` in order with everything else it sends it), so the model
//! refuses any line from an ignored sender between `OK ignore` and `OK
//! unignore`. What the stream cannot show is which of the sender's
//! messages were dropped rather than lost: each client records its ignore
//! windows (from sending `/ignore` to seeing `OK unignore`), and a message
//! a receiver missed is excused only if the hub may have taken it inside
//! one (it was confirmed after the window opened and sent before it
//! closed). Everything else must arrive exactly once, in order.

use std::collections::HashMap;
use std::time::Instant;

use crate::clock;

/// When a message was sent, and when its sender saw it taken (the reply
/// line after it).
pub(crate) type Times = (Instant, Instant);

/// A stretch in which a receiver may have ignored a sender: from the
/// moment `/ignore` was sent until `OK unignore` was seen (`None`: never,
/// or not before the receiver's session ended without unignoring).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) from: Instant,
    pub(crate) to: Option<Instant>,
}

/// Windows, for reports.
pub(crate) fn show(windows: &[Window]) -> String {
    let shown: Vec<String> = windows
        .iter()
        .map(|w| format!("[{}, {}]", clock::at(w.from), clock::maybe_at(w.to)))
        .collect();
    shown.join(" ")
}

/// Every receiver's ignore windows, by (receiver, folded sender).
#[derive(Debug, Default)]
pub(crate) struct Windows {
    by_pair: HashMap<(String, String), Vec<Window>>,
}

impl Windows {
    /// `receiver` sent `/ignore` of `sender` (folded) at `from`, and the
    /// server said `OK`; a window already open stays as it is.
    pub(crate) fn open(&mut self, receiver: &str, sender: &str, from: Instant) {
        let windows = self
            .by_pair
            .entry((receiver.to_owned(), sender.to_owned()))
            .or_default();
        if windows.last().is_none_or(|last| last.to.is_some()) {
            windows.push(Window { from, to: None });
        }
    }

    /// `receiver` saw `OK unignore` of `sender` (folded) at `to`.
    pub(crate) fn close(&mut self, receiver: &str, sender: &str, to: Instant) {
        let key = (receiver.to_owned(), sender.to_owned());
        if let Some(last) = self.by_pair.get_mut(&key).and_then(|w| w.last_mut())
            && last.to.is_none()
        {
            last.to = Some(to);
        }
    }

    /// `receiver`'s session ended at `to` and its list with it.
    pub(crate) fn close_all(&mut self, receiver: &str, to: Instant) {
        for ((owner, _), windows) in &mut self.by_pair {
            if owner == receiver
                && let Some(last) = windows.last_mut()
                && last.to.is_none()
            {
                last.to = Some(to);
            }
        }
    }

    /// The windows in which `receiver` may have ignored `sender`.
    pub(crate) fn of(&self, receiver: &str, sender: &str) -> &[Window] {
        self.by_pair
            .get(&(receiver.to_owned(), common::fold(sender)))
            .map_or(&[], Vec::as_slice)
    }

    /// Stretches recorded, for the summary.
    pub(crate) fn count(&self) -> usize {
        self.by_pair.values().map(Vec::len).sum()
    }
}

/// Whether a message taken at some moment within `times` may have fallen
/// in one of `windows`.
pub(crate) fn may_drop(windows: &[Window], times: Option<Times>) -> bool {
    let Some((sent, confirmed)) = times else {
        return false;
    };
    windows
        .iter()
        .any(|w| confirmed >= w.from && w.to.is_none_or(|to| sent <= to))
}

/// What is wrong with what a receiver got of one sender's messages in one
/// chat session or room membership (`sent`, in order), if anything: `got`
/// must be `sent` in order with nothing twice, missing only messages
/// `dropped` excuses, or those before the first received when
/// `head_free` (the receiver came after the sender) and after the last
/// when `tail_free` (it left first, or stopped reading).
pub(crate) fn delivery_problem(
    sent: &[u64],
    got: &[u64],
    head_free: bool,
    tail_free: bool,
    dropped: impl Fn(u64) -> bool,
) -> Option<String> {
    let index: HashMap<u64, usize> = sent.iter().enumerate().map(|(k, &seq)| (seq, k)).collect();
    // Where each received message is among those sent, and from where the
    // rest must have come.
    let mut next = 0;
    for (k, &seq) in got.iter().enumerate() {
        let Some(&at) = index.get(&seq).filter(|&&at| at >= next) else {
            return Some(format!(
                "received {seq}, which the hub did not take there, or not then \
                 (duplicate or reorder)"
            ));
        };
        let free = head_free && k == 0;
        if !free && let Some(&missed) = sent[next..at].iter().find(|&&seq| !dropped(seq)) {
            return Some(format!(
                "missed {missed} (before {seq}), not while ignoring the sender"
            ));
        }
        next = at + 1;
    }
    if !tail_free && let Some(&missed) = sent[next..].iter().find(|&&seq| !dropped(seq)) {
        return Some(format!(
            "missed {missed} at the end, not while ignoring the sender"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_what_an_ignore_excuses_may_be_missing() {
        let none = |_| false;
        let even = |seq: u64| seq.is_multiple_of(2);
        assert_eq!(
            delivery_problem(&[1, 2, 3], &[1, 2, 3], false, false, none),
            None
        );
        assert!(delivery_problem(&[1, 2, 3], &[1, 3], false, false, none).is_some());
        assert_eq!(
            delivery_problem(&[1, 2, 3], &[1, 3], false, false, even),
            None
        );
        assert!(delivery_problem(&[1, 2, 3], &[3, 1], false, false, even).is_some());
        assert!(delivery_problem(&[1, 2, 3], &[1, 1], false, false, even).is_some());
        // A free head and tail, but nothing free in between.
        assert_eq!(
            delivery_problem(&[1, 2, 3, 4], &[2, 3], true, true, none),
            None
        );
        assert!(delivery_problem(&[1, 2, 3, 4], &[2, 4], true, true, none).is_some());
        assert!(delivery_problem(&[1, 2, 3, 4], &[2, 3], false, true, none).is_some());
        assert!(delivery_problem(&[1, 2, 3, 4], &[2, 3], true, false, none).is_some());
        assert_eq!(
            delivery_problem(&[1, 2, 3, 4], &[], false, false, |_| true),
            None
        );
    }

    #[test]
    fn a_window_excuses_messages_the_hub_may_have_taken_inside_it() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let windows = [Window {
            from: at(100),
            to: Some(at(200)),
        }];
        assert!(may_drop(&windows, Some((at(90), at(110)))));
        assert!(may_drop(&windows, Some((at(190), at(210)))));
        assert!(!may_drop(&windows, Some((at(50), at(90)))));
        assert!(!may_drop(&windows, Some((at(210), at(220)))));
        assert!(!may_drop(&windows, None));
        let mut all = Windows::default();
        all.open("amy", "bob", at(100));
        all.open("amy", "bob", at(150));
        assert!(may_drop(all.of("amy", "Bob"), Some((at(300), at(310)))));
        all.close("amy", "bob", at(200));
        assert!(!may_drop(all.of("amy", "bob"), Some((at(300), at(310)))));
        all.open("amy", "bob", at(400));
        all.close_all("amy", at(500));
        assert!(may_drop(all.of("amy", "bob"), Some((at(450), at(460)))));
        assert!(!may_drop(all.of("amy", "bob"), Some((at(510), at(520)))));
        assert_eq!(all.count(), 2);
    }
}
