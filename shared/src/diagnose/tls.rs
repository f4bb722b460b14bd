//! TLS findings after STARTTLS: `tls.*`.

use crate::config::Policy;
use crate::facts::{CertProblem, Facts};
use crate::finding::{Code, Finding};

pub(super) fn check(facts: &Facts, policy: &Policy, out: &mut Vec<Finding>) {
    for (host, addr) in facts.addresses() {
        let Some(smtp) = &addr.smtp else { continue };
        let Some(tls) = smtp.tls() else { continue };
        let subject = addr.ip.to_string();
        let leaf = tls.chain.first();
        let cert_line = leaf.map_or_else(
            || "no certificate presented".to_owned(),
            |c| {
                format!(
                    "certificate subject {}; names [{}]; issuer {}; valid {} to {}",
                    c.subject,
                    c.dns_names.join(", "),
                    c.issuer,
                    date(c.not_before),
                    date(c.not_after)
                )
            },
        );
        let mut expired = false;
        for problem in &tls.problems {
            let finding = match problem {
                CertProblem::Untrusted { detail } => Finding::new(
                    Code::TlsCertUntrusted,
                    &subject,
                    format!(
                        "the certificate of {} is not signed by a trusted authority",
                        host.host
                    ),
                )
                .evidence(cert_line.clone())
                .evidence(format!("verifier: {detail}"))
                .advice(
                    "Use a certificate from a public CA (e.g. Let's Encrypt) and serve the full \
                     chain (leaf plus intermediates). Opportunistic senders still deliver, but \
                     MTA-STS/DANE-enforcing senders will not.",
                ),
                CertProblem::Expired { detail } => {
                    expired = true;
                    Finding::new(
                        Code::TlsCertExpired,
                        &subject,
                        format!(
                            "the certificate of {} is expired or not yet valid",
                            host.host
                        ),
                    )
                    .evidence(cert_line.clone())
                    .evidence(format!("verifier: {detail}"))
                    .advice(
                        "Renew the certificate and reload the mail server; check that automatic \
                         renewal also reloads it.",
                    )
                }
                CertProblem::NameMismatch {
                    expected,
                    presented,
                } => Finding::new(
                    Code::TlsCertNameMismatch,
                    &subject,
                    format!("the certificate does not cover the MX host name {expected}"),
                )
                .evidence(format!(
                    "expected {expected}; certificate names: [{}]",
                    presented.join(", ")
                ))
                .evidence(cert_line.clone())
                .advice(format!(
                    "Issue a certificate that includes {expected} (the name in the MX record), \
                     or point the MX at a name the certificate covers. MTA-STS-enforcing \
                     senders check this name."
                )),
                CertProblem::Other { detail } => Finding::new(
                    Code::TlsCertUntrusted,
                    &subject,
                    format!("the certificate of {} could not be verified", host.host),
                )
                .evidence(cert_line.clone())
                .evidence(format!("verifier: {detail}"))
                .advice("Serve a valid certificate chain from a public CA."),
            };
            out.push(finding);
        }
        if !expired && let Some(leaf) = leaf {
            let left = leaf.not_after - facts.observed_at;
            if left >= 0 && left < i64::from(policy.cert_expiring_days) * 86_400 {
                out.push(
                    Finding::new(
                        Code::TlsCertExpiring,
                        &subject,
                        format!(
                            "the certificate of {} expires in {} day(s)",
                            host.host,
                            left / 86_400
                        ),
                    )
                    .evidence(cert_line.clone())
                    .advice(
                        "Renew it now, and check that automatic renewal works and \
                         reloads the mail server.",
                    ),
                );
            }
        }
        if matches!(
            tls.version.as_str(),
            "SSLv3" | "TLSv1.0" | "TLSv1.1" | "TLSv1"
        ) {
            out.push(
                Finding::new(
                    Code::TlsLegacyVersion,
                    &subject,
                    format!("{} negotiated only {}", host.host, tls.version),
                )
                .evidence(format!("negotiated {} with {}", tls.version, tls.cipher))
                .advice(
                    "Enable TLS 1.2 and 1.3 on the mail server; TLS 1.0/1.1 are \
                     deprecated (RFC 8996).",
                ),
            );
        }
    }
}

/// A Unix time as a UTC date, `YYYY-MM-DD`.
pub(super) fn date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's well-known algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(1_700_000_000), "2023-11-14");
        assert_eq!(super::date(951_782_400), "2000-02-29");
    }
}
