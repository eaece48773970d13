//! # tongbu-server — the HTTP face of Tongbu
//!
//! Owns the axum application: WebSocket signaling (`/ws?token=…`, one task per connection),
//! the rooms that relay roster, chat and moderation between participants, the schedule's REST
//! API (`/api/…`, operator credential, OpenAPI document), join links, the demo landing API, the
//! static web client, session health (`/api/sessions/{id}/health`), each session's quality
//! report (`/api/sessions/{id}/report`) and Prometheus metrics (`/metrics`), teachers' sign-in
//! with the education platform (`signin`, `/api/teacher/…`), configuration and the command line (`tongbu token`, `tongbu
//! schedule import`). It wires the schedule (who may join, when), the signaling protocol and
//! the media edge together, and keeps session states in step with the timetable.
//!
//! It must not touch packets: media goes through `tongbu-rtc`, which it only commands.

pub mod active_speaker;
pub mod api;
pub mod audio_first;
pub mod background;
pub mod budgets;
pub mod cli;
pub mod config;
pub mod credential_backoff;
pub mod distribution;
pub mod health;
pub mod http_headers;
pub mod lifecycle;
pub mod link_notices;
pub mod links;
pub mod listener;
pub mod memory;
pub mod metrics;
pub mod network_check;
pub mod operator;
pub mod outbox;
pub mod pdf_pages;
pub mod quality_report;
pub mod recording;
pub mod room;
pub mod server;
pub mod session_health;
pub mod signin;
pub mod tickets;
pub mod tls;
pub mod turn;
pub mod web;
pub mod whep;
pub mod whip;
pub mod ws;

pub use config::{Config, ConfigError};
pub use server::{Server, ServerError};
