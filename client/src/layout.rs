//! Turns a rendered line (styled spans) into terminal rows: the `HH:MM`
//! stamp, colours as ANSI codes (or none), and wrapping at the terminal's
//! width with an indented continuation marker, so text that wraps can never
//! start a row the way a real line does. Pure: no terminal is touched.

use unicode_width::UnicodeWidthChar;

/// How a span looks. Names carry their folded form, which picks the colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Style {
    /// Text typed by a user, or a table cell.
    Plain,
    /// The `-!-` marker and the words of a notice.
    System,
    /// The `-!-` marker and words of an error.
    Error,
    /// Secondary prose (server `INFO` lines, table headings).
    Faint,
    /// Our own name.
    Me,
    /// Another user's name; the string is the folded name.
    User(String),
    /// A room name.
    Room,
    /// Your name where someone else's line mentions you.
    Mention,
}

/// A piece of a line with one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) text: String,
    pub(crate) style: Style,
}

/// One logical line of output, before stamping and wrapping.
pub(crate) type Line = Vec<Span>;

/// A line and the moment it is about, which its stamp shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shown {
    /// `None`: now. Otherwise milliseconds since the Unix epoch (a room's
    /// stored past, from a `HISTORY` line).
    pub(crate) at_ms: Option<u64>,
    pub(crate) line: Line,
}

impl From<Line> for Shown {
    fn from(line: Line) -> Shown {
        Shown { at_ms: None, line }
    }
}

/// Builds a span; the text must already be neutralised.
pub(crate) fn span(text: impl Into<String>, style: Style) -> Span {
    Span {
        text: text.into(),
        style,
    }
}

/// What every continuation row starts with: the stamp's width of blanks and
/// a bar, so it can never be read as the start of a message or notice.
const CONTINUATION: &str = "      \u{2506} ";
const CONTINUATION_WIDTH: usize = 8;
/// A row breaks after its last space only if that moves fewer characters
/// than this to the next row.
const MAX_WORD_MOVED: usize = 20;

/// Colours for other users' names: no red (errors), yellow (the system) or
/// bold white (you).
const PALETTE: [&str; 10] = [
    "32", "34", "35", "36", "92", "94", "95", "96", "38;5;208", "38;5;141",
];

/// The stable colour of a user, from an FNV-1a hash of the folded name.
pub(crate) fn user_colour(folded: &str) -> &'static str {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in folded.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    PALETTE[hash as usize % PALETTE.len()]
}

fn sgr(style: &Style) -> &str {
    match style {
        Style::Plain => "",
        Style::System => "33",
        Style::Error => "1;31",
        Style::Faint => "2",
        Style::Me => "1;97",
        Style::User(folded) => user_colour(folded),
        Style::Room => "1;36",
        // Bold reverse video: stands out on every background, without
        // taking a colour from the palette.
        Style::Mention => "1;7",
    }
}

/// Rendering options for one output stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Emit ANSI colours.
    pub(crate) colour: bool,
    /// Wrap at this many columns; `None` for no wrapping (a pipe).
    pub(crate) width: Option<usize>,
}

impl Layout {
    /// The rows for `line`, stamped with `stamp` (`HH:MM`, or a date and
    /// time for a line from the past), each without a newline. Long lines
    /// wrap after a space when there is one near the end of the row, else
    /// anywhere.
    pub(crate) fn rows(&self, stamp: &str, line: &[Span]) -> Vec<String> {
        // Narrower than this and the continuation marker would fill the row.
        let width = self.width.filter(|w| *w > CONTINUATION_WIDTH + 4);
        let cells: Vec<(char, usize)> = line
            .iter()
            .enumerate()
            .flat_map(|(index, piece)| piece.text.chars().map(move |c| (c, index)))
            .collect();
        let mut breaks = Vec::new();
        if let Some(width) = width {
            let mut row_start = 0;
            let mut used = self::width(stamp) + 1;
            let mut index = 0;
            while index < cells.len() {
                let w = cells[index].0.width().unwrap_or(0);
                if used + w <= width || index == row_start {
                    used += w;
                    index += 1;
                    continue;
                }
                let space = cells[row_start..index]
                    .iter()
                    .rposition(|(c, _)| *c == ' ')
                    .map(|p| row_start + p + 1)
                    .filter(|after| index - after < MAX_WORD_MOVED && *after > row_start);
                row_start = space.unwrap_or(index);
                breaks.push(row_start);
                used = CONTINUATION_WIDTH
                    + cells[row_start..index]
                        .iter()
                        .map(|(c, _)| c.width().unwrap_or(0))
                        .sum::<usize>();
            }
        }
        breaks.push(cells.len());
        let mut rows = Vec::with_capacity(breaks.len());
        let mut from = 0;
        for (n, to) in breaks.into_iter().enumerate() {
            let mut row = String::new();
            if n == 0 {
                self.push(&mut row, &format!("{stamp} "), &Style::Faint);
            } else {
                self.push(&mut row, CONTINUATION, &Style::Faint);
            }
            let mut run = String::new();
            let mut run_span = cells.get(from).map_or(0, |(_, s)| *s);
            for &(c, span_index) in &cells[from..to] {
                if span_index != run_span {
                    self.push(&mut row, &run, &line[run_span].style);
                    run.clear();
                    run_span = span_index;
                }
                run.push(c);
            }
            if let Some(piece) = line.get(run_span) {
                self.push(&mut row, &run, &piece.style);
            }
            rows.push(row);
            from = to;
        }
        rows
    }

    fn push(&self, row: &mut String, text: &str, style: &Style) {
        if text.is_empty() {
            return;
        }
        let code = sgr(style);
        if self.colour && !code.is_empty() {
            row.push_str("\x1b[");
            row.push_str(code);
            row.push('m');
            row.push_str(text);
            row.push_str("\x1b[0m");
        } else {
            row.push_str(text);
        }
    }
}

/// The display width of `text`, as a terminal shows it.
pub(crate) fn width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Layout = Layout {
        colour: false,
        width: None,
    };

    #[test]
    fn plain_rows_have_the_stamp_and_no_escapes() {
        let line = vec![
            span("bob", Style::User("bob".into())),
            span(": hi", Style::Plain),
        ];
        assert_eq!(PLAIN.rows("12:34", &line), ["12:34 bob: hi"]);
    }

    #[test]
    fn colour_rows_wrap_each_span() {
        let layout = Layout {
            colour: true,
            width: None,
        };
        let line = vec![span("-!-", Style::System), span(" x", Style::Plain)];
        assert_eq!(
            layout.rows("01:02", &line),
            ["\x1b[2m01:02 \x1b[0m\x1b[33m-!-\x1b[0m x"]
        );
    }

    #[test]
    fn long_lines_wrap_behind_a_continuation_marker() {
        let layout = Layout {
            colour: false,
            width: Some(20),
        };
        let line = vec![
            span("al", Style::User("al".into())),
            span(format!(": {}bob: give", " ".repeat(30)), Style::Plain),
        ];
        let rows = layout.rows("00:00", &line);
        assert!(rows.len() > 1);
        for row in &rows[1..] {
            assert!(row.starts_with(CONTINUATION), "{row:?}");
        }
        for row in &rows {
            assert!(width(row) <= 20, "{row:?}");
        }
        assert_eq!(rows.concat().replace(CONTINUATION, "").len(), 6 + 2 + 41);
    }

    #[test]
    fn wrapping_prefers_the_last_space() {
        let layout = Layout {
            colour: true,
            width: Some(24),
        };
        let line = vec![
            span("bob", Style::User("bob".into())),
            span(": hello there general kenobi", Style::Plain),
        ];
        let rows: Vec<String> = layout
            .rows("00:00", &line)
            .iter()
            .map(|r| {
                r.replace("\x1b[2m", "")
                    .replace("\x1b[0m", "")
                    .replace("\x1b[92m", "")
            })
            .collect();
        assert_eq!(
            rows,
            [
                "00:00 bob: hello there ",
                &format!("{CONTINUATION}general kenobi")
            ]
        );
    }

    #[test]
    fn wide_characters_count_double() {
        let layout = Layout {
            colour: false,
            width: Some(16),
        };
        let rows = layout.rows("00:00", &[span("日本語日本語", Style::Plain)]);
        assert_eq!(rows[0], "00:00 日本語日本");
        assert_eq!(rows[1], format!("{CONTINUATION}語"));
    }

    #[test]
    fn user_colours_are_stable_and_not_reserved() {
        assert_eq!(user_colour("alice"), user_colour("alice"));
        let distinct: std::collections::HashSet<_> = ["alice", "bob", "carol", "dave", "eve"]
            .iter()
            .map(|n| user_colour(n))
            .collect();
        assert!(distinct.len() > 1);
        for code in PALETTE {
            assert!(!["31", "33", "1;97", "1;31"].contains(&code));
        }
    }
}
