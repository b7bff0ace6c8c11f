//! `capacity: {slo, from, to, hold, precision}`: the capacity search's keys, checked as read.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Dur, Percent, Rate, Threshold};

/// The highest arrival rate that keeps the SLO: probes step up from `from` (doubling) until
/// the SLO breaks or `to` is reached, then bisect until the bracket is within `precision`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// The objectives every probe must keep: latency bounds (`p99 < 300ms`, on the latency
    /// corrected for coordinated omission) and `error_rate < 1%`.
    pub slo: Vec<Threshold>,
    /// The first probe's arrival rate.
    pub from: Rate,
    /// The ceiling: no probe asks more.
    pub to: Rate,
    /// How long each probe is measured, its warm-up (`warmup: 2s`, default a fifth of the hold)
    /// excluded; default 10s, longer at low rates so that the SLO's quantile has a tail.
    #[serde(default)]
    pub hold: Option<Dur>,
    /// The bracket's width at which the search stops, relative to the last good rate
    /// (default 5%).
    #[serde(default)]
    pub precision: Option<Percent>,
}

impl CapacitySpec {
    /// What cannot be checked one key at a time.
    pub fn check(&self) -> Result<(), String> {
        if self.slo.is_empty() {
            return Err(
                "`capacity.slo` is empty: name at least one objective, such as `p99 < 300ms`"
                    .into(),
            );
        }
        for t in &self.slo {
            crate::plan::capacity::Slo::from_threshold(t)?;
        }
        if self.from.0 <= 0.0 {
            return Err("`capacity.from` must be above zero".into());
        }
        if self.to.0 < self.from.0 {
            return Err("`capacity.to` is below `capacity.from`".into());
        }
        if self.hold.is_some_and(|h| h.0.is_zero()) {
            return Err("`capacity.hold` must be above zero".into());
        }
        if self.precision.is_some_and(|p| !(p.0 > 0.0 && p.0 <= 1.0)) {
            return Err("`capacity.precision` must be above 0% and at most 100%".into());
        }
        Ok(())
    }
}
