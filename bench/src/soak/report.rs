//! The soak's output: a summary for people, then one JSON line for
//! scripts (written by hand; the figures are plain numbers and words).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chinwag_bench_lib::own_server::StderrSummary;

use crate::ledger::Totals;
use crate::usage::Usage;

/// Everything the report shows.
pub(crate) struct Report {
    pub(crate) clients: usize,
    pub(crate) secs: u64,
    pub(crate) seed: u64,
    pub(crate) wall: Duration,
    pub(crate) totals: Totals,
    pub(crate) names_checked: usize,
    /// Nodes, with `--cluster`.
    pub(crate) nodes: Option<usize>,
    /// Before clients, the peak during the run, after they left: of the
    /// server, or of each node.
    pub(crate) usage: Option<Vec<(Usage, Usage, Usage)>>,
    /// Before anything connected (the baseline is taken after the warm-up
    /// phase), of the server or of each node.
    pub(crate) cold: Option<Vec<Usage>>,
    pub(crate) stderr: Option<StderrSummary>,
    pub(crate) server_exit: Option<String>,
    /// Whether the data directory kept an account and history across a
    /// restart (`None`: not checked, on a server of others or a cluster).
    pub(crate) restart: Option<bool>,
    /// Redis's `used_memory` at the end, in a cluster.
    pub(crate) redis_used_kib: Option<u64>,
}

fn map_text<K: std::fmt::Display>(map: &BTreeMap<K, u64>) -> String {
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn map_json<K: std::fmt::Display>(map: &BTreeMap<K, u64>) -> String {
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", parts.join(","))
}

/// One object for one server, an array for the nodes of a cluster.
fn per_node_json<T>(items: &[T], one: impl Fn(&T) -> String) -> String {
    match items {
        [item] => one(item),
        items => format!("[{}]", items.iter().map(one).collect::<Vec<_>>().join(",")),
    }
}

fn usage_json(usage: Usage) -> String {
    format!(
        "{{\"threads\":{},\"fds\":{},\"rss_kib\":{}}}",
        usage.threads, usage.fds, usage.rss_kib
    )
}

impl Report {
    /// The human summary.
    pub(crate) fn text(&self) -> String {
        let t = &self.totals;
        let n_actions: u64 = t.actions.values().sum();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "chinwag-soak: {} clients for {} s (seed {}), wall {:.1} s",
            self.clients,
            self.secs,
            self.seed,
            self.wall.as_secs_f64()
        );
        let _ = writeln!(out, "  actions     {n_actions}: {}", map_text(&t.actions));
        let _ = writeln!(
            out,
            "  messages    {} sent; chat {} verified delivered; room {} received, {} verified",
            t.messages_sent, t.chat_verified, t.room_received, t.room_verified
        );
        let _ = writeln!(
            out,
            "  history     {} joins' HISTORY checked, {} lines; {} names registered at the end",
            t.history_replies, t.history_lines, t.accounts
        );
        let _ = writeln!(
            out,
            "  away        {} periods; askers told AWAY {} times, OK chat without AWAY {}; USER … away {}",
            t.away_periods, t.away_told, t.not_away_told, t.away_listed
        );
        let _ = writeln!(
            out,
            "  ignore      {} windows (a receiver ignoring a sender); {} deliveries missed inside one, excused",
            t.ignore_windows, t.ignored_drops
        );
        let _ = writeln!(
            out,
            "  operators   {} terms; seen by others: {}",
            t.op_terms,
            map_text(&t.op_seen)
        );
        let _ = writeln!(out, "  ERR codes   {}", map_text(&t.errs));
        let _ = writeln!(out, "  disconnects {}", map_text(&t.disconnects));
        let _ = writeln!(
            out,
            "  names       {} used, {} logged in again after the run",
            t.names_used, self.names_checked
        );
        if let Some(nodes) = self.nodes {
            let _ = writeln!(
                out,
                "  cluster     {nodes} nodes on a private redis-server, connections to the nodes in turn{}",
                self.redis_used_kib.map_or(String::new(), |kib| format!(
                    "; Redis used_memory at the end {kib} KiB"
                ))
            );
        }
        let label = |k: usize| match self.nodes {
            Some(_) => format!("node {:<5}", k + 1),
            None => "server     ".to_owned(),
        };
        match &self.usage {
            Some(usage) => {
                for (k, (before, peak, after)) in usage.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "  {} threads {}/{}/{}, fds {}/{}/{}, RSS {}/{}/{} KiB (after warm-up/peak/after the run)",
                        label(k),
                        before.threads,
                        peak.threads,
                        after.threads,
                        before.fds,
                        peak.fds,
                        after.fds,
                        before.rss_kib,
                        peak.rss_kib,
                        after.rss_kib
                    );
                }
            }
            None => out.push_str("  server      external: resources not measured\n"),
        }
        for (k, cold) in self.cold.iter().flatten().enumerate() {
            let _ = writeln!(
                out,
                "  {} cold start (before the warm-up phase): threads {}, fds {}, RSS {} KiB",
                label(k),
                cold.threads,
                cold.fds,
                cold.rss_kib
            );
        }
        if let Some(stderr) = &self.stderr {
            let _ = writeln!(
                out,
                "  server log  {} ERROR, {} WARN lines{}",
                stderr.n_errors,
                stderr.n_warnings,
                if stderr.n_node_gone > 0 {
                    format!(
                        ", and {} saying a cluster node is gone (one left without saying so)",
                        stderr.n_node_gone
                    )
                } else {
                    String::new()
                }
            );
            for line in &stderr.first {
                let _ = writeln!(out, "    {line}");
            }
        }
        if let Some(exit) = &self.server_exit {
            let _ = writeln!(out, "  server exit {exit}");
        }
        if let Some(ok) = self.restart {
            let verdict = if ok { "kept" } else { "did NOT keep" };
            let _ = writeln!(
                out,
                "  restart     a --data directory {verdict} a registered name and a room's history"
            );
        } else if self.nodes.is_some() {
            out.push_str(
                "  restart     skipped: the data-directory restart check is single-node only \
                 (a cluster keeps its data in Redis)\n",
            );
        }
        let _ = writeln!(out, "  violations  {}", t.n_violations);
        for violation in &t.violations {
            let _ = writeln!(out, "    - {violation}");
        }
        out
    }

    /// The JSON line.
    pub(crate) fn json(&self) -> String {
        let t = &self.totals;
        let usage = match &self.usage {
            Some(usage) => per_node_json(usage, |&(before, peak, after)| {
                format!(
                    "{{\"before\":{},\"peak\":{},\"after\":{}}}",
                    usage_json(before),
                    usage_json(peak),
                    usage_json(after)
                )
            }),
            None => "null".into(),
        };
        let cold = self.cold.as_ref().map_or("null".into(), |cold| {
            per_node_json(cold, |&u| usage_json(u))
        });
        let nodes = self.nodes.unwrap_or(1);
        let redis = self
            .redis_used_kib
            .map_or("null".to_owned(), |kib| kib.to_string());
        let (n_errors, n_warnings) = self
            .stderr
            .as_ref()
            .map_or((0, 0), |s| (s.n_errors, s.n_warnings));
        format!(
            "{{\"tool\":\"chinwag-soak\",\"nodes\":{nodes},\"redis_used_kib\":{redis},\"clients\":{},\"secs\":{},\"seed\":{},\"wall_secs\":{:.1},\"actions\":{},\"messages_sent\":{},\"chat_verified\":{},\"room_received\":{},\"room_verified\":{},\"history_joins\":{},\"history_lines\":{},\"accounts\":{},\"away\":{{\"periods\":{},\"told\":{},\"not_told\":{},\"listed\":{}}},\"ignore_windows\":{},\"ignored_drops\":{},\"op_terms\":{},\"op_seen\":{},\"errs\":{},\"disconnects\":{},\"names_used\":{},\"names_checked\":{},\"server\":{usage},\"server_cold\":{cold},\"server_log_errors\":{n_errors},\"server_log_warnings\":{n_warnings},\"restart_ok\":{},\"violations\":{},\"pass\":{}}}",
            self.clients,
            self.secs,
            self.seed,
            self.wall.as_secs_f64(),
            map_json(&t.actions),
            t.messages_sent,
            t.chat_verified,
            t.room_received,
            t.room_verified,
            t.history_replies,
            t.history_lines,
            t.accounts,
            t.away_periods,
            t.away_told,
            t.not_away_told,
            t.away_listed,
            t.ignore_windows,
            t.ignored_drops,
            t.op_terms,
            map_json(&t.op_seen),
            map_json(&t.errs),
            map_json(&t.disconnects),
            t.names_used,
            self.names_checked,
            self.restart.map_or("null".to_owned(), |ok| ok.to_string()),
            t.n_violations,
            t.n_violations == 0
        )
    }
}
