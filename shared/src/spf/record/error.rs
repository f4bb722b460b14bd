//! Why a record is not valid SPF: every syntax error §4.6 and §7 make a permerror, and where in
//! the record it is.

use serde::{Deserialize, Serialize};

use crate::spf::macros::MacroError;

/// Why a record is not valid SPF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParseErrorKind {
    /// Does not start with `v=spf1` followed by a space or the end.
    #[error("not an SPF record (must start with \"v=spf1\")")]
    NotSpf,
    /// Longer than [`MAX_RECORD_LEN`](super::MAX_RECORD_LEN).
    #[error("record of {len} bytes is longer than {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// More than [`MAX_TERMS`](super::MAX_TERMS) terms.
    #[error("more than {max} terms")]
    TooManyTerms {
        /// The cap.
        max: usize,
    },
    /// A character other than a visible ASCII character inside a term (terms are separated by
    /// spaces only).
    #[error("invalid character {ch:?}")]
    BadCharacter {
        /// The character.
        ch: char,
    },
    /// A mechanism name that does not exist (`redirect:`, `all.`, `moo.cow/…`).
    #[error("unknown mechanism {name:?}")]
    UnknownMechanism {
        /// The name as written.
        name: String,
    },
    /// A modifier name that does not match `ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )`.
    #[error("invalid modifier name")]
    BadModifierName,
    /// A qualifier before a modifier.
    #[error("a modifier takes no qualifier")]
    QualifiedModifier,
    /// `all:x`, `all/8`, `ptr/0`, `include:x/24`…: text the mechanism does not take.
    #[error("{mechanism} does not take {rest:?}")]
    UnexpectedArgument {
        /// The mechanism.
        mechanism: String,
        /// What follows its name.
        rest: String,
    },
    /// `include`, `exists`, `ip4`, `ip6` without their `:` argument.
    #[error("{mechanism} needs a ':' argument")]
    MissingArgument {
        /// The mechanism.
        mechanism: String,
    },
    /// `a:`, `exists:`, `redirect=`, `exp=` with nothing after.
    #[error("empty domain-spec")]
    EmptyDomainSpec,
    /// A domain-spec that does not end in a macro or `.toplabel` (`foo-bar`, `abc.123`,
    /// `example.com:8080`, `museum.`).
    #[error("domain-spec {spec:?} does not end with a valid top-level label")]
    BadDomainEnd {
        /// The domain-spec.
        spec: String,
    },
    /// A macro syntax error (§7.1).
    #[error("macro error: {error}")]
    Macro {
        /// What is wrong with the macro.
        error: MacroError,
    },
    /// A prefix length out of range or written with leading zeros.
    #[error("invalid CIDR length {text:?}")]
    BadCidr {
        /// The text as written.
        text: String,
    },
    /// Not an IPv4 dotted quad.
    #[error("invalid IPv4 network {text:?}")]
    BadIp4 {
        /// The text as written.
        text: String,
    },
    /// Not an IPv6 address.
    #[error("invalid IPv6 network {text:?}")]
    BadIp6 {
        /// The text as written.
        text: String,
    },
    /// `redirect` or `exp` twice (§6).
    #[error("modifier {name:?} appears more than once")]
    DuplicateModifier {
        /// `redirect` or `exp`.
        name: String,
    },
}

/// A syntax error with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{kind} (term {term:?} at byte {position})")]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// The offending term as written (empty for whole-record problems).
    pub term: String,
    /// Byte offset of the term (or of the bad character) in the record.
    pub position: usize,
}
