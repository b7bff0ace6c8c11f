//! The validity rules a plan may soften: `validity: { cpu_drift: warn, dropped_arrivals: fail }`
//! at the top level or in a scenario (the scenario's keys win).
//!
//! Input: the plan's `validity` mappings. Output: [`Validity`], the action of each rule for one
//! scenario. The rules themselves live in `gate/validity.rs`; this file only names them and says
//! what a plan asked for each. Sends nothing, reads no file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a broken validity rule does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValidityAction {
    /// The run is `invalid` (exit 4): its numbers do not describe what the plan asked for.
    #[default]
    Fail,
    /// Reported, but the verdict is left to the gates.
    Warn,
}

impl ValidityAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidityAction::Fail => "fail",
            ValidityAction::Warn => "warn",
        }
    }
}

/// The rules, by the names a plan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValidityRule {
    /// An open model dropped over 1 % of its arrivals or carried out under 99 % of its rate.
    DroppedArrivals,
    /// The generator was the bottleneck: open-model send lag, or runner cores near the host's.
    GeneratorSaturated,
    /// Other load or hypervisor steal during a CPU-bound comparison.
    MachineLoad,
    /// A CPU kernel's cost per operation drifted beyond 15 % between cells or rounds.
    CpuDrift,
}

impl ValidityRule {
    pub const ALL: [ValidityRule; 4] = [
        ValidityRule::DroppedArrivals,
        ValidityRule::GeneratorSaturated,
        ValidityRule::MachineLoad,
        ValidityRule::CpuDrift,
    ];

    /// The key in a plan's `validity:` mapping and the `rule` of a finding in summary.json.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidityRule::DroppedArrivals => "dropped_arrivals",
            ValidityRule::GeneratorSaturated => "generator_saturated",
            ValidityRule::MachineLoad => "machine_load",
            ValidityRule::CpuDrift => "cpu_drift",
        }
    }
}

/// `validity:` as written: each rule `fail` (the default) or `warn`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValiditySpec {
    /// Open model: over 1 % of arrivals dropped, or under 99 % of the rate carried out.
    #[serde(default)]
    pub dropped_arrivals: Option<ValidityAction>,
    /// The generator was the bottleneck: open-model median send lag over 10 ms with users to
    /// spare, or the runner kept at least 80 % of the host's cores busy in an HTTP scenario.
    #[serde(default)]
    pub generator_saturated: Option<ValidityAction>,
    /// A CPU kernel compared under several models or concurrencies while other processes kept
    /// at least a quarter of a core busy, or the hypervisor stole 5 % of the machine.
    #[serde(default)]
    pub machine_load: Option<ValidityAction>,
    /// A CPU kernel's CPU time per operation differed by more than 15 % from the scenario's
    /// median, in any cell or round.
    #[serde(default)]
    pub cpu_drift: Option<ValidityAction>,
}

impl ValiditySpec {
    fn get(&self, rule: ValidityRule) -> Option<ValidityAction> {
        match rule {
            ValidityRule::DroppedArrivals => self.dropped_arrivals,
            ValidityRule::GeneratorSaturated => self.generator_saturated,
            ValidityRule::MachineLoad => self.machine_load,
            ValidityRule::CpuDrift => self.cpu_drift,
        }
    }
}

/// The action of every rule for one scenario: its own `validity`, then the plan's, then `fail`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    own: ValiditySpec,
    plan: ValiditySpec,
}

impl Validity {
    pub fn new(plan: Option<ValiditySpec>, own: Option<ValiditySpec>) -> Validity {
        Validity {
            own: own.unwrap_or_default(),
            plan: plan.unwrap_or_default(),
        }
    }

    pub fn action(&self, rule: ValidityRule) -> ValidityAction {
        self.own
            .get(rule)
            .or_else(|| self.plan.get(rule))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_overrides_the_plan_and_fail_is_the_default() {
        let warn_drift = ValiditySpec {
            cpu_drift: Some(ValidityAction::Warn),
            ..ValiditySpec::default()
        };
        let fail_drift = ValiditySpec {
            cpu_drift: Some(ValidityAction::Fail),
            ..ValiditySpec::default()
        };
        // (plan, scenario, rule, action)
        let cases = [
            (None, None, ValidityRule::CpuDrift, ValidityAction::Fail),
            (
                Some(warn_drift),
                None,
                ValidityRule::CpuDrift,
                ValidityAction::Warn,
            ),
            (
                Some(warn_drift),
                None,
                ValidityRule::MachineLoad,
                ValidityAction::Fail,
            ),
            (
                Some(warn_drift),
                Some(fail_drift),
                ValidityRule::CpuDrift,
                ValidityAction::Fail,
            ),
            (
                None,
                Some(warn_drift),
                ValidityRule::CpuDrift,
                ValidityAction::Warn,
            ),
        ];
        for (plan, own, rule, want) in cases {
            assert_eq!(Validity::new(plan, own).action(rule), want, "{rule:?}");
        }
    }

    #[test]
    fn rule_names_are_the_plan_keys() {
        let names: Vec<&str> = ValidityRule::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "dropped_arrivals",
                "generator_saturated",
                "machine_load",
                "cpu_drift"
            ]
        );
    }
}
