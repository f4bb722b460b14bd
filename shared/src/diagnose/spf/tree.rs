//! SPF findings about the include/redirect tree as a whole: a record somewhere in it that is
//! missing, duplicated or broken (`spf.invalid`), lookups that failed (`spf.lookup_failed`),
//! more DNS-querying terms or void lookups than receivers allow (`spf.too_many_lookups`); and
//! the tree itself, one line per record, as evidence.

use crate::auth::spf_ips::SpfIpCheck;
use crate::finding::{Code, Finding};
use crate::spf::{MAX_VOID_LOOKUPS, NodeStatus, PolicyNode, SpfFacts, Via};

/// The most lines of the include tree shown as evidence.
const MAX_TREE_LINES: usize = 40;

/// What is wrong at a node, in words.
fn node_problem(n: &PolicyNode) -> String {
    match n.status {
        NodeStatus::Ok => "publishes a valid record".to_owned(),
        NodeStatus::NoRecord => format!("publishes no SPF record (TXT: {})", n.lookup),
        NodeStatus::MultipleRecords => format!("publishes {} SPF records", n.records.len()),
        NodeStatus::SyntaxError => match &n.syntax_error {
            Some(e) => format!("publishes a record that does not parse ({e})"),
            None => "publishes a record that does not parse".to_owned(),
        },
        NodeStatus::LookupFailed => format!("could not be looked up ({})", n.lookup),
        NodeStatus::MalformedName => "is not a name that can be looked up".to_owned(),
        NodeStatus::Loop => "leads back to a record already on the way (a loop)".to_owned(),
        NodeStatus::DependsOnMacros => {
            "depends on the sender (macros), not followed here".to_owned()
        }
        NodeStatus::NotFollowed => "was not followed (the tree is too large)".to_owned(),
    }
}

pub(super) fn broken_tree(domain: &str, spf: &SpfFacts, broken: &[&PolicyNode]) -> Finding {
    let first = broken[0];
    let term = first.term.as_deref().unwrap_or_default();
    Finding::new(
        Code::SpfInvalid,
        domain,
        format!(
            "the SPF record of {domain} reaches `{term}`, and {} {}: receivers \
             get a permanent error",
            first.domain,
            node_problem(first)
        ),
    )
    .evidence_lines(broken.iter().skip(1).map(|n| {
        format!(
            "also `{}`: {} {}",
            n.term.as_deref().unwrap_or_default(),
            n.domain,
            node_problem(n)
        )
    }))
    .evidence_lines(tree_lines(spf))
    .advice(format!(
        "Every `include:` and `redirect=` must name a domain that publishes exactly one valid SPF \
         record; otherwise SPF fails (permerror) for senders that reach it. Correct the name (a \
         typo, or a provider that moved its record: its documentation gives the current one) or \
         remove the term from the record of {domain}."
    ))
}

pub(super) fn lookup_failed(
    domain: &str,
    failed: &[&PolicyNode],
    unlisted: Option<&SpfIpCheck>,
) -> Finding {
    let mut f = Finding::new(
        Code::SpfLookupFailed,
        domain,
        format!(
            "a DNS lookup the SPF record of {domain} needs failed: receivers get a temporary error"
        ),
    )
    .evidence_lines(failed.iter().map(|n| match &n.term {
        Some(term) => format!("`{term}`: TXT {}: {}", n.domain, n.lookup),
        None => format!("TXT {}: {}", n.domain, n.lookup),
    }));
    if let Some(u) = unlisted {
        f = f.evidence(format!(
            "check_host for a sender no record lists ({}): temperror: {}",
            u.ip,
            u.reason.as_deref().unwrap_or("no reason given")
        ));
    }
    f.advice(
        "While SPF cannot be evaluated receivers defer the mail (temperror) or judge it without \
         SPF. If the failing name is in your zone, check that all its name servers answer; if it \
         belongs to a provider you include, check the name in your record; then check again later.",
    )
}

pub(super) fn too_many_lookups(
    domain: &str,
    spf: &SpfFacts,
    unlisted: Option<&SpfIpCheck>,
    terms: bool,
) -> Finding {
    let count = &spf.lookups;
    let at_least = if count.complete { "" } else { "at least " };
    let summary = if terms {
        format!(
            "the SPF record of {domain} needs {at_least}{} DNS lookups, more than \
             the {} receivers allow",
            count.total, count.limit
        )
    } else {
        format!(
            "the SPF record of {domain} makes more than {MAX_VOID_LOOKUPS} lookups of names that \
             do not exist or have no records"
        )
    };
    let mut f = Finding::new(Code::SpfTooManyLookups, domain, summary).evidence(format!(
        "{at_least}{} DNS-querying terms (include, a, mx, ptr, exists, redirect) over the whole \
         tree, as a receiver reaches them for a sender listed late or not at all; the limit is {}",
        count.total, count.limit
    ));
    if let Some(u) = unlisted
        && u.void_lookups > MAX_VOID_LOOKUPS
    {
        f = f.evidence(format!(
            "void lookups (NXDOMAIN or no records) for a sender no record lists: {}; the \
             limit is {MAX_VOID_LOOKUPS}{}",
            u.void_lookups,
            u.reason
                .as_deref()
                .map(|r| format!(" — {r}"))
                .unwrap_or_default()
        ));
    }
    f.evidence_lines(tree_lines(spf)).advice(format!(
        "Receivers stop with a permanent error (permerror) at the 11th DNS-querying term or the \
         3rd lookup that finds nothing, so SPF fails for every sender not matched before that \
         point. Shorten the tree of {domain}: remove includes of services you no longer use \
         and terms naming hosts that no longer exist; replace `a` and `mx` by the `ip4:`/`ip6:` \
         addresses they stand for; flatten an include by writing the provider's published \
         `ip4:`/`ip6:` ranges in place of it (and keep them up to date); or send one service's \
         mail from a subdomain with its own record."
    ))
}

/// The include/redirect tree, one line per record, indented by depth.
fn tree_lines(spf: &SpfFacts) -> Vec<String> {
    let mut lines = vec!["the record tree:".to_owned()];
    fn walk(n: &PolicyNode, depth: usize, lines: &mut Vec<String>) {
        if lines.len() > MAX_TREE_LINES {
            return;
        }
        let indent = "  ".repeat(depth);
        let lookups = if n.dns_terms == 1 {
            "lookup"
        } else {
            "lookups"
        };
        let what = match n.status {
            NodeStatus::Ok => format!(
                "{} ({} {lookups} here, {} with its subtree)",
                n.records.first().map_or("", String::as_str),
                n.dns_terms,
                n.subtree_dns_terms()
            ),
            _ => node_problem(n),
        };
        let line = match (&n.term, n.via) {
            (Some(term), Via::Include | Via::Redirect) => {
                format!("{indent}`{term}` → {}: {what}", n.domain)
            }
            _ => format!("{indent}{}: {what}", n.domain),
        };
        lines.push(line);
        for c in &n.children {
            walk(c, depth + 1, lines);
        }
    }
    walk(&spf.tree.root, 0, &mut lines);
    if lines.len() > MAX_TREE_LINES || spf.tree.truncated {
        lines.truncate(MAX_TREE_LINES);
        lines.push("… (more records not shown)".to_owned());
    }
    lines
}
