//! (pool: being written)

/// Placeholder.
#[derive(Debug)]
pub struct SmtpProber;
