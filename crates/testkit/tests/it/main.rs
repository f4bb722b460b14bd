//! The test kit's integration tests, in one binary (one link instead of one per file): each module
//! holds one topic. `dns_server` and `smtp_server` exercise the servers of `mailcheck-lab`
//! through the test kit's re-exports.

mod discord_components;
mod discord_gateway;
mod discord_rest;
mod discord_standin;
mod discord_support;
mod dns_server;
mod smtp_server;
