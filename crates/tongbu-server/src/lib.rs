//! # tongbu-server — the HTTP face of Tongbu
//!
//! Owns the axum application: WebSocket signaling (`/ws?token=…`, one task per connection),
//! the rooms that relay roster, chat and moderation between participants, the demo landing API,
//! the static web client, health, and configuration. It wires the schedule (who may join), the
//! signaling protocol and the media edge together.
//!
//! It must not touch packets: media goes through `tongbu-rtc`, which it only commands.

pub mod cli;
pub mod config;
pub mod room;
pub mod server;
pub mod web;
pub mod ws;

pub use config::{Config, ConfigError};
pub use server::{Server, ServerError};
