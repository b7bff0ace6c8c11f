//! Each cell's errors by category, with the first distinct messages the run kept.
//!
//! Input: a cell. Output: [`ErrorGroup`]s; the messages come from servers, each page escapes
//! them its own way. Pure.

use crate::stats::CellSummary;

/// The errors of one category in one cell, with the first distinct messages the run kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ErrorGroup {
    pub category: String,
    pub count: u64,
    /// As the server or the client said them: text from outside, to be escaped by each page.
    pub messages: Vec<String>,
}

impl ErrorGroup {
    /// `: first<separator>second`, each message as `show` writes it (escaped for its page);
    /// nothing when the run kept no message.
    pub fn messages_after(&self, show: impl Fn(&str) -> String, separator: &str) -> String {
        if self.messages.is_empty() {
            return String::new();
        }
        let shown: Vec<String> = self.messages.iter().map(|m| show(m)).collect();
        format!(": {}", shown.join(separator))
    }
}

/// The cell's errors by category in the order of an exchange's phases (dns, connect, tls,
/// protocol, timeout, status, grpc_status, websocket_close, body, expectation), with their messages; categories without errors
/// are left out.
pub fn error_groups(c: &CellSummary) -> Vec<ErrorGroup> {
    let mut groups: Vec<ErrorGroup> = c
        .errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| ErrorGroup {
            category: k.clone(),
            count: *n,
            messages: c.error_messages.get(k).cloned().unwrap_or_default(),
        })
        .collect();
    // Messages of a category without a count (an edited summary) are still worth showing.
    for (k, m) in &c.error_messages {
        if !m.is_empty() && c.errors.get(k).is_none_or(|n| *n == 0) {
            groups.push(ErrorGroup {
                category: k.clone(),
                count: 0,
                messages: m.clone(),
            });
        }
    }
    groups.sort_by_key(|g| crate::stats::category_rank(&g.category));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample::{healthy, sample};

    #[test]
    fn error_groups_carry_their_messages() {
        let mut c = sample().scenarios[0].cells[1].clone();
        c.errors.insert("tls".into(), 3);
        c.error_messages.insert(
            "tls".into(),
            vec!["tls: invalid peer certificate: UnknownIssuer".into()],
        );
        // Messages without a count (an edited file) still show.
        c.error_messages
            .insert("body".into(), vec!["body: cut".into()]);
        let got: Vec<(String, u64, usize)> = error_groups(&c)
            .into_iter()
            .map(|g| (g.category, g.count, g.messages.len()))
            .collect();
        assert_eq!(
            got,
            [
                // In the order of an exchange's phases, not the alphabet's.
                ("tls".to_string(), 3, 1),
                ("status".to_string(), 1, 1),
                ("body".to_string(), 0, 1),
            ]
        );
        assert!(error_groups(&healthy().scenarios[0].cells[0]).is_empty());
    }
}
