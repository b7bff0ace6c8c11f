//! Blanks one erroneous value out of the plan text, so that parsing again finds the next error
//! (`plan::parse_all` reports every error at once).
//!
//! Input: the text and an error's line and column. Output: the block that holds the value (its
//! `key:` and the lines below it, or the list item `- …` that holds it), and the text with that
//! block blanked. Lines are never removed, only emptied, so later errors keep their lines. It does
//! not touch a value inside a flow collection (`{…}`, `[…]`): it answers `None` and the search
//! stops there.

use std::ops::Range;

/// A block to blank: from (line, column) to the end of line `lines.end - 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The lines it spans, 1-based, end excluded.
    pub lines: Range<usize>,
    /// Where it starts on its first line (1-based, chars).
    pub column: usize,
    /// The lines it spans with the blank lines below it (what an earlier blanking left there).
    pub reach: Range<usize>,
}

/// The block that holds the value at (line, column).
pub fn block_at(text: &str, line: usize, column: usize) -> Option<Block> {
    let lines: Vec<&str> = text.split('\n').collect();
    let src = *lines.get(line.checked_sub(1)?)?;
    let chars: Vec<char> = src.chars().collect();
    let col0 = column.checked_sub(1)?.min(chars.len());
    let mut before: String = chars[..col0].iter().collect();
    let mut col0 = col0;
    if let Some(flow) = before.find(['[', '{']) {
        // Inside `key: [ … ]`: the whole key goes.
        if !before[..flow].trim_end().ends_with(':') {
            return None;
        }
        before.truncate(flow);
        col0 = before.chars().count();
    }
    // The key this value belongs to: the last `key:` before it on the line, or the value itself
    // when it is a key.
    let start = match before
        .rfind(": ")
        .or_else(|| before.trim_end().strip_suffix(':').map(|t| t.len()))
    {
        Some(colon) => {
            let head = &before[..colon];
            head.rfind([' ', '-']).map_or(0, |i| i + 1)
        }
        None => before.len(),
    };
    let start_col = before[..start].chars().count();
    let lead = &before[..start];
    if lead.is_empty() && line == 1 && start_col == 0 && column <= 1 {
        // The whole document.
        return None;
    }
    // `- key: …`: the item goes as a whole (an item left empty would be an error of its own).
    let (from_col, indent) = match lead.trim_end().strip_suffix('-') {
        Some(dash) if dash.chars().all(|c| c == ' ') => (dash.len(), dash.len()),
        _ if lead.chars().all(|c| c == ' ') => (start_col, start_col),
        _ => return None,
    };
    // An error at the dash of an item (a scenario that lacks a key) takes the item.
    let at_dash = chars.get(col0) == Some(&'-') && chars.get(col0 + 1).is_none_or(|c| *c == ' ');
    let (from_col, indent) = if at_dash {
        (col0, col0)
    } else {
        (from_col, indent)
    };
    let item = at_dash || from_col < start_col;
    let mut end = line;
    for (i, l) in lines.iter().enumerate().skip(line) {
        let code = l.trim_start_matches(' ');
        let spaces = l.len() - code.len();
        let blank = code.is_empty() || code.starts_with('#');
        let child = spaces > indent || (!item && spaces == indent && code.starts_with("- "));
        if !(blank || child) {
            break;
        }
        end = i + 1;
    }
    let reach = line..end + 1;
    // Trailing blank lines stay.
    while end > line
        && lines
            .get(end - 1)
            .is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        end -= 1;
    }
    Some(Block {
        lines: line..end + 1,
        column: from_col + 1,
        reach,
    })
}

/// The text with `block` blanked: its first line cut at its column, the others emptied.
pub fn blank(text: &mut String, block: &Block) {
    let mut out = String::with_capacity(text.len());
    for (i, l) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let n = i + 1;
        if n == block.lines.start {
            let kept: String = l.chars().take(block.column - 1).collect();
            out.push_str(&kept);
        } else if !block.lines.contains(&n) {
            out.push_str(l);
        }
    }
    *text = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_the_key_and_its_children_or_the_item() {
        let text = "scenarios:\n  - name: a\n    repeat: many\n    expect:\n      status: 2\n    models: [x]\n    h: {a: [1, {b: 2}]}\n  - name: b\n";
        // (line, column, lines, column, text after)
        type Case = (usize, usize, Option<(Range<usize>, usize)>);
        let cases: &[Case] = &[
            (3, 13, Some((3..4, 5))),
            (3, 5, Some((3..4, 5))),
            (4, 5, Some((4..6, 5))),
            (5, 15, Some((5..6, 7))),
            (2, 5, Some((2..8, 3))),
            (2, 3, Some((2..8, 3))),
            (6, 14, Some((6..7, 5))),
            (1, 1, None),
            (7, 16, Some((7..8, 5))),
        ];
        for (line, col, want) in cases {
            let got = block_at(text, *line, *col).map(|b| (b.lines, b.column));
            assert_eq!(got, *want, "{line}:{col}");
        }
        let mut t = text.to_string();
        blank(&mut t, &block_at(text, 4, 5).expect("block"));
        assert_eq!(
            t,
            "scenarios:\n  - name: a\n    repeat: many\n    \n\n    models: [x]\n    h: {a: [1, {b: 2}]}\n  - name: b\n"
        );
        let mut t = text.to_string();
        blank(&mut t, &block_at(text, 2, 5).expect("block"));
        assert_eq!(t, "scenarios:\n  \n\n\n\n\n\n  - name: b\n");
    }
}
