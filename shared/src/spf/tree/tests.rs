//! Unit tests of the SPF tree: the count as a receiver reaches the terms, problems recorded as
//! nodes, and the cut of a huge tree.

use super::*;
use crate::facts::DnsFailure;
use crate::spf::MemoryZone;

fn statuses(tree: &SpfTree) -> Vec<(String, NodeStatus, u32)> {
    tree.root
        .walk()
        .iter()
        .map(|n| (n.domain.clone(), n.status, n.dns_terms))
        .collect()
}

#[tokio::test]
async fn counts_the_whole_tree_as_a_receiver_reaches_it() {
    let mut z = MemoryZone::new();
    z.add_txt(
        "example.test",
        "v=spf1 mx include:a.example.test include:b.example.test ip4:192.0.2.1 \
         redirect=r.example.test",
    )
    .add_txt(
        "a.example.test",
        "v=spf1 a a:x.example.test ?all include:never.example.test",
    )
    .add_txt(
        "b.example.test",
        "v=spf1 include:c.example.test exists:%{i}.x.example.test",
    )
    .add_txt("c.example.test", "v=spf1 ptr -all")
    .add_txt(
        "r.example.test",
        "v=spf1 include:%{l}.users.example.test include:%{d2}.inc.example.test ~all",
    )
    .add_txt("example.test.inc.example.test", "v=spf1 mx mx")
    .add_txt("other.example.test", "not spf");
    let tree = resolve_tree("example.test.", &z).await;
    assert_eq!(
        statuses(&tree),
        [
            ("example.test".to_owned(), NodeStatus::Ok, 4),
            ("a.example.test".to_owned(), NodeStatus::Ok, 2),
            ("b.example.test".to_owned(), NodeStatus::Ok, 2),
            ("c.example.test".to_owned(), NodeStatus::Ok, 1),
            ("r.example.test".to_owned(), NodeStatus::Ok, 2),
            (
                "%{l}.users.example.test".to_owned(),
                NodeStatus::DependsOnMacros,
                0
            ),
            (
                "example.test.inc.example.test".to_owned(),
                NodeStatus::Ok,
                2
            ),
        ]
    );
    let count = lookup_count(&tree);
    assert_eq!(count.total, 13);
    assert!(count.exceeded());
    assert!(!count.complete);
    assert!(
        !z.queries().iter().any(|q| q.contains("never")),
        "after ?all"
    );
    assert!(z.queries().iter().all(|q| q.starts_with("TXT ")));
}

#[tokio::test]
async fn problems_are_nodes_not_errors() {
    let mut z = MemoryZone::new();
    z.add_txt(
        "example.test",
        "v=spf1 include:none.example.test include:two.example.test include:bad.example.test \
         include:loop.example.test include:down.example.test include:a..b.example.test -all",
    )
    .add_txt("two.example.test", "v=spf1 -all")
    .add_txt("two.example.test", "v=spf1 +all")
    .add_txt("bad.example.test", "v=spf1 a:foo-bar")
    .add_txt("loop.example.test", "v=spf1 include:example.test")
    .fail("down.example.test", DnsFailure::ServFail);
    let tree = resolve_tree("example.test", &z).await;
    let got: Vec<NodeStatus> = tree.root.children.iter().map(|n| n.status).collect();
    assert_eq!(
        got,
        [
            NodeStatus::NoRecord,
            NodeStatus::MultipleRecords,
            NodeStatus::SyntaxError,
            NodeStatus::Ok,
            NodeStatus::LookupFailed,
            NodeStatus::MalformedName,
        ]
    );
    assert_eq!(tree.root.children[3].children[0].status, NodeStatus::Loop);
    assert!(tree.root.children[2].syntax_error.is_some());
    let count = lookup_count(&tree);
    assert_eq!(count.total, 7);
    assert!(!count.complete);
    let json = serde_json::to_string(&tree).unwrap();
    assert_eq!(serde_json::from_str::<SpfTree>(&json).unwrap(), tree);
}

#[tokio::test]
async fn a_huge_tree_is_cut() {
    let mut z = MemoryZone::new();
    // Each level includes the next twice: 2^n paths, but only TREE_MAX_NODES fetches.
    for i in 0..200 {
        z.add_txt(
            &format!("l{i}.example.test"),
            &format!(
                "v=spf1 include:l{}.example.test include:l{}.example.test",
                i + 1,
                i + 1
            ),
        );
    }
    let tree = resolve_tree("l0.example.test", &z).await;
    assert!(tree.truncated);
    assert_eq!(z.queries().len(), TREE_MAX_NODES);
    let count = lookup_count(&tree);
    assert!(count.exceeded() && !count.complete);
}
