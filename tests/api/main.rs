//! REST and websocket integration tests for the Convene server.
//!
//! Every test starts the real app (see [`harness`]) on a random port with its own
//! SQLite file, or its own PostgreSQL database when `CONVENE_TEST_POSTGRES_URL` is set,
//! and talks to it over HTTP and websockets. Run with `cargo test --test api`.

mod harness;

mod admin_reports;
mod audit;
mod auth;
mod authz;
mod bad_input;
mod concurrency;
mod http_surface;
mod invites;
mod me;
mod members;
mod password_resets;
mod realtime;
mod registration;
mod setup;
mod teams;
mod workspaces;

mod chat_channels;
mod chat_delivery;
mod chat_files;
mod chat_input;
mod chat_isolation;
mod chat_realtime;
mod chat_receipts;
mod chat_search;
mod chat_status;
mod chat_support;
mod chat_webhooks;
mod data_ops;
mod meeting_support;
mod meetings;
mod multinode;
mod operations;
