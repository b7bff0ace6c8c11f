//! `junit.xml`: the verdict in the format every CI system reads (GitLab, Jenkins, GitHub test
//! report actions), written with `quick-junit`.
//!
//! One test suite per scenario; in it one test case per cell ("completed": did the cell run to its
//! end), one per threshold per cell, and one per baseline check. A failure carries the observed
//! value next to the limit or the baseline value.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{ReportError, Reporter};
use crate::plan::cell_label;
use crate::stats::{BaselineCheck, Summary};
use crate::units;

pub struct Junit;

impl Reporter for Junit {
    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>, ReportError> {
        let mut report = Report::new(format!("loadplan {}", summary.plan.name));
        for s in &summary.scenarios {
            let mut suite = TestSuite::new(s.name.clone());
            let class = format!("{}.{}", summary.plan.name, s.name);
            for c in &s.cells {
                let label = cell_label(c.model, c.concurrency, c.workers);
                let mut completed = TestCase::new(
                    format!("{label}: completed"),
                    status(c.complete, || {
                        format!("the cell did not complete: {}", c.notes.join("; "))
                    }),
                );
                completed
                    .set_classname(class.clone())
                    .set_time(std::time::Duration::from_secs_f64(c.wall_seconds.max(0.0)));
                suite.add_test_case(completed);
                for t in &c.thresholds {
                    let mut case = TestCase::new(
                        format!("{label}: {}", t.expression),
                        status(t.passed, || {
                            format!("{} failed: observed {}", t.expression, t.observed_text)
                        }),
                    );
                    case.set_classname(class.clone());
                    case.set_system_out(format!("observed {}", t.observed_text));
                    suite.add_test_case(case);
                }
                if let Some(b) = &summary.baseline {
                    for check in b.checks.iter().filter(|k| {
                        k.scenario == s.name && k.model == c.model && k.concurrency == c.concurrency
                    }) {
                        let mut case = TestCase::new(
                            format!("{label}: baseline {}", check.metric),
                            status(check.passed, || baseline_failure(check, b.tolerance)),
                        );
                        case.set_classname(class.clone());
                        if let Some(n) = check.noise.as_ref().filter(|n| n.within_noise) {
                            case.set_system_out(format!("within noise (p = {:.3})", n.p_value));
                        }
                        suite.add_test_case(case);
                    }
                }
            }
            report.add_test_suite(suite);
        }
        let xml = report.to_string().map_err(|e| ReportError::Render {
            file: "junit.xml",
            reason: e.to_string(),
        })?;
        // quick-junit writes `disabled="0"` on every <testsuite>; Jenkins' published schema
        // (junit-10.xsd) does not allow that attribute there, and loadplan never disables a test.
        Ok(xml.replace(" disabled=\"0\"", "").into_bytes())
    }
}

fn status(passed: bool, message: impl FnOnce() -> String) -> TestCaseStatus {
    if passed {
        TestCaseStatus::success()
    } else {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(message());
        s
    }
}

/// `p99 regressed: 61.2ms against 51.0ms in the baseline (+20.0%, tolerance 10.0%)`.
pub fn baseline_failure(c: &BaselineCheck, tolerance: f64) -> String {
    let value = |v: f64| match c.metric.as_str() {
        "throughput_per_s" => format!("{}/s", units::number(v)),
        "error_rate" => units::percent(v),
        _ => units::micros(v.round() as u64),
    };
    let change = c
        .change
        .map_or_else(String::new, |x| format!(" ({:+.1}%", x * 100.0) + ")");
    format!(
        "{} regressed: {} against {} in the baseline{change}, tolerance {}",
        c.metric,
        value(c.current),
        value(c.baseline),
        units::percent(tolerance)
    )
}
