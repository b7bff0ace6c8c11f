//! `summary.md`: compact tables fit for `$GITHUB_STEP_SUMMARY` or a merge-request comment.
//!
//! Input: a summary. Output: GitHub-flavoured Markdown. Plan-provided text is escaped so that a
//! scenario name cannot break a table or inject markup.

use super::junit::baseline_failure;
use super::{ReportError, Reporter};
use crate::plan::cell_label;
use crate::stats::{Summary, Verdict};
use crate::units;

pub struct Markdown;

impl Reporter for Markdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, s: &Summary) -> Result<Vec<u8>, ReportError> {
        Ok(render(s).into_bytes())
    }
}

/// Escapes what Markdown (and the HTML it may contain) would interpret.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '|' | '\\' | '*' | '_' | '`' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

pub fn render(s: &Summary) -> String {
    let verdict = match s.verdict {
        Verdict::Passed => "✅ passed",
        Verdict::Failed => "❌ failed",
        Verdict::Interrupted => "⚠️ interrupted",
    };
    let mut md = format!(
        "## loadplan: {} — {verdict}\n\n{} · {:.1} s · {} cores · loadplan {}\n",
        esc(&s.plan.name),
        s.started_at,
        s.duration_seconds,
        s.host.cores,
        s.loadplan_version
    );
    for sc in &s.scenarios {
        md.push_str(&format!(
            "\n### {} ({}-bound)\n\n| cell | ops | errors | throughput/s | p50 | p99 | max | cores busy | speedup |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            esc(&sc.name),
            sc.bound.as_str()
        ));
        for c in &sc.cells {
            md.push_str(&format!(
                "| {}{} | {} | {} ({}) | {} | {} | {} | {} | {} | {} |\n",
                cell_label(c.model, c.concurrency, c.workers),
                if c.complete { "" } else { " (incomplete)" },
                c.operations,
                c.errors.values().sum::<u64>(),
                units::percent(c.error_rate),
                units::number(c.throughput_per_s),
                units::micros(c.latency_us.p50),
                units::micros(c.latency_us.p99),
                units::micros(c.latency_us.max),
                units::number(c.cores_busy),
                units::speedup(c.speedup),
            ));
        }
        let checks: Vec<String> = sc
            .cells
            .iter()
            .flat_map(|c| {
                c.thresholds.iter().map(move |t| {
                    format!(
                        "- {} {}: `{}`, observed {}\n",
                        if t.passed { "✅" } else { "❌" },
                        cell_label(c.model, c.concurrency, c.workers),
                        t.expression.replace('`', "'"),
                        t.observed_text
                    )
                })
            })
            .collect();
        if !checks.is_empty() {
            md.push_str("\nThresholds:\n\n");
            md.push_str(&checks.concat());
        }
    }
    if let Some(b) = &s.baseline {
        md.push_str(&format!(
            "\n### Baseline: {} ({})\n\nTolerance {}, latency floor {}. ",
            esc(&b.run_id),
            if b.passed {
                "✅ no regression"
            } else {
                "❌ regressed"
            },
            units::percent(b.tolerance),
            units::micros(b.latency_floor_us)
        ));
        let failed: Vec<_> = b.checks.iter().filter(|c| !c.passed).collect();
        let noise = b
            .checks
            .iter()
            .filter(|c| c.noise.as_ref().is_some_and(|n| n.within_noise));
        md.push_str(&format!(
            "{} checks, {} failed, {} within noise.\n",
            b.checks.len(),
            failed.len(),
            noise.count()
        ));
        if !failed.is_empty() {
            md.push_str("\n| scenario | cell | regression |\n|---|---|---|\n");
            for c in failed {
                md.push_str(&format!(
                    "| {} | {} c={} | {} |\n",
                    esc(&c.scenario),
                    c.model.as_str(),
                    c.concurrency,
                    esc(&baseline_failure(c, b.tolerance))
                ));
            }
        }
        for (what, cells) in [
            ("Not in the baseline", &b.missing_in_baseline),
            ("In the baseline but not run", &b.missing_in_run),
        ] {
            if !cells.is_empty() {
                let list: Vec<String> = cells.iter().map(|c| esc(c)).collect();
                md.push_str(&format!("\n{what}: {}.\n", list.join(", ")));
            }
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_table_breakers_and_markup() {
        assert_eq!(esc("a|b"), "a\\|b");
        assert_eq!(esc("<script>&"), "&lt;script&gt;&amp;");
        assert_eq!(esc("x\ny"), "x y");
        assert_eq!(esc("**bold**"), "\\*\\*bold\\*\\*");
    }
}
