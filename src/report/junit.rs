//! `junit.xml`: the verdict in the format every CI system reads (GitLab, Jenkins, GitHub test
//! report actions), written with `quick-junit`.
//!
//! First, when the run broke a validity rule, a `validity` suite: one test case per broken rule,
//! a failure when it made the run invalid, a pass with its reason in the output when the plan set
//! it to `warn`. Then one test suite per scenario; in it one test case per cell ("completed": did the cell run to its
//! end), one per threshold per cell, and one per baseline check. A failure carries the observed
//! value next to the limit or the baseline value.
//!
//! Input: a summary. Output: the XML's bytes. Must not decide a verdict (the gate did), nor make
//! up a number it was not given (a wall time no `Duration` holds is left out).

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{ReportError, Reporter, insight};
use crate::stats::{BaselineCheck, Summary};
use crate::units;

pub struct Junit;

impl Reporter for Junit {
    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>, ReportError> {
        let mut report = Report::new(format!("loadplan {}", summary.plan.name));
        if !summary.validity.is_empty() {
            let mut suite = TestSuite::new("validity");
            for l in insight::validity(summary) {
                let mut case = TestCase::new(
                    format!("{}: {}", l.who, l.rule),
                    status(l.warning, || {
                        format!("invalid: {} ({}); fix: {}", l.reason, l.measured, l.fix)
                    }),
                );
                case.set_classname(format!("{}.validity", summary.plan.name));
                if l.warning {
                    case.set_system_out(format!(
                        "warning (validity: {{ {}: warn }}): {} ({}); fix: {}",
                        l.rule, l.reason, l.measured, l.fix
                    ));
                }
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        for s in &summary.scenarios {
            let mut suite = TestSuite::new(s.name.clone());
            let class = format!("{}.{}", summary.plan.name, s.name);
            for c in &s.cells {
                let label = c.label();
                let mut completed = TestCase::new(
                    format!("{label}: completed"),
                    status(c.complete, || {
                        format!("the cell did not complete: {}", c.notes.join("; "))
                    }),
                );
                completed.set_classname(class.clone());
                // A wall time no `Duration` holds (1e308 or ∞ in an edited file) is left out
                // rather than made up; NaN and negatives count as 0, as they always have.
                if let Ok(wall) = std::time::Duration::try_from_secs_f64(c.wall_seconds.max(0.0)) {
                    completed.set_time(wall);
                }
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
                            status(check.passed, || baseline_failure(check, check.tolerance)),
                        );
                        case.set_classname(class.clone());
                        let evidence = super::insight::evidence_words(check);
                        case.set_system_out(if evidence.is_empty() {
                            check.outcome.word().to_string()
                        } else {
                            format!("{}: {evidence}", check.outcome.word())
                        });
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

/// A baseline check's metric as people say it: `throughput` for the summary's
/// `throughput_per_s`, `capacity` for `capacity_per_s`; the others (`p99`, `error_rate`) read as they are written in thresholds.
pub fn metric_words(metric: &str) -> &str {
    match metric {
        "throughput_per_s" => "throughput",
        "capacity_per_s" => "capacity",
        other => other,
    }
}

/// `p99 regressed: 61.2ms against 51.0ms in the baseline (+20.0%), tolerance 10.0%`.
pub fn baseline_failure(c: &BaselineCheck, tolerance: f64) -> String {
    format!(
        "{} regressed: {}, tolerance {}",
        metric_words(&c.metric),
        against(c),
        units::percent(tolerance)
    )
}

/// `throughput: 14.4/s against 17.0/s in the baseline (-15.3%), tolerance 10.0%`: a change
/// the data did not call a regression.
pub fn baseline_change(c: &BaselineCheck, tolerance: f64) -> String {
    format!(
        "{}: {}, tolerance {}",
        metric_words(&c.metric),
        against(c),
        units::percent(tolerance)
    )
}

/// `61.2ms against 51.0ms in the baseline (+20.0%)`.
fn against(c: &BaselineCheck) -> String {
    let change = c
        .change
        .filter(|x| x.is_finite())
        .map_or_else(String::new, |x| format!(" ({:+.1}%)", x * 100.0));
    format!(
        "{} against {} in the baseline{change}",
        baseline_value(&c.metric, c.current),
        baseline_value(&c.metric, c.baseline),
    )
}

/// A baseline check's value in its metric's unit: `80.0/s`, `5.00%`, `1.50ms`; `-` for a
/// latency that is not a number of microseconds.
pub(super) fn baseline_value(metric: &str, v: f64) -> String {
    match metric {
        "throughput_per_s" | "capacity_per_s" => format!("{}/s", units::number(v)),
        m if m.starts_with("error_rate") => units::percent(v),
        // Latency metrics are whole microseconds.
        _ if v.is_finite() && v >= 0.0 => units::micros(v.round() as u64),
        _ => units::number(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Model;
    use crate::report::sample::{sample, snapshot};

    fn render(s: &Summary) -> String {
        String::from_utf8(Junit.render(s).expect("renders")).expect("utf-8")
    }

    #[test]
    fn a_suite_per_scenario_a_case_per_cell_threshold_and_baseline_check() {
        let xml = render(&sample());
        snapshot("junit.xml", &xml);
        assert_eq!(xml.matches("<testsuite ").count(), 2);
        // 2 scenarios × 3 cells × (completed + 1 threshold), + 1 request threshold per cell of
        // the HTTP scenario, + the 2 baseline checks in each scenario named `sample` that has
        // async c=2.
        assert_eq!(xml.matches("<testcase ").count(), 2 * 3 * 2 + 3 + 2 * 2);
        // Issue 13: a test case per request threshold, per cell.
        assert_eq!(
            xml.matches(r#"<testcase name="async c=2 w=1: p99{request=login} &lt; 250ms""#)
                .count(),
            1,
            "{xml}"
        );
        assert_eq!(xml.matches("p99{request=login}").count(), 3);
        assert!(xml.contains(r#"classname="sample.sample""#), "{xml}");
        assert!(
            xml.contains(r#"<failure message="the cell did not complete: a worker exited""#),
            "{xml}"
        );
        assert!(xml.contains(
            "p99 regressed: 52.0ms against 40.0ms in the baseline (+30.0%), tolerance 10.0%"
        ));
        assert!(
            xml.contains("<system-out>observed 52.0ms</system-out>"),
            "{xml}"
        );
        assert!(
            !xml.contains("disabled="),
            "junit-10.xsd refuses it on <testsuite>"
        );
    }

    #[test]
    fn plan_text_is_escaped_and_odd_wall_times_are_not_made_up() {
        let mut s = sample();
        s.scenarios[0].name = r#"<a b="c">&"#.into();
        s.scenarios[0].cells[0].wall_seconds = 1e308;
        s.scenarios[0].cells[1].wall_seconds = f64::NAN;
        let xml = render(&s);
        assert!(xml.contains("&lt;a b=&quot;c&quot;&gt;&amp;"), "{xml}");
        assert!(!xml.contains(r#"<a b="c">"#));
        let case = |name: &str| {
            let at = xml.find(name).unwrap_or_else(|| panic!("no {name}"));
            let end = xml[at..].find('>').map_or(xml.len(), |e| at + e);
            xml[at..end].to_string()
        };
        assert!(!case("sequential: completed").contains("time="), "{xml}");
        assert!(
            case("async c=2 w=1: completed").contains(r#"time="0"#),
            "{xml}"
        );
    }

    #[test]
    fn baseline_failures_say_the_metric_in_its_unit() {
        let like = sample().baseline.expect("sample baseline").checks[0].clone();
        let check =
            |metric: &str, baseline: f64, current: f64, change: Option<f64>| BaselineCheck {
                scenario: "s".into(),
                model: Model::Async,
                concurrency: 4,
                workers: 1,
                metric: metric.into(),
                baseline,
                current,
                change,
                passed: false,
                ..like.clone()
            };
        for (c, want) in [
            (
                check("throughput_per_s", 100.0, 80.0, Some(-0.2)),
                "throughput regressed: 80.0/s against 100/s in the baseline (-20.0%), tolerance 10.0%",
            ),
            (
                check("error_rate", 0.0, 0.05, None),
                "error_rate regressed: 5.00% against 0% in the baseline, tolerance 10.0%",
            ),
            (
                check("p50", 1_000.0, 1_500.4, Some(0.5)),
                "p50 regressed: 1.50ms against 1.00ms in the baseline (+50.0%), tolerance 10.0%",
            ),
            (
                check("p99", f64::NAN, f64::INFINITY, Some(f64::INFINITY)),
                "p99 regressed: - against - in the baseline, tolerance 10.0%",
            ),
        ] {
            assert_eq!(baseline_failure(&c, 0.1), want);
        }
    }
}
