//! What the session does to the screen and files around the editor:
//! how many rows an interrupted prompt took (to erase it before the
//! editor reopens with a new prompt), and saving the history at the end.

use std::path::Path;

use rustyline::Editor;
use rustyline::history::FileHistory;

use super::helper::ChatHelper;
use crate::layout;

/// How many rows up the start of `text` is once it has been printed at the
/// left edge of a `columns`-wide terminal followed by a newline (rustyline
/// wraps a row that is exactly full).
pub(super) fn rows_used(text: &str, columns: usize) -> usize {
    let columns = columns.max(1);
    let mut row = 0;
    let mut column = 0;
    for c in text.chars() {
        if c == '\n' {
            row += 1;
            column = 0;
            continue;
        }
        let w = layout::width(c.encode_utf8(&mut [0; 4]));
        column += w;
        if column > columns {
            row += 1;
            column = w;
        }
    }
    if column == columns {
        row += 1;
    }
    row + 1
}

pub(super) fn save_history(editor: &mut Editor<ChatHelper, FileHistory>, path: &Path) {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(error) = editor.append_history(path) {
        eprintln!(
            "chinwag: cannot save the history to {}: {error}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::rows_used;

    #[test]
    fn rows_used_matches_rustyline_wrapping() {
        assert_eq!(rows_used("menu> hi", 80), 1);
        assert_eq!(rows_used(&"x".repeat(79), 80), 1);
        assert_eq!(rows_used(&"x".repeat(80), 80), 2);
        assert_eq!(rows_used(&"x".repeat(81), 80), 2);
        assert_eq!(rows_used("a\nb", 80), 2);
        assert_eq!(rows_used(&"日".repeat(40), 80), 2);
        assert_eq!(rows_used(&"日".repeat(41), 80), 2);
    }
}
