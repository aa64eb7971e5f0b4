//! `owp serve`: wires the store, the HTTP API, the dashboard and the background jobs together.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{AdminTokens, LogFormat, ServeConfig, TokenSource};
use crate::domain::secret::Secret;
use crate::http::{self, AppState};
use crate::store::{Store, Timing};

mod banner;
mod document_tests;

/// How often the background sweep looks for expired leases and proposals. Expiry is also applied
/// by every request that could observe it, so this only bounds the delay when no request
/// arrives.
const SWEEP_INTERVAL: Duration = Duration::from_millis(200);
/// The longest time between two presence rounds (see [`presence_rounds`]), each writing the
/// contacts of workers noted since the last one, then looking for silent workers: the longest a
/// noted contact may wait (see [`crate::store::presence`]).
const PRESENCE_SWEEP_MAX: Duration = crate::store::presence::FLUSH_EVERY;
/// How often a process looks for events written by other processes sharing the database.
const TAIL_INTERVAL: Duration = Duration::from_millis(250);

/// A running service.
pub struct Running {
    pub addr: SocketAddr,
    pub store: Store,
    /// The GitHub App (inert when it is not configured).
    pub github: crate::github::GithubHandle,
    /// Where the admin token came from, when this start decided it (PostgreSQL, none given).
    pub token_source: Option<TokenSource>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    jobs: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting requests, finishes in-flight ones, stops the jobs and closes the database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.server.await;
        self.github.shutdown().await;
        for job in &self.jobs {
            job.abort();
        }
        self.store.close().await;
    }

    /// Waits until the server stops by itself (a signal).
    pub async fn wait(mut self) {
        let _ = (&mut self.server).await;
        self.github.shutdown().await;
        for job in &self.jobs {
            job.abort();
        }
        self.store.close().await;
    }
}

/// `owp serve`. Nothing is created (no database, no `env.local`) before the port is this
/// process's and the database's directory exists, so a failed start leaves the directory as it was.
pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    init_tracing(config.log_format, config.log_filter.as_deref());
    let log_format = config.log_format;
    let mut config = config;
    let listener = bind(&config.host, config.port).await?;
    check_database_dir(&config)?;
    // On PostgreSQL a token generated here must be one every replica accepts: it is made once
    // the database can say whether another replica made one first (see `admin_tokens`).
    let token_source = match &config.admin_token {
        Some(token) => Some(crate::config::admin_token_source(token.expose())),
        None if config.database_url.is_none() => {
            let path = Path::new(crate::config::ENV_LOCAL);
            config.admin_token = Some(first_run_admin_token(path)?);
            Some(TokenSource::Generated(path.to_path_buf()))
        }
        None => None,
    };
    let public_url = config.public_url.clone();
    let signin = config.github.signin_client_id().is_some();
    let running = start_on(listener, config, true).await?;
    let token_source = token_source
        .or_else(|| running.token_source.clone())
        .unwrap_or(TokenSource::Environment);
    tracing::info!(addr = %running.addr, "OWP Pool is listening");
    let github = banner::GithubMode {
        app: running.github.is_enabled(),
        signin,
    };
    match log_format {
        LogFormat::Text => eprint!(
            "{}",
            banner::banner(running.addr, public_url.as_deref(), &token_source, github)
        ),
        LogFormat::Json => banner::log(running.addr, public_url.as_deref(), &token_source, github),
    }
    running.wait().await;
    tracing::info!("stopped");
    Ok(())
}

/// Starts the service; with `signals`, SIGINT/SIGTERM shut it down gracefully.
pub async fn start(config: ServeConfig, signals: bool) -> anyhow::Result<Running> {
    let listener = bind(&config.host, config.port).await?;
    start_on(listener, config, signals).await
}

/// An address a browser on this machine can open: `0.0.0.0` and `::` become `127.0.0.1`.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            addr.port(),
        )
    } else {
        addr
    }
}

/// Refuses an admin token anyone could guess.
fn check_admin_token(config: &ServeConfig) -> anyhow::Result<()> {
    if let Some(why) = config
        .admin_token
        .as_ref()
        .and_then(|t| crate::config::admin_token_problem(t.expose()))
    {
        anyhow::bail!(why);
    }
    Ok(())
}

/// Takes the port, or says in one line why not.
pub async fn bind(host: &str, port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind((host, port))
        .await
        .map_err(|e| anyhow::anyhow!(bind_problem(host, port, &e)))
}

/// The one line for a port that cannot be taken.
fn bind_problem(host: &str, port: u16, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "port {port} is in use: another program (perhaps another `owp serve`) listens on \
             {host}:{port}; stop it, or pass --port with another port (--port 0 picks a free one)"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "port {port} on {host} needs privileges this user lacks: pass --port with a port \
             above 1023"
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "{host} is not an address of this machine: pass --host 127.0.0.1 (this machine \
             only) or --host 0.0.0.0 (every network)"
        ),
        _ => format!("cannot listen on {host}:{port}: {e}; pass --host or --port"),
    }
}

/// SQLite creates the database file but not its directory: a missing one is named in one line
/// (SQLite itself only says "unable to open database file").
fn check_database_dir(config: &ServeConfig) -> anyhow::Result<()> {
    if config.database_url.is_some() {
        return Ok(());
    }
    let dir = match config.db.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => return Ok(()),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "the directory {} does not exist, so the database {} cannot be created there: \
             create it (`mkdir -p {}`) or pass --db with a path in an existing directory",
            dir.display(),
            config.db.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Starts the service on a port already taken (checking the admin token and the database's
/// directory first, as [`start`] does).
pub async fn start_on(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    signals: bool,
) -> anyhow::Result<Running> {
    check_admin_token(&config)?;
    check_database_dir(&config)?;
    let timing = Timing {
        lease_ttl_ms: secs_ms(config.lease_ttl_seconds),
        accept_ttl_ms: secs_ms(config.accept_ttl_seconds),
        heartbeat_ttl_ms: secs_ms(config.heartbeat_ttl_seconds),
        max_attempts: i64::from(config.max_attempts),
    };
    let url = config.database_url();
    let connect = crate::store::Connect {
        pg_pool: config.database_pool,
        sqlite_direct: config.sqlite_driver == crate::config::SqliteDriver::Direct,
    };
    let store = Store::open_with(&url, timing, connect)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                crate::store::database_url::redact_url(&url)
            )
        })?;
    store.observe(std::sync::Arc::new(crate::metrics::MetricsObserver));
    crate::github::observe::install(&crate::metrics::GithubMetrics);
    let (admin_token, token_source) = admin_tokens(&config, &store).await?;
    let mut config = config;
    crate::github::setup::use_saved_app(&mut config.github, &store).await?;

    let (last_event_tx, last_event) = watch::channel(store.events().last_id().await?);
    let failures = Arc::new(crate::http::rate_limits::AuthFailures::new(
        config.limits.rate_auth_failures_per_minute,
    ));
    let sessions =
        crate::dashboard::Sessions::with_failures(admin_token.clone(), store.clone(), failures);
    sessions.set_public_url(config.public_url.as_deref());
    let metrics_auth =
        crate::http::metrics::MetricsAuth::new(admin_token.clone(), config.metrics_token.clone());
    let public_boards = config.public_boards.then(|| {
        tracing::info!("public boards on: anyone may read the boards of public repositories");
        crate::dashboard::PublicBoards::new(store.clone(), last_event.clone())
    });
    let (api, api_doc) = http::api(api_docs());
    let limits = Arc::new(crate::http::rate_limits::Limits::new(
        &config.limits,
        admin_token.clone(),
        Some(store.clone()),
        sessions.failures(),
        crate::http::rate_limits::CredentialRoutes::of(&api_doc),
    )?);
    let listen_url = format!("http://{}:{}", config.host, config.port);
    let serving = crate::github::settings::Serving {
        github: &config.github,
        public_url: config.public_url.as_deref(),
        listen_url: &listen_url,
        webhook_concurrency: config.limits.webhook_concurrency,
    };
    let github = crate::github::GithubParts::new(serving, &store).await?;
    let signin = crate::github::signin::SignIn::new(serving, &store, github.permissions())?;
    let state = AppState::new(crate::http::AppParts {
        store: store.clone(),
        admin_token,
        registration: config.registration,
        last_event,
        public_boards: config.public_boards,
        github: github.app(),
        preview_limit: Arc::new(crate::http::rate_limits::PreviewLimits::new(
            config.limits.rate_previews_per_minute,
            config.limits.rate_previews_per_address_per_minute,
        )),
        long_polls: Default::default(),
        signin: signin.clone().map(|s| {
            Arc::new(crate::http::signin::GithubAccess(s))
                as Arc<dyn crate::http::principal::RepoAccess>
        }),
    });
    let mut app = http::router_of(state, api, api_doc)
        .merge(crate::dashboard::router_with(
            sessions.clone(),
            public_boards,
            crate::dashboard::Pages {
                github_signin: signin.is_some(),
                download_url: crate::config::download_url(config.download_url.as_deref()),
                source_url: crate::config::built_from(),
                github_web_url: github.is_enabled().then(|| config.github.web_url()),
            },
        ))
        .merge(crate::http::github_router(&github))
        .merge(crate::http::metrics::router(store.clone(), metrics_auth));
    if let Some(signin) = &signin {
        app = app.merge(crate::http::signin::router(Arc::clone(signin), sessions));
        // A worker proves its person through the App's OAuth client while the App runs.
        if github.app().is_some() {
            app = app.merge(crate::http::worker_link::router(Arc::clone(signin)));
        }
    }
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            crate::http::rate_limits::layer,
        ))
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
        // Every log line of a request names its id, method and route; a 5xx is logged by the
        // trace layer with them.
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(crate::http::request_id::span::<axum::body::Body>),
        )
        .layer(axum::middleware::from_fn(crate::http::request_id::layer));

    let addr = listener.local_addr()?;
    github.set_local_addr(
        addr,
        config.public_url.is_some(),
        config.log_format == LogFormat::Text,
    );
    if let (Some(signin), None) = (&signin, &config.public_url) {
        signin.set_base_url(format!("http://{}", reachable(addr)));
    }
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    // Set when shutdown begins: the event tail stops, which ends open long polls (204) and event
    // streams, so finishing in-flight requests never waits for them.
    let (draining_tx, draining) = watch::channel(false);
    let connections = Connections {
        idle_timeout: Duration::from_secs(config.limits.idle_timeout_seconds),
        max: fit_open_files(config.limits.max_connections as usize),
    };
    let server = tokio::spawn(serve_connections(listener, app, connections, async move {
        if signals {
            tokio::select! {
                _ = shutdown_rx => {}
                _ = shutdown_signal() => {}
            }
        } else {
            let _ = shutdown_rx.await;
        }
        let _ = draining_tx.send(true);
    }));
    let mut jobs = vec![
        tokio::spawn(sweep_loop(store.clone())),
        tokio::spawn(tail_loop(store.clone(), last_event_tx, draining)),
        tokio::spawn(crate::metrics::upkeep_loop()),
        tokio::spawn(limits_upkeep(limits)),
    ];
    jobs.extend(github.spawn());
    if let Some(app) = github.app() {
        jobs.push(tokio::spawn(check_app_key(app)));
    }
    Ok(Running {
        addr,
        store,
        github: github.handle(),
        token_source,
        shutdown: Some(shutdown_tx),
        server,
        jobs,
    })
}

/// Asks GitHub at start which of the App's keys it takes (`GET /app` signed with each, through
/// [`crate::github::api::check_app_keys`]) and says so in one log line. A refused key is an error
/// the operator sees at once: `/readyz` answers 503 `app_key_refused` with the reason until a
/// key is accepted, so a rolling deploy with a wrong key stops at its first replica while the
/// old ones keep serving. When GitHub cannot be asked (the network, a server error) nothing is
/// refused: the check is tried again, 1 s later and then up to a minute apart, until GitHub
/// answers. A refused key is asked about again every minute (a key added on GitHub since is
/// found without a restart), an accepted one every [`KEY_RECHECK`].
async fn check_app_key(github: Arc<crate::github::service::Github>) {
    use crate::github::api::{CallError, check_app_keys};
    let app = &github.app;
    let mut wait = Duration::from_secs(1);
    let mut said: Option<Result<usize, ()>> = None;
    loop {
        let pause = match check_app_keys(app).await {
            Ok(index) => {
                if said != Some(Ok(index)) {
                    let count = app.key_count();
                    if count > 1 {
                        tracing::info!(
                            app_id = app.app_id(),
                            key = index + 1,
                            keys = count,
                            fingerprint = app.key_fingerprint(index),
                            "GitHub accepts the App's key {} of {count}: it signs every App JWT",
                            index + 1
                        );
                    } else {
                        tracing::info!(
                            app_id = app.app_id(),
                            fingerprint = app.key_fingerprint(index),
                            "GitHub accepts the App's key"
                        );
                    }
                    said = Some(Ok(index));
                }
                wait = Duration::from_secs(1);
                KEY_RECHECK
            }
            Err(CallError::Unauthorized(reason)) => {
                if said != Some(Err(())) {
                    tracing::error!(
                        app_id = app.app_id(),
                        reason = %reason,
                        "GitHub refuses the App's key: the App cannot act and /readyz answers 503 \
                         until GITHUB_APP_ID and GITHUB_PRIVATE_KEY name one of its active keys; \
                         run `owp doctor`"
                    );
                    said = Some(Err(()));
                }
                wait = Duration::from_secs(1);
                Duration::from_secs(60)
            }
            Err(other) => {
                tracing::warn!(
                    error = %other,
                    retry_in_seconds = wait.as_secs(),
                    "GitHub could not be asked whether it takes the App's key; asking again"
                );
                let pause = wait;
                wait = (wait * 2).min(Duration::from_secs(60));
                pause
            }
        };
        tokio::time::sleep(pause).await;
    }
}

/// How often an accepted App key is asked about again.
const KEY_RECHECK: Duration = Duration::from_secs(15 * 60);

/// How `owp serve` treats connections.
#[derive(Clone, Copy, Debug)]
pub struct Connections {
    /// A connection that sends no complete request head for this long is closed: hyper's
    /// header-read timeout, which runs from the moment a connection is ready for its next
    /// request, so it also ends idle keep-alive connections.
    pub idle_timeout: Duration,
    /// The most connections served at once; past it a new connection is closed at once.
    pub max: usize,
}

/// Accepts and serves HTTP/1 connections until `shutdown` resolves, then lets the open ones
/// finish (idle ones are closed at once) and returns.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Connections,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout)
        .keep_alive(true);
    let mut refused: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            crate::metrics::http_connection_refused();
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    max = limits.max,
                    refused,
                    "connection limit reached: new connections are closed at once"
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        crate::metrics::http_connections(limits.max - permits.available_permits());
        let permits = Arc::clone(&permits);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
            crate::metrics::http_connections(limits.max - permits.available_permits());
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Descriptors kept for everything but client connections (database, log, GitHub, listeners).
#[cfg(unix)]
const RESERVED_FILES: u64 = 256;

/// The connection bound that fits this process's open-file limit. On Unix the soft limit is
/// raised towards the hard one when `max` connections need it; when even that is too low, the
/// bound is lowered (with a warning), so accepting never fails for want of a descriptor.
// `rlim_t` is `u64` on Linux and macOS but not everywhere: the conversions are kept.
#[allow(clippy::useless_conversion)]
fn fit_open_files(max: usize) -> usize {
    #[cfg(unix)]
    {
        let wanted = max as u64 + RESERVED_FILES;
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `getrlimit` and `setrlimit` only read and write the `rlimit` passed to them.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return max;
        }
        let soft = u64::from(lim.rlim_cur);
        if soft >= wanted {
            return max;
        }
        let raised = libc::rlimit {
            rlim_cur: libc::rlim_t::try_from(wanted)
                .unwrap_or(lim.rlim_max)
                .min(lim.rlim_max),
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        let soft = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            u64::from(raised.rlim_cur)
        } else {
            soft
        };
        if soft >= wanted {
            return max;
        }
        let fits = soft.saturating_sub(RESERVED_FILES).max(16) as usize;
        tracing::warn!(
            open_file_limit = soft,
            max_connections = max,
            serving = fits,
            "the open-file limit is below OWP_MAX_CONNECTIONS: serving fewer connections at once"
        );
        fits
    }
    #[cfg(not(unix))]
    {
        max
    }
}

/// Forgets rate-limit state of addresses not seen lately.
async fn limits_upkeep(limits: Arc<crate::http::rate_limits::Limits>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        limits.housekeeping();
        limits.forget_shared().await;
    }
}

fn secs_ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Every how many sweep rounds the presence sweep runs: about twenty times per heartbeat TTL, and
/// never more than [`PRESENCE_SWEEP_MAX`] apart, so a silent worker is logged offline within a
/// second of its TTL (contract: time-based behaviour is correct to within one second). On
/// PostgreSQL it reads the whole `workers` table, which has no index on when a worker was last
/// seen so that marking a worker seen stays a heap-only update.
fn presence_rounds(heartbeat_ttl_ms: i64) -> u64 {
    let sweep_ms = SWEEP_INTERVAL.as_millis() as i64;
    let most = PRESENCE_SWEEP_MAX.as_millis() as i64 / sweep_ms;
    u64::try_from((heartbeat_ttl_ms / 20 / sweep_ms).clamp(1, most.max(1))).unwrap_or(1)
}

/// The documentation of the API routes other routers serve (see [`http::router`]).
fn api_docs() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        crate::http::link_code::openapi(),
        crate::http::signin::openapi(),
        crate::http::worker_link::openapi(),
    ]
}

/// Writes the contacts that are due, expires leases and marks silent workers offline, so
/// time-based changes happen (and are streamed) even when no request arrives; reads the rows of
/// workers in use again before they end.
async fn sweep_loop(store: Store) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds: u64 = 0;
    let presence_every = presence_rounds(store.timing.heartbeat_ttl_ms);
    loop {
        tick.tick().await;
        rounds += 1;
        let presence = rounds.is_multiple_of(presence_every);
        // On the writer thread (SQLite), so their transactions do not hold the write turn while
        // waiting for a turn on the request runtime.
        let swept = store
            .on_writer(move |store| async move {
                // First, so that the presence sweep sees every contact of this process.
                if presence && let Err(e) = store.contacts().flush().await {
                    tracing::warn!(error = %e, "presence flush failed");
                }
                if let Err(e) = store.expiry().sweep().await {
                    tracing::warn!(error = %e, "lease expiry sweep failed");
                }
                if let Err(e) = store.proposals().sweep().await {
                    tracing::warn!(error = %e, "proposal expiry sweep failed");
                }
                if presence && let Err(e) = store.workers().sweep_presence().await {
                    tracing::warn!(error = %e, "presence sweep failed");
                }
                Ok(())
            })
            .await;
        if let Err(e) = swept {
            tracing::warn!(error = %e, "a sweep failed");
        }
        // The rows of workers in use, read again in bulk before they end (see
        // `owp_store::known_workers`), once a second.
        if rounds.is_multiple_of(5)
            && let Err(e) = store.workers().refresh_remembered().await
        {
            tracing::warn!(error = %e, "reading remembered workers again failed");
        }
        if rounds.is_multiple_of(18_000)
            && let Err(e) = store.idempotency_keys().sweep().await
        {
            tracing::warn!(error = %e, "idempotency sweep failed");
        }
    }
}

/// Publishes the newest event id, from this process (woken at commit) or another (polled).
/// Returns when shutdown begins; dropping `tx` then ends every long poll and event stream.
async fn tail_loop(store: Store, tx: watch::Sender<i64>, mut draining: watch::Receiver<bool>) {
    let mut poll = tokio::time::interval(TAIL_INTERVAL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // A commit of this process names its newest event itself; only the periodic look for
        // other processes' events reads the database.
        let local = tokio::select! {
            _ = store.changed.notified() => true,
            _ = poll.tick() => false,
            _ = draining.changed() => return,
        };
        if local {
            // Always wakes the waiters: with PostgreSQL an id committed here may be lower than
            // one already seen from another process.
            let id = store
                .local_last_event
                .load(std::sync::atomic::Ordering::Relaxed);
            tx.send_modify(|cur| *cur = (*cur).max(id));
            continue;
        }
        match store.events().last_id().await {
            Ok(id) => {
                tx.send_if_modified(|cur| {
                    if *cur != id {
                        *cur = id;
                        true
                    } else {
                        false
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "event tail failed"),
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

async fn shutdown_signal() {
    stop_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
}

/// The admin tokens this process accepts, and where they came from when this start decided it.
/// With none configured on PostgreSQL, the first replica to start generates one, saves it to its
/// `env.local` and keeps its digest in the database; a replica that starts later without one
/// accepts that token (by its digest), so one token works on every replica.
async fn admin_tokens(
    config: &ServeConfig,
    store: &Store,
) -> anyhow::Result<(AdminTokens, Option<TokenSource>)> {
    use crate::store::shared_settings::{ADMIN_TOKEN_DIGEST, RETIRED};
    if let Some(token) = &config.admin_token {
        let tokens = AdminTokens::from(token.clone());
        if store.shared_settings().is_shared() {
            retire_generated_token(store, &tokens).await?;
        }
        return Ok((tokens, None));
    }
    anyhow::ensure!(
        store.shared_settings().is_shared(),
        "an admin token is required"
    );
    let path = Path::new(crate::config::ENV_LOCAL);
    refuse_shared_env_file(path)?;
    let token = new_admin_token();
    let digest = AdminTokens::digest_hex(&token);
    let kept = store
        .shared_settings()
        .keep(ADMIN_TOKEN_DIGEST, &digest)
        .await
        .context("cannot keep the generated admin token's digest in the database")?;
    anyhow::ensure!(
        kept != RETIRED,
        "the admin token this pool generated at its first start was retired when OWP_ADMIN_TOKEN \
         replaced it: set OWP_ADMIN_TOKEN on this replica as on the others"
    );
    if kept != digest {
        return Ok((
            AdminTokens::from_digest_hex(&kept),
            Some(TokenSource::Database),
        ));
    }
    save_admin_token(path, &token)?;
    Ok((
        AdminTokens::parse(&token),
        Some(TokenSource::Generated(path.to_path_buf())),
    ))
}

/// The end of a rotation away from a generated token: a replica started with `OWP_ADMIN_TOKEN`
/// that does not name the token the first start generated retires it. Its digest is deleted
/// from the database (a [`RETIRED`](crate::store::shared_settings::RETIRED) mark is kept in its
/// place), so no replica started later accepts it, and none generates a new one either: each
/// must be given `OWP_ADMIN_TOKEN`. While the list still names it (`OWP_ADMIN_TOKEN=NEW,OLD`,
/// a rolling restart half done), it is kept.
async fn retire_generated_token(store: &Store, tokens: &AdminTokens) -> anyhow::Result<()> {
    use crate::store::shared_settings::{ADMIN_TOKEN_DIGEST, RETIRED};
    let Some(kept) = store
        .shared_settings()
        .get(ADMIN_TOKEN_DIGEST)
        .await
        .context("cannot read the generated admin token's digest")?
    else {
        return Ok(());
    };
    if kept == RETIRED || tokens.has_digest_hex(&kept) {
        return Ok(());
    }
    if store
        .shared_settings()
        .replace(ADMIN_TOKEN_DIGEST, &kept, RETIRED)
        .await
        .context("cannot retire the generated admin token's digest")?
    {
        tracing::info!(
            "the admin token generated at this pool's first start is retired: OWP_ADMIN_TOKEN \
             does not name it, so its digest is deleted from the database and no replica \
             accepts it once restarted"
        );
    }
    Ok(())
}

/// With no admin token configured, a first run generates one and saves it to `env.local` (owner-only
/// permissions), where `owp admin` in the same directory finds it. The token itself is never logged.
pub fn first_run_admin_token(path: &Path) -> anyhow::Result<Secret> {
    refuse_shared_env_file(path)?;
    let token = new_admin_token();
    save_admin_token(path, &token)?;
    Ok(Secret::new(token))
}

/// A new random admin token.
fn new_admin_token() -> String {
    format!("owpa_{}", &crate::store::workers::new_token()[5..])
}

/// Appends `token` to the environment file `path` as `OWP_ADMIN_TOKEN` (owner-only permissions).
fn save_admin_token(path: &Path, token: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new();
    file.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        file.mode(0o600);
    }
    let mut f = file.open(path).with_context(|| {
        format!(
            "cannot write the generated admin token to {}",
            path.display()
        )
    })?;
    writeln!(f, "OWP_ADMIN_TOKEN={token}")?;
    Ok(())
}

/// An `env.local` that other users may read (or write) must not receive the admin token: the
/// first run refuses, with the fix, rather than leak it. (Only Unix has such modes.)
fn refuse_shared_env_file(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "{} is readable or writable by other users (mode {mode:o}), so the generated admin \
                 token will not be saved there: run `chmod 600 {}` or set OWP_ADMIN_TOKEN",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Colours only on a terminal, and never with `NO_COLOR` set (no-color.org): a log file gets
/// plain text.
fn colours_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The log filter when `OWP_LOG` (`--log`) is unset or cannot be read.
const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,tower_http=warn";

fn init_tracing(format: LogFormat, filter: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = filter
        .filter(|f| !f.trim().is_empty())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours_on_stderr())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::presence_rounds;

    #[test]
    fn presence_sweeps_follow_the_heartbeat_ttl() {
        // Short TTLs (tests, the conformance runner): every round of 200 ms.
        assert_eq!(presence_rounds(3_000), 1);
        assert_eq!(presence_rounds(0), 1);
        assert_eq!(presence_rounds(8_000), 2);
        // The default 90 s TTL and longer ones: every 800 ms, within a second of the TTL.
        assert_eq!(presence_rounds(90_000), 4);
        assert_eq!(presence_rounds(3_600_000), 4);
    }
}
