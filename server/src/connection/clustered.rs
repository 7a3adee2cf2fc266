//! A connection in a cluster: its lines are appended to the cluster's log
//! and applied by its node's applier (see `cluster/`), which delivers the
//! lines; the thread waits, then does what the hub asked of it.

use common::{ErrorCode, Input, Secret, ServerLine, parse_input};

use super::{Connection, typed_passwords};
use crate::cluster::{Cluster, Control, Record, TryLater, log::What};
use crate::hub::Now;

impl Connection {
    /// A line, in a cluster: it is appended to the cluster's log, and this
    /// node's applier applies it to the hub's copy and delivers the lines
    /// (see `cluster/`). Plain messages from a named user wait to go with
    /// the rest of the read, as one append; anything that can change how
    /// the next line is read (a name, a command, a password) goes at once,
    /// and the thread waits until it is applied.
    pub(super) fn on_line_in_cluster(&mut self, cluster: &Cluster, line: &str) {
        let at = Now::read();
        if self.awaiting_password {
            self.awaiting_password = false;
            self.end_echo_offer();
            let typed = [Secret::new(line)];
            self.pending.push(Record {
                at,
                what: What::Password(self.id),
            });
            if !self.submit(cluster, &typed) {
                // Not applied: the next line is still taken as the
                // password, so a password is never logged as typed.
                self.awaiting_password = true;
            }
            return;
        }
        let input = parse_input(line);
        let typed = typed_passwords(&input);
        let now = self.name.is_none()
            || matches!(
                input,
                Input::Command(_) | Input::Text { alias: Some(_), .. }
            );
        self.pending.push(Record {
            at,
            what: What::Line(self.id, crate::cluster::log::loggable(line)),
        });
        if now {
            self.submit(cluster, &typed);
        }
    }

    /// Appends what is pending, in a cluster.
    pub(super) fn submit_pending(&mut self) {
        if let Some(cluster) = self.shared.cluster.clone()
            && !self.pending.is_empty()
        {
            self.submit(&cluster, &[]);
        }
    }

    /// Appends the pending records to the cluster's log and waits until
    /// this node has applied them: their lines are queued by then, and
    /// what else the hub asked of this connection is done here. False when
    /// the cluster could not take them: each line is answered
    /// `ERR try-later`, and an unlogged password result waits for the next
    /// append (the hub waits for it).
    fn submit(&mut self, cluster: &Cluster, typed: &[Secret]) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        // What this thread queued itself goes out first.
        self.flush();
        let late = cluster.take_late(self.id);
        self.on_controls(cluster, late, &[]);
        let mut records = std::mem::take(&mut self.pending);
        if !self.logged {
            // Sent again until it is known to be in the log (the hub takes
            // a second arrival of one connection as nothing).
            self.arrival_sent = true;
            let at = records[0].at;
            records.insert(
                0,
                Record {
                    at,
                    what: What::Connect(self.id),
                },
            );
        }
        match cluster.call(self.id, records.clone()) {
            Ok(controls) => {
                self.logged = true;
                self.on_controls(cluster, controls, typed);
                true
            }
            Err(TryLater) => {
                for record in records {
                    match record.what {
                        What::Line(..) | What::Password(_) => {
                            self.reply(ServerLine::error(ErrorCode::TryLater));
                        }
                        What::TaskDone(..) => self.pending.push(record),
                        _ => {}
                    }
                }
                false
            }
        }
    }

    /// Does what the hub asked of this connection in a cluster: note what
    /// happened, close, or run the password work and log its result.
    fn on_controls(&mut self, cluster: &Cluster, controls: Vec<Control>, typed: &[Secret]) {
        let mut task = None;
        let mut n_reply_lines = 0;
        for control in controls {
            self.echo_offered |= control.offer_echo;
            self.outcome.happened.extend(control.happened);
            self.note_happenings();
            if control.close {
                self.close_after_queued();
            }
            n_reply_lines += control.reply_lines;
            task = control.task.or(task);
        }
        // A task from a call given up on cannot run: its password is gone.
        if let Some(task) = task.filter(|_| !typed.is_empty()) {
            let done = self.shared.passwords.run(task, typed);
            self.pending.push(Record {
                at: Now::read(),
                what: What::TaskDone(self.id, done),
            });
            self.submit(cluster, typed);
        }
        self.charge_reply_lines(n_reply_lines);
    }

    /// Leaves, in a cluster: the departure is logged (during shutdown the
    /// node's own departure covers everyone's), and this node's applier
    /// tells the partner, rooms and requesters on every node. [`depart`]
    /// then logs and closes, as on one node.
    ///
    /// [`depart`]: Connection::depart
    pub(super) fn depart_cluster(&mut self, cluster: &Cluster) {
        self.shared.registry.lock().remove(&self.id);
        self.pending.clear();
        // Also when the arrival was answered try-later: it may have reached
        // the log after all, and a name must not stay taken.
        if self.arrival_sent && !self.shared.is_shutting_down() {
            let at = Now::read();
            cluster.depart(
                self.id,
                Record {
                    at,
                    what: What::Disconnect(self.id),
                },
            );
        }
    }
}
