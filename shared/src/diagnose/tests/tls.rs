//! The certificate after STARTTLS (`tls.*`).

use super::*;

#[test]
fn certificate_problems() {
    let f = with_tls(|t| {
        t.problems.push(CertProblem::Untrusted {
            detail: "UnknownIssuer".into(),
        });
    });
    assert_eq!(only(&f, Code::TlsCertUntrusted), Verdict::Degraded);

    let f = with_tls(|t| {
        t.chain[0].not_after = NOW - 86_400;
        t.problems.push(CertProblem::Expired {
            detail: "expired".into(),
        });
    });
    assert_eq!(only(&f, Code::TlsCertExpired), Verdict::Degraded);

    let f = with_tls(|t| {
        t.problems.push(CertProblem::NameMismatch {
            expected: HOST.into(),
            presented: vec!["other.example.test".into()],
        });
    });
    assert_eq!(only(&f, Code::TlsCertNameMismatch), Verdict::Degraded);

    let f = with_tls(|t| t.chain[0].not_after = NOW + 86_400 * 3);
    assert_eq!(only(&f, Code::TlsCertExpiring), Verdict::Degraded);

    let f = with_tls(|t| t.version = "TLSv1.1".into());
    assert_eq!(only(&f, Code::TlsLegacyVersion), Verdict::Degraded);

    // Several problems at once are all reported.
    let f = with_tls(|t| {
        t.problems
            .push(CertProblem::Untrusted { detail: "x".into() });
        t.problems.push(CertProblem::NameMismatch {
            expected: HOST.into(),
            presented: vec![],
        });
    });
    assert_eq!(
        run(&f).1,
        vec![Code::TlsCertUntrusted, Code::TlsCertNameMismatch]
    );
}
