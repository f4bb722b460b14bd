//! The library's integration tests, in one binary (one link instead of one per file): each module
//! holds one topic.

mod auth_consistency;
mod auth_dane;
mod auth_dmarc;
mod auth_mtasts;
mod check_lab;
mod check_options;
mod common;
mod diagnose_fixtures;
mod dns_dnsbl;
mod dns_mx;
mod dns_rdns;
mod dns_resolver;
mod findings_doc;
mod props;
mod sender_fixtures;
mod sender_lab;
mod smtp_batch;
mod smtp_egress;
mod smtp_memory;
mod smtp_pool;
mod smtp_session;
mod spf_rfc7208;
mod tls_verifier;
