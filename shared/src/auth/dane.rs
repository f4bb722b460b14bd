//! (Being written: see the authentication issue.)

use serde::{Deserialize, Serialize};

/// What was observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaneFacts {}
