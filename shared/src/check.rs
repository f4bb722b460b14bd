//! The [`Checker`]: runs the probes for a domain and diagnoses the facts.

use crate::config::CheckConfig;
use crate::report::Report;

/// Checks domains. Cheap to share (`Arc` it); holds the per-run caches.
#[derive(Debug)]
pub struct Checker {
    config: CheckConfig,
}

impl Checker {
    /// A checker for this configuration.
    pub fn new(config: CheckConfig) -> Result<Self, crate::Error> {
        Ok(Self { config })
    }

    /// The configuration.
    pub const fn config(&self) -> &CheckConfig {
        &self.config
    }

    /// Checks one input (domain, e-mail address or URL). Never fails: bad input is a report with
    /// verdict `invalid`.
    pub async fn check(&self, input: &str) -> Report {
        Report::invalid(input, "not implemented yet")
    }
}
