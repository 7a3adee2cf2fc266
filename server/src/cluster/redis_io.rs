//! Talking to Redis with a bound on every call: each connection has
//! connect, read and write timeouts, so no call waits longer than a few
//! seconds, whatever Redis or the network does; and the few replies the
//! cluster reads (stream entries) are taken apart here.

use std::collections::HashMap;
use std::time::Duration;

use redis::{Client, Connection, RedisResult, Value};

/// How long to wait for Redis to accept a connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long any one command may take (a blocking read adds its block).
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The stream every node appends to and reads.
pub(crate) const LOG: &str = "cw:log";
/// The stream keeps about this many entries (each a batch of records):
/// plenty for a node that joins (it starts from its own entry) or lags.
pub(crate) const LOG_KEEP: u64 = 1_000_000;

/// A connection whose every call is bounded, reads waiting at most
/// `read_timeout`.
pub(crate) fn connect(client: &Client, read_timeout: Duration) -> RedisResult<Connection> {
    let con = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    con.set_read_timeout(Some(read_timeout))?;
    con.set_write_timeout(Some(CALL_TIMEOUT))?;
    Ok(con)
}

/// Appends one entry to the log: `n` is the node that wrote it, `d` its
/// text (blocks of records, see `log.rs`). Returns the entry's id.
pub(crate) fn append(con: &mut Connection, node: u32, text: &str) -> RedisResult<String> {
    redis::cmd("XADD")
        .arg(LOG)
        .arg("MAXLEN")
        .arg("~")
        .arg(LOG_KEEP)
        .arg("*")
        .arg("n")
        .arg(node)
        .arg("d")
        .arg(text)
        .query(con)
}

/// One stream entry: its id and its fields.
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) fields: HashMap<String, Vec<u8>>,
}

/// The entries of an `XREAD` reply on one stream (`Nil`: none yet).
pub(crate) fn read_entries(reply: Value) -> Vec<Entry> {
    let mut out = Vec::new();
    match reply {
        // RESP2: [[stream, [entry...]]...]
        Value::Array(streams) => {
            for stream in streams {
                if let Value::Array(mut pair) = stream
                    && pair.len() == 2
                    && let Some(list) = pair.pop()
                {
                    out.extend(range_entries(list));
                }
            }
        }
        // RESP3: {stream: [entry...]}
        Value::Map(streams) => {
            for (_, list) in streams {
                out.extend(range_entries(list));
            }
        }
        _ => {}
    }
    out
}

/// The entries of an `XRANGE` or `XREVRANGE` reply.
pub(crate) fn range_entries(reply: Value) -> Vec<Entry> {
    match reply {
        Value::Array(list) => list.into_iter().filter_map(entry).collect(),
        _ => Vec::new(),
    }
}

fn text(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

fn entry(value: Value) -> Option<Entry> {
    let Value::Array(mut pair) = value else {
        return None;
    };
    if pair.len() != 2 {
        return None;
    }
    let fields = pair.pop()?;
    let id = String::from_utf8(text(pair.pop()?)?).ok()?;
    let mut map = HashMap::new();
    if let Value::Array(flat) = fields {
        let mut flat = flat.into_iter();
        while let (Some(key), Some(value)) = (flat.next(), flat.next()) {
            let key = String::from_utf8(text(key)?).ok()?;
            map.insert(key, text(value)?);
        }
    }
    Some(Entry { id, fields: map })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn xread_and_xrange_replies_give_their_entries() {
        let entry = |id: &str, d: &str| {
            Value::Array(vec![bulk(id), Value::Array(vec![bulk("d"), bulk(d)])])
        };
        let xrange = Value::Array(vec![entry("1-0", "a"), entry("2-0", "b")]);
        let got: Vec<String> = range_entries(xrange).into_iter().map(|e| e.id).collect();
        assert_eq!(got, ["1-0", "2-0"]);
        let xread = Value::Array(vec![Value::Array(vec![
            bulk("cw:log"),
            Value::Array(vec![entry("3-1", "c")]),
        ])]);
        let got = read_entries(xread);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "3-1");
        assert_eq!(got[0].fields["d"], b"c");
        assert!(read_entries(Value::Nil).is_empty());
        assert!(range_entries(Value::Array(Vec::new())).is_empty());
    }
}
