//! The pure diagnosis: `(&Facts, &Policy) -> Report`.

use crate::config::Policy;
use crate::facts::Facts;
use crate::report::Report;

/// Diagnoses recorded facts.
pub fn diagnose(facts: &Facts, policy: &Policy, input: &str, elapsed_ms: u64) -> Report {
    let _ = (facts, policy, elapsed_ms);
    Report::invalid(input, "not implemented yet")
}
