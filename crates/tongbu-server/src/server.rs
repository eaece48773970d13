//! Starting the server: data directory, store, keys, media edge, HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use std::time::Duration;
use tongbu_rtc::{EdgeConfig, EdgeError, EdgeHandle};
use tongbu_schedule::demo::{ensure_demo_lesson, DemoLesson};
use tongbu_schedule::{ScheduleError, SessionId, SqliteStore, Store, TokenKey};
use tower_http::timeout::RequestBodyTimeoutLayer;

use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::operator::OperatorKey;
use crate::room::Rooms;
use crate::session_health::{sample_forever, SessionHealth};
use crate::{api, web, ws, Config};

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create the data directory {path} (TONGBU_DATA_DIR): {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("cannot open the sign-in sessions file {path} (in TONGBU_DATA_DIR): {source}; check that the directory is writable")]
    Sessions {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot read or create the operator token {path} (TONGBU_OPERATOR_TOKEN): {source}")]
    OperatorToken {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Edge(#[from] EdgeError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    SignIn(#[from] crate::signin::SignInError),
    #[error("cannot listen on {addr} (TONGBU_HTTP_ADDR): {source}")]
    Http {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What every request handler shares.
pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store + Send + Sync>,
    pub tokens: TokenKey,
    pub operator: OperatorKey,
    pub edge: EdgeHandle,
    pub rooms: Rooms,
    pub next_participant: AtomicU64,
    pub demo: Option<DemoLesson>,
    pub metrics: Metrics,
    /// The latest health sample of each live session (see `session_health`).
    pub health: Mutex<HashMap<SessionId, SessionHealth>>,
    /// Quality reports being built from those samples (see `quality_report`).
    pub reports: Mutex<crate::quality_report::Reports>,
    /// Link states announced to the rooms (see `link_notices`).
    pub link_notices: Mutex<crate::link_notices::LinkNotices>,
    /// Whose video is paused to keep their audio (see `audio_first`).
    pub audio_first: Mutex<crate::audio_first::AudioFirst>,
    /// Set once the server is stopping: every connection tells its client and closes.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Tickets for the live health feed (see `tickets`).
    pub tickets: crate::tickets::Tickets,
    /// Wrong operator credentials by source address (see `credential_backoff`).
    pub backoff: crate::credential_backoff::CredentialBackoff,
    /// The education platform teachers sign in with (see `signin`), if configured.
    pub signin: Option<Arc<crate::signin::Platform>>,
    /// Streams published by encoders over WHIP (see `whip`).
    pub whip: crate::whip::Ingests,
    /// Players receiving over WHEP (see `whep`).
    pub whep: crate::whip::Ingests,
    /// What a link, a session and a classroom may spend across their sockets.
    pub budgets: Arc<crate::budgets::Budgets>,
    /// Sessions being recorded, and the recordings on disk (see `recording`).
    pub recordings: crate::recording::Recordings,
}

/// How long a request body may send nothing before the request fails (a weak link's upload
/// still sends something every few seconds).
const BODY_STALL: Duration = Duration::from_secs(30);

/// How often the timetable is checked for sessions to open or end.
const TIMETABLE_SWEEP: std::time::Duration = std::time::Duration::from_secs(2);

/// Keeps session states in step with the timetable (see [`crate::lifecycle`]): a session opens
/// when its join window begins, and one its host did not end ends once end + grace has passed.
async fn follow_timetable(app: Arc<AppState>) {
    let mut tick = tokio::time::interval(TIMETABLE_SWEEP);
    loop {
        tick.tick().await;
        let (lead, grace) = (app.config.join_lead_secs, app.config.grace_secs);
        if let Err(e) = crate::lifecycle::follow_timetable(&app, now_utc(), lead, grace).await {
            tracing::warn!("cannot follow the timetable: {e}");
        }
    }
}

/// Tells each lecture its audience's size once a second, when it changed.
async fn tell_audiences(app: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        app.rooms.tell_audiences();
    }
}

/// What the HTTP listener's task ended with.
async fn http_stopped(
    http: &mut tokio::task::JoinHandle<std::io::Result<()>>,
) -> std::io::Result<()> {
    match http.await {
        Ok(r) => r,
        Err(e) => Err(std::io::Error::other(e)),
    }
}

/// A running server.
pub struct Server {
    pub http_addr: SocketAddr,
    pub media_addr: SocketAddr,
    pub state: Arc<AppState>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    background: crate::background::Background,
}

/// The first participant id of this run: from the clock (milliseconds × 1000), so that ids are
/// never reused across restarts (a page's roster from before a restart names no one new), while
/// staying exact in a browser's numbers (below 2^53 until the year 2255).
fn first_participant_id() -> u64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    ms.saturating_mul(1000).max(1)
}

pub(crate) fn now_utc() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Server {
    /// Opens the store, starts the media edge and the HTTP listener.
    pub async fn start(config: Config) -> Result<Self, ServerError> {
        let open_files = crate::listener::raise_open_files_limit();
        // A bad certificate stops the start before anything else is opened.
        let tls = config
            .tls
            .as_ref()
            .map(crate::tls::Certificate::start)
            .transpose()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServerError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let store: Arc<dyn Store + Send + Sync> =
            Arc::new(SqliteStore::open(&config.data_dir.join("tongbu.sqlite"))?);
        // Sessions a previous run did not finish: their reports continue from these. A draft
        // that cannot be read costs its report's first part, never the start.
        let drafts = store.report_drafts().unwrap_or_else(|e| {
            warn!("report drafts not read ({e}); running sessions' reports start afresh");
            Vec::new()
        });
        let tokens = match &config.token_secret {
            Some(secret) => TokenKey::from_secret(secret.as_bytes()),
            None => TokenKey::load_or_create(&config.data_dir.join("token.key"))?,
        };
        let operator_path = config.data_dir.join("operator.token");
        let operator =
            OperatorKey::load_or_create(config.operator_token.as_deref(), &operator_path).map_err(
                |source| ServerError::OperatorToken {
                    path: operator_path.display().to_string(),
                    source,
                },
            )?;
        if config.operator_token.is_none() {
            info!(path = %operator_path.display(), "operator token kept in the data directory");
        }
        if config.demo && !config.http_addr.ip().is_loopback() {
            warn!(
                addr = %config.http_addr,
                "demo mode on a network address (TONGBU_DEMO_ON_NETWORK): anyone who reaches it gets host links"
            );
        }
        let demo = if config.demo {
            let d = ensure_demo_lesson(store.as_ref(), now_utc())?;
            info!(session = d.session.id.0, title = %d.session.spec.title, "demo lesson ready");
            Some(d)
        } else {
            None
        };
        let (edge, mut media) = tongbu_rtc::socket_loop::start(EdgeConfig {
            bind: SocketAddr::new(config.media_bind_ip, config.media_udp_port),
            public_ip: config.public_ip,
            workers: config.media_workers,
            gso: config.media_gso,
        })
        .await?;
        let media_addr = edge.local_addr();
        let listener = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .map_err(|source| ServerError::Http {
                addr: config.http_addr,
                source,
            })?;
        let http_addr = listener.local_addr().map_err(|source| ServerError::Http {
            addr: config.http_addr,
            source,
        })?;
        let signin = config
            .signin
            .clone()
            .map(crate::signin::Platform::new)
            .transpose()?
            .map(Arc::new);
        let secure_cookie = config.signin.as_ref().is_some_and(|s| s.secure_cookie());
        let sessions_path = config.data_dir.join("sessions.sqlite");
        let sessions = crate::signin::SqliteSessions::open(&sessions_path).map_err(|source| {
            ServerError::Sessions {
                path: sessions_path.display().to_string(),
                source,
            }
        })?;
        let recordings_dir = config.data_dir.join("recordings");
        let state = Arc::new(AppState {
            signin,
            config,
            store,
            tokens,
            operator,
            edge,
            rooms: Rooms::default(),
            next_participant: AtomicU64::new(first_participant_id()),
            demo,
            metrics: Metrics::new(),
            health: Mutex::default(),
            reports: Mutex::new(crate::quality_report::Reports::restored(drafts)),
            link_notices: Mutex::default(),
            audio_first: Mutex::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            tickets: crate::tickets::Tickets::default(),
            backoff: crate::credential_backoff::CredentialBackoff::default(),
            whip: crate::whip::Ingests::default(),
            whep: crate::whip::Ingests::default(),
            budgets: Arc::default(),
            recordings: crate::recording::Recordings::new(recordings_dir),
        });
        let app = Router::new()
            .route("/ws", get(ws::handler))
            .route("/ws/check", get(crate::network_check::handler))
            .route(
                "/whip/{session}",
                axum::routing::post(crate::whip::publish).options(crate::whip::options),
            )
            .route(
                "/whip/{session}/{resource}",
                axum::routing::delete(crate::whip::stop).patch(crate::whip::no_trickle),
            )
            .route(
                "/whep/{session}",
                axum::routing::post(crate::whep::play).options(crate::whip::options),
            )
            .route(
                "/whep/{session}/{resource}",
                axum::routing::delete(crate::whep::stop).patch(crate::whip::no_trickle),
            )
            .route("/api/demo", get(web::demo))
            .route("/api/health", get(web::health))
            .route("/metrics", get(web::metrics))
            .merge(api::router())
            .merge(crate::signin::router())
            .merge(api::teacher_router())
            // The browser session of a platform sign-in (teachers; operators by role). A
            // request that never reads it costs a cookie lookup.
            .layer(crate::signin::session_layer(sessions, secure_cookie))
            .fallback(get(web::static_file).layer(tower_http::compression::CompressionLayer::new()))
            // A body that stalls (a client that declared more than it sends) ends the request.
            .layer(RequestBodyTimeoutLayer::new(BODY_STALL))
            .layer(axum::middleware::from_fn(crate::http_headers::secure))
            .with_state(state.clone());
        // DNS rebinding: the loopback demo (it hands out host links to whoever asks) answers
        // only to loopback names. Without the demo, a server on loopback is one behind a
        // reverse proxy, which passes the public name on.
        let app = if http_addr.ip().is_loopback() && state.demo.is_some() {
            app.layer(axum::middleware::from_fn(
                crate::http_headers::loopback_host,
            ))
        } else {
            app
        };
        let mut background = crate::background::Background::default();
        background.spawn("the timetable", follow_timetable(state.clone()));
        background.spawn("audience counts", tell_audiences(state.clone()));
        background.spawn("health sampling", sample_forever(state.clone()));
        background.spawn(
            "returning freed memory",
            crate::memory::return_freed(state.clone()),
        );
        background.spawn("the media workers", async move {
            let ended = media.ended().await;
            tracing::error!("{ended}: its participants' media would hang; stopping the server");
        });

        let mut stopping = state.stopping.subscribe();
        let limits = crate::listener::Limits {
            total: match state.config.http_max_connections {
                0 => crate::listener::default_total(open_files),
                n => n,
            },
            per_source: state.config.http_max_per_source,
            header_timeout: crate::listener::HEADER_TIMEOUT,
        };
        info!(
            open_files,
            max_connections = limits.total,
            per_source = limits.per_source,
            "HTTP connection limits"
        );
        let acceptor = tls.map(|(acceptor, cert)| {
            background.spawn("certificate reloads", cert.watch());
            acceptor
        });
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        info!(%http_addr, %media_addr, "Tongbu is running: open {scheme}://{http_addr}/");
        let http = tokio::spawn(crate::listener::serve(
            listener,
            app,
            limits,
            acceptor,
            async move { crate::ws::stopped(&mut stopping).await },
        ));
        Ok(Self {
            http_addr,
            media_addr,
            state,
            http,
            background,
        })
    }

    /// Runs until the HTTP server stops, or fails when a background task ends (it names it).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        tokio::select! {
            r = http_stopped(&mut self.http) => r,
            what = self.background.ended() => Err(std::io::Error::other(format!(
                "{what}; stopping, to be restarted whole"
            ))),
        }
    }

    /// Stops gracefully (SIGTERM, SIGINT): no new connections; every participant is told the
    /// server restarts (`server_restarting`, then close code 1012) and its page rejoins by
    /// itself; the connections get `within` to close before the server returns anyway.
    pub async fn stop(mut self, within: Duration) {
        info!("stopping: telling every participant");
        // The running sessions' reports so far, before anyone leaves: the restarted server
        // continues them.
        crate::quality_report::save_drafts(&self.state).await;
        self.state.stopping.send_replace(true);
        let deadline = tokio::time::Instant::now() + within;
        while self.state.rooms.total() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left = self.state.rooms.total();
        if left > 0 {
            warn!(left, "stopping with connections still open");
        }
        // Recordings are finished (cues and duration written), not cut short.
        for sid in self.state.recordings.active() {
            if let Err(e) = self.state.recordings.stop(&self.state.edge, sid).await {
                warn!(session = sid.0, "recording not finished: {e}");
            }
        }
        if tokio::time::timeout_at(deadline, http_stopped(&mut self.http))
            .await
            .is_err()
        {
            self.http.abort();
        }
        info!("stopped");
    }
}
