//! Operational errors of the library: bad configuration or input. Never a finding: what is wrong
//! with a domain is a [`crate::Finding`] in the [`crate::Report`].

/// An error that stops a check from being set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable (names the setting).
    #[error("configuration: {0}")]
    Config(String),
    /// The input is not a domain.
    #[error(transparent)]
    Input(#[from] crate::domain::InputError),
}
