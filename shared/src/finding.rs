//! Findings: the stable codes of `spec/findings.md`, their severities, and the [`Finding`] record
//! every front-end renders. Pure data, no I/O. Long on purpose: most of it is the contract's
//! code table, one entry per code (severity, subject, group, description), from which
//! `docs/findings.md` is generated.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a finding is. [`Severity::Inconclusive`] stands apart: we could not tell, and it is
/// never counted as a fault.
///
/// Severities are ordered by how bad they are, and **a greater severity is worse**:
/// `info < inconclusive < warning < error < critical` (inconclusive sits above info because it
/// says a check is missing). Findings are sorted worst first by this order, `max()` is the worst
/// and [`Severity::ALL`] lists them worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, nothing to fix.
    Info,
    /// Mail probably flows, but something is off.
    Warning,
    /// Something breaks or endangers delivery.
    Error,
    /// Dangerous (an open relay).
    Critical,
    /// Could not be checked from here.
    Inconclusive,
}

impl Severity {
    /// The contract's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
            Self::Inconclusive => "inconclusive",
        }
    }

    /// Every severity, worst first (descending [`Ord`]).
    pub const ALL: &'static [Self] = &[
        Self::Critical,
        Self::Error,
        Self::Warning,
        Self::Inconclusive,
        Self::Info,
    ];

    /// How bad: the one order behind [`Ord`], info 0 up to critical 4.
    const fn rank(self) -> u8 {
        match self {
            Self::Critical => 4,
            Self::Error => 3,
            Self::Warning => 2,
            Self::Inconclusive => 1,
            Self::Info => 0,
        }
    }

    /// Whether this severity counts as a fault (warning or worse).
    pub const fn is_fault(self) -> bool {
        matches!(self, Self::Warning | Self::Error | Self::Critical)
    }
}

impl Ord for Severity {
    /// Worse is greater (see [`Severity`]).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The area of the checks a [`Code`] belongs to, for grouping findings (the CSV's
/// `tls_problem` and `dnsbl_listed` columns). Mostly the code's prefix; codes about our own
/// vantage point are [`Group::ThisMachine`] whatever their prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// The domain's DNS and MX records (`dns.*`, `mx.*`).
    DnsMx,
    /// Reverse DNS of the MX addresses (`rdns.*`).
    ReverseDns,
    /// The SMTP conversation, STARTTLS offered or failed included (`smtp.*`).
    Smtp,
    /// The certificate and TLS version of the MX hosts (`tls.*`).
    Tls,
    /// Blocklist listings of the MX addresses (`dnsbl.listed`).
    Blocklist,
    /// Mail authentication and transport policy: SPF, DMARC, MTA-STS, TLS-RPT, DANE.
    Authentication,
    /// Our own vantage point, not the target (`probe.*`, `dnsbl.unavailable`).
    ThisMachine,
    /// The sender's side (`sender.*`).
    Sender,
}

macro_rules! codes {
    ($(
        $variant:ident = $text:literal, $sev:ident, $area:literal, $group:ident, $desc:literal;
    )*) => {
        /// A finding code. Its string form (`mx.missing`) is a contract: it never changes meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Code {
            $( #[doc = $desc] #[serde(rename = $text)] $variant, )*
        }

        impl Code {
            /// Every code, in contract order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stable dotted name, e.g. `smtp.relay_denied`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)* }
            }

            /// The severity the contract gives this code. Some codes have a second severity the
            /// diagnosis sets (e.g. `dnsbl.listed` is `info` for policy lists).
            pub const fn default_severity(self) -> Severity {
                match self { $(Self::$variant => Severity::$sev,)* }
            }

            /// What the subject of this code is: `domain`, `host`, `ip` or `prober` (for the sender
            /// codes: the sending IP, its HELO name, or the sender domain).
            pub const fn subject_kind(self) -> &'static str {
                match self { $(Self::$variant => $area,)* }
            }

            /// The area of the checks the code belongs to.
            pub const fn group(self) -> Group {
                match self { $(Self::$variant => Group::$group,)* }
            }

            /// One sentence on when the code fires (the contract's "fires when" column).
            pub const fn fires_when(self) -> &'static str {
                match self { $(Self::$variant => $desc,)* }
            }
        }
    };
}

codes! {
    DnsNxdomain = "dns.nxdomain", Error, "domain", DnsMx,
        "The domain does not exist (NXDOMAIN on the MX query).";
    DnsLookupFailed = "dns.lookup_failed", Inconclusive, "domain", DnsMx,
        "The MX (or A/AAAA fallback) lookup failed: SERVFAIL, REFUSED or timeout.";
    MxMissing = "mx.missing", Warning, "domain", DnsMx,
        "No MX records, but the domain has A/AAAA: mail uses the implicit MX.";
    MxNoMailHost = "mx.no_mail_host", Error, "domain", DnsMx,
        "No MX and no A/AAAA: there is nowhere to deliver.";
    MxNull = "mx.null", Info, "domain", DnsMx,
        "A null MX (`0 .`): the domain declares it accepts no mail.";
    MxNullMixed = "mx.null_mixed", Error, "domain", DnsMx,
        "A null MX published together with other MX records.";
    MxCname = "mx.cname", Warning, "host", DnsMx,
        "An MX target is an alias (CNAME), which RFC 2181 forbids.";
    MxIpLiteral = "mx.ip_literal", Error, "host", DnsMx,
        "An MX target is an IP address written as a name.";
    MxUnresolvable = "mx.unresolvable", Error, "host", DnsMx,
        "An MX host has no A/AAAA record.";
    MxAllUnusable = "mx.all_unusable", Error, "domain", DnsMx,
        "No MX host has a usable address (unresolvable, IP literal, or only \
         loopback/private/reserved addresses).";
    MxPrivateAddress = "mx.private_address", Warning, "host", DnsMx,
        "An MX host resolves to a loopback/private/link-local/reserved address.";
    MxNotAllChecked = "mx.not_all_checked", Info, "domain", DnsMx,
        "More MX hosts or addresses than the configured caps: the rest are listed, not probed.";
    MxNoIpv4 = "mx.no_ipv4", Warning, "domain", DnsMx,
        "No MX host has an IPv4 address: IPv4-only senders cannot deliver.";
    RdnsMissing = "rdns.missing", Warning, "ip", ReverseDns,
        "An MX IP has no PTR record.";
    RdnsMismatch = "rdns.mismatch", Warning, "ip", ReverseDns,
        "No PTR name of an MX IP resolves back to that IP (FCrDNS fails).";
    SmtpRefused = "smtp.refused", Error, "ip", Smtp,
        "TCP connect refused: nothing listens on the port.";
    SmtpUnreachable = "smtp.unreachable", Error, "ip", Smtp,
        "TCP connect timed out or no route: a firewall or missing port forward.";
    SmtpNoGreeting = "smtp.no_greeting", Error, "ip", Smtp,
        "Connected, but no complete greeting arrived in time, or the server closed first.";
    SmtpSlowGreeting = "smtp.slow_greeting", Warning, "ip", Smtp,
        "The greeting arrived only 10 s or more after the TCP connect (tarpit).";
    SmtpGreetingRejected = "smtp.greeting_rejected", Error, "ip", Smtp,
        "The greeting is a 5xx refusal of every client.";
    SmtpBannerUnresolvable = "smtp.banner_unresolvable", Warning, "ip", Smtp,
        "The 220 hostname is not a public name, or does not resolve while the IP has no \
         forward-confirmed PTR (info when it does, or when there is no hostname).";
    SmtpBannerMismatch = "smtp.banner_mismatch", Info, "ip", Smtp,
        "The greeting hostname resolves, but is neither the IP's PTR name nor resolves to the IP \
         (a warning when the domain's own SPF record authorizes that IP directly).";
    SmtpHeloRejected = "smtp.helo_rejected", Error, "ip", Smtp,
        "Both EHLO and HELO got a permanent refusal that is not about our name.";
    SmtpStarttlsMissing = "smtp.starttls_missing", Warning, "ip", Smtp,
        "STARTTLS is not advertised.";
    SmtpStarttlsFailed = "smtp.starttls_failed", Error, "ip", Smtp,
        "STARTTLS is advertised but the command, the TLS handshake or the EHLO inside TLS failed.";
    TlsCertUntrusted = "tls.cert_untrusted", Warning, "ip", Tls,
        "The certificate chain does not lead to a trusted root.";
    TlsCertExpired = "tls.cert_expired", Error, "ip", Tls,
        "The certificate is expired or not yet valid.";
    TlsCertNameMismatch = "tls.cert_name_mismatch", Warning, "ip", Tls,
        "The certificate does not cover the MX host name (SAN DNS names; the CN only without DNS \
         SANs).";
    TlsCertExpiring = "tls.cert_expiring", Warning, "ip", Tls,
        "The certificate expires within 14 days.";
    TlsLegacyVersion = "tls.legacy_version", Warning, "ip", Tls,
        "The server speaks only TLS 1.0/1.1: detected from the handshake alert and confirmed by a \
         version probe.";
    SmtpMailRejected = "smtp.mail_rejected", Error, "ip", Smtp,
        "`MAIL FROM` got a 5xx that is not about our sender or client (bounces refused too).";
    SmtpDisconnectAfterMail = "smtp.disconnect_after_mail", Inconclusive, "ip", Smtp,
        "The server closed the connection after `MAIL FROM` (sent alone): usually about the \
         sending IP, ours.";
    SmtpRelayDenied = "smtp.relay_denied", Error, "ip", Smtp,
        "`RCPT TO:<postmaster@domain>` was refused as relaying (any code): this server does not \
         accept mail for the domain.";
    SmtpRcptRejected = "smtp.rcpt_rejected", Error, "ip", Smtp,
        "`RCPT TO:<postmaster@domain>` was refused because the domain is not served here, or the \
         connection closed at RCPT.";
    SmtpNoPostmaster = "smtp.no_postmaster", Error, "ip", Smtp,
        "`RCPT TO:<postmaster@domain>` was refused as an unknown user: the domain is hosted, but \
         postmaster is missing.";
    SmtpGreylisted = "smtp.greylisted", Inconclusive, "ip", Smtp,
        "A 4xx that reads as greylisting: real senders retry and deliver; acceptance not \
         confirmed.";
    SmtpTempfail = "smtp.tempfail", Warning, "ip", Smtp,
        "Another 4xx at greeting, EHLO, MAIL or RCPT, after one retry.";
    SmtpIncomplete = "smtp.incomplete", Inconclusive, "ip", Smtp,
        "The conversation stopped before `RCPT TO` and no other finding says why.";
    SmtpOpenRelay = "smtp.open_relay", Critical, "ip", Smtp,
        "The server accepted a recipient in an outside domain (open relay).";
    SmtpProbeBlocked = "smtp.probe_blocked", Inconclusive, "ip", Smtp,
        "A rejection is about us (our IP, rDNS, EHLO name, sender or client), not the target.";
    DnsblListed = "dnsbl.listed", Warning, "ip", Blocklist,
        "The MX IP is listed on a blocklist (warning for abuse lists, info for policy lists; error \
         and warning when the domain's own SPF record authorizes that IP directly).";
    DnsblUnavailable = "dnsbl.unavailable", Inconclusive, "prober", ThisMachine,
        "A blocklist could not answer for us (error code, REFUSED, SERVFAIL, timeout or failed \
         self-test); once per zone.";
    ProbeEgressBlocked = "probe.egress_blocked", Inconclusive, "prober", ThisMachine,
        "Our own outbound port 25 is blocked for an address family.";
    ProbeIdentity = "probe.identity", Inconclusive, "prober", ThisMachine,
        "A receiver refused our sender or HELO name, or our identity is poor (EHLO name, FCrDNS, \
         sender domain).";
    ProbeListed = "probe.listed", Inconclusive, "prober", ThisMachine,
        "Our public egress IP is on a configured abuse blocklist.";
    SpfMissing = "spf.missing", Warning, "domain", Authentication,
        "No `v=spf1` TXT record at the domain.";
    SpfMultiple = "spf.multiple", Error, "domain", Authentication,
        "More than one `v=spf1` record: permerror (RFC 7208 §4.5).";
    SpfInvalid = "spf.invalid", Error, "domain", Authentication,
        "The SPF record does not parse: permerror.";
    SpfTooManyLookups = "spf.too_many_lookups", Error, "domain", Authentication,
        "The SPF record tree needs more than 10 DNS-querying terms or more than 2 void lookups: \
         permerror.";
    SpfPermissive = "spf.permissive", Warning, "domain", Authentication,
        "`+all` or `?all`, or no `all` and no `redirect`: everyone is allowed or neutral.";
    SpfLookupFailed = "spf.lookup_failed", Inconclusive, "domain", Authentication,
        "A lookup the SPF record needs failed (SERVFAIL, timeout): temperror.";
    SpfPtrUsed = "spf.ptr_used", Info, "domain", Authentication,
        "The deprecated `ptr` mechanism (RFC 7208 §5.5).";
    DmarcMissing = "dmarc.missing", Warning, "domain", Authentication,
        "No DMARC record at `_dmarc.<domain>` nor at its organizational domain.";
    DmarcInvalid = "dmarc.invalid", Error, "domain", Authentication,
        "The DMARC record does not parse, lacks `p=`, or there is more than one.";
    DmarcPolicyNone = "dmarc.policy_none", Info, "domain", Authentication,
        "DMARC `p=none`: monitoring only.";
    DmarcReportUnauthorized = "dmarc.report_unauthorized", Warning, "domain", Authentication,
        "A `rua`/`ruf` address in another organizational domain that does not authorize the \
         reports (RFC 7489 §7.1).";
    MtastsInvalid = "mtasts.invalid", Error, "domain", Authentication,
        "The `_mta-sts` TXT record is malformed, or the policy cannot be fetched or parsed.";
    MtastsMxMismatch = "mtasts.mx_mismatch", Error, "host", Authentication,
        "A live MX host matches none of the MTA-STS policy's `mx:` patterns (error in enforce \
         mode, warning in testing).";
    MtastsAbsent = "mtasts.absent", Info, "domain", Authentication,
        "No MTA-STS policy.";
    TlsrptInvalid = "tlsrpt.invalid", Warning, "domain", Authentication,
        "The `_smtp._tls` TLS-RPT record is malformed (RFC 8460).";
    TlsrptAbsent = "tlsrpt.absent", Info, "domain", Authentication,
        "MTA-STS or DANE is in use but there is no TLS-RPT record.";
    DaneMismatch = "dane.mismatch", Error, "host", Authentication,
        "DNSSEC-validated TLSA records match no certificate the MX serves.";
    DaneUnusable = "dane.unusable", Warning, "host", Authentication,
        "TLSA records exist but cannot be used (zone not signed, or only PKIX usages 0/1).";
    DaneValid = "dane.valid", Info, "host", Authentication,
        "Validated TLSA records match the served chain.";
    DnsDnssecBogus = "dns.dnssec_bogus", Error, "domain", DnsMx,
        "DNSSEC validation fails for the MX records, an MX host's addresses or its TLSA records.";
    DnsInconsistent = "dns.inconsistent", Warning, "domain", DnsMx,
        "The authoritative name servers (or the resolver in use) disagree on the MX set.";
    DnsLameDelegation = "dns.lame_delegation", Warning, "domain", DnsMx,
        "A delegated name server does not answer authoritatively for the domain.";
    SenderNoPtr = "sender.no_ptr", Error, "ip", Sender,
        "The sending IP has no PTR record (Gmail answers 550 5.7.25; most receivers score it).";
    SenderPtrMismatch = "sender.ptr_mismatch", Error, "ip", Sender,
        "No PTR name of the sending IP resolves back to it (FCrDNS fails).";
    SenderPtrGeneric = "sender.ptr_generic", Warning, "ip", Sender,
        "The sending IP's PTR name looks dynamic or generic (its octets, `dyn`, `dsl`, `pool`, \
         `dhcp`, `cable`…): receivers treat it as an end-user address.";
    SenderHeloUnresolvable = "sender.helo_unresolvable", Warning, "host", Sender,
        "The sender's HELO name is not a public name, or does not resolve.";
    SenderHeloMismatch = "sender.helo_mismatch", Warning, "host", Sender,
        "The sender's HELO name resolves, but not to the sending IP, and is not a PTR name of it.";
    SenderListed = "sender.listed", Error, "ip", Sender,
        "The sending IP is listed: an abuse list, or a policy list that forbids sending direct to \
         MX (Spamhaus PBL); a warning for other policy listings.";
    SenderSpfFail = "sender.spf_fail", Error, "domain", Sender,
        "SPF `check_host()` of the sending IP for the sender domain gives `fail`.";
    SenderSpfSoftfail = "sender.spf_softfail", Warning, "domain", Sender,
        "SPF gives `softfail` for the sending IP.";
    SenderSpfNeutral = "sender.spf_neutral", Warning, "domain", Sender,
        "SPF gives `neutral` or `none`: the sending IP is not authorized by the sender domain.";
    SenderSpfError = "sender.spf_error", Error, "domain", Sender,
        "SPF gives `permerror` for the sending IP (receivers treat it as a failure).";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCode(s.to_owned()))
    }
}

/// A string that is not one of the contract's codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown finding code {0:?}")]
pub struct UnknownCode(pub String);

/// The subject of findings about our own vantage point (the prober), not the target.
pub const THIS_MACHINE: &str = "this machine";

/// One thing the diagnosis found, with the evidence it rests on and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The stable code.
    pub code: Code,
    /// How bad it is.
    pub severity: Severity,
    /// What it is about: the domain, an MX host name, an IP address, or `this machine`.
    pub subject: String,
    /// One line in plain words.
    pub summary: String,
    /// The observations it rests on: record text, reply lines, certificate names.
    pub evidence: Vec<String>,
    /// What to do, in plain words.
    pub advice: String,
}

impl Finding {
    /// A finding with the code's default severity.
    pub fn new(code: Code, subject: impl Into<String>, summary: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.default_severity(),
            subject: subject.into(),
            summary: summary.into(),
            evidence: Vec::new(),
            advice: String::new(),
        }
    }

    /// Adds a line of evidence.
    #[must_use]
    pub fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    /// Adds several lines of evidence.
    #[must_use]
    pub fn evidence_lines<I, S>(mut self, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.evidence.extend(lines.into_iter().map(Into::into));
        self
    }

    /// Sets the advice.
    #[must_use]
    pub fn advice(mut self, advice: impl Into<String>) -> Self {
        self.advice = advice.into();
        self
    }

    /// Overrides the severity (only the diagnosis does this, e.g. policy blocklists).
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_the_order_worst_first() {
        assert!(Severity::ALL.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(Severity::ALL.len(), 5);
        assert!(
            Severity::Inconclusive > Severity::Info && Severity::Warning > Severity::Inconclusive
        );
    }
}
