//! Bounded load (spec "Rate limits and connections"): per-address rate limits with `429` and
//! `Retry-After`, wrong credentials that hold only their own address, idle and slow connections
//! closed, a bound on open connections, and webhook bodies read only a few at a time.
//!
//! Other client addresses are real: Linux routes all of 127.0.0.0/8 to the loopback interface,
//! so a client bound to 127.0.0.2 reaches the server on 127.0.0.1 from another address.

use crate::support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::{Resp, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The product's defaults, over the harness's generous ones.
const DEFAULT_RATES: [(&str, &str); 3] = [
    ("OWP_RATE_REGISTRATIONS_PER_MINUTE", "120"),
    ("OWP_RATE_ANONYMOUS_PER_MINUTE", "600"),
    ("OWP_RATE_AUTH_FAILURES_PER_MINUTE", "10"),
];

const TEST_APP_KEY: &str = include_str!("../fixtures/github/test-app-key.pem");

/// A client whose connections come from `local` (a loopback address).
fn client_from(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(local.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn register_from(client: &reqwest::Client, s: &Server, name: &str) -> reqwest::Response {
    client
        .post(s.url("/v1/workers/register"))
        .json(&json!({"name": name, "skills": ["rust"], "capacity_points": 5}))
        .send()
        .await
        .unwrap()
}

/// Asserts a `429 rate_limited` problem with a `Retry-After` of at least one second.
async fn assert_rate_limited(resp: reqwest::Response) -> u64 {
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(retry >= 1, "Retry-After {retry}");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");
    assert_eq!(body["status"], 429);
    retry
}

#[tokio::test]
async fn registrations_past_the_limit_get_429_while_100_a_minute_pass() {
    let s = Server::start_with_env(&DEFAULT_RATES).await;
    let here = client_from("127.0.0.1");
    for i in 0..100 {
        let r = register_from(&here, &s, &format!("w{i}")).await;
        assert_eq!(
            r.status().as_u16(),
            201,
            "registration {i} of the first 100"
        );
    }
    // The rate refills at 2 a second: well before 200 more, one address is refused.
    let mut refused = None;
    for i in 100..300 {
        let r = register_from(&here, &s, &format!("w{i}")).await;
        if r.status().as_u16() == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status().as_u16(), 201);
    }
    let retry = assert_rate_limited(refused.expect("registration is rate-limited")).await;
    assert!(retry <= 60, "Retry-After {retry}");
    // Another address is not held. A registration is a registration whoever sends it: the
    // admin token lifts nothing at the held address.
    let r = register_from(&client_from("127.0.0.2"), &s, "elsewhere").await;
    assert_eq!(r.status().as_u16(), 201);
    // (The rate refills at 2 a second, so a few in a row meet the limit again.)
    let mut admin_held = false;
    for _ in 0..5 {
        let r = s
            .req(Method::POST, "/v1/workers/register")
            .admin(&s)
            .json(&json!({"name": "by-admin", "skills": ["rust"], "capacity_points": 5}))
            .send()
            .await;
        if r.status == 429 {
            admin_held = true;
            break;
        }
        assert_eq!(r.status, 201, "{}", r.describe());
    }
    assert!(admin_held, "the admin token lifted the registration limit");
}

/// A stranger past the per-address limits tries every credential she can get (a worker token
/// from a registration, the admin token, a made-up one) on the routes that need none:
/// registration, `/v1/meta`, the leaderboard and an unknown path stay at 429 for her address,
/// while the route her worker token is for still answers it.
#[tokio::test]
async fn a_credential_lifts_no_limit_of_a_route_that_needs_none() {
    let s = Server::start_with_env(&[
        ("OWP_RATE_REGISTRATIONS_PER_MINUTE", "5"),
        ("OWP_RATE_ANONYMOUS_PER_MINUTE", "20"),
        ("OWP_RATE_AUTH_FAILURES_PER_MINUTE", "10"),
    ])
    .await;
    let her = client_from("127.0.0.7");
    let first = register_from(&her, &s, "sock-0").await;
    assert_eq!(first.status().as_u16(), 201);
    let worker: Value = first.json().await.unwrap();
    let worker_token = worker["token"].as_str().unwrap().to_string();
    let mut registrations = 1;
    while register_from(&her, &s, "sock").await.status().as_u16() == 201 {
        registrations += 1;
        assert!(registrations < 50, "registration is never limited");
    }
    let mut reads = 0;
    while her
        .get(s.url("/v1/meta"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
        == 200
    {
        reads += 1;
        assert!(reads < 200, "/v1/meta is never limited");
    }
    let credentials: [(&str, String); 3] = [
        ("authorization", format!("Bearer {worker_token}")),
        ("x-admin-token", s.admin_token.clone()),
        ("authorization", "Bearer owpm_made_up".to_string()),
    ];
    for (header, value) in &credentials {
        for (method, path) in [
            (Method::GET, "/v1/meta"),
            (Method::GET, "/v1/leaderboard"),
            (Method::GET, "/v1/no-such-route"),
            (Method::POST, "/v1/workers/register"),
        ] {
            let r = her
                .request(method.clone(), s.url(path))
                .header(*header, value)
                .json(&json!({"name": "again", "skills": [], "capacity_points": 1}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status().as_u16(),
                429,
                "{method} {path} with {header} lifted the address's limit"
            );
        }
    }
    // The route the worker token is for still answers her.
    let r = her
        .post(s.url("/v1/workers/heartbeat"))
        .bearer_auth(&worker_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn anonymous_routes_are_rate_limited_per_address() {
    let s = Server::start_with_env(&[
        ("OWP_RATE_ANONYMOUS_PER_MINUTE", "30"),
        ("OWP_RATE_AUTH_FAILURES_PER_MINUTE", "10"),
    ])
    .await;
    let stranger = client_from("127.0.0.3");
    let mut limited = None;
    for _ in 0..60 {
        let r = stranger.get(s.url("/healthz")).send().await.unwrap();
        if r.status().as_u16() == 429 {
            limited = Some(r);
            break;
        }
    }
    assert_rate_limited(limited.expect("/healthz is rate-limited per address")).await;
    // A made-up token does not get around the limit of an anonymous route.
    let r = stranger
        .get(s.url("/v1/openapi.json"))
        .bearer_auth("owpw_made_up")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    // Another address, and the admin, are unaffected.
    let r = client_from("127.0.0.4")
        .get(s.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = stranger
        .get(s.url("/v1/admin/state"))
        .header("X-Admin-Token", &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn wrong_tokens_over_the_api_hold_only_the_guessing_address() {
    let s = Server::start_with_env(&DEFAULT_RATES).await;
    let (_, worker_token) = s.register_worker("w", &["rust"], 5, 1).await;
    let stranger = client_from("127.0.0.5");
    let mut statuses = Vec::new();
    for i in 0..15 {
        let r = stranger
            .get(s.url("/v1/admin/state"))
            .header("X-Admin-Token", format!("guess-{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses[..10].iter().all(|&c| c == 401), "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    // Past the rate its guesses wait (and count again), while the right token from that
    // address is never refused for them…
    let r = stranger
        .get(s.url("/v1/admin/state"))
        .header("X-Admin-Token", "guess-16")
        .send()
        .await
        .unwrap();
    assert_rate_limited(r).await;
    let r = stranger
        .get(s.url("/v1/admin/state"))
        .header("X-Admin-Token", &s.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // …and wrong worker tokens count the same way.
    let other = client_from("127.0.0.6");
    let mut last = 0;
    for i in 0..15 {
        last = other
            .post(s.url("/v1/workers/heartbeat"))
            .bearer_auth(format!("owpw_guess_{i}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
    // The admin and the worker elsewhere are not held.
    s.admin_get("/v1/admin/state").await.expect_ok();
    let r: Resp = s.heartbeat(&worker_token, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.describe());
}

async fn sign_in_from(client: &reqwest::Client, s: &Server, token: &str, xff: Option<&str>) -> u16 {
    let mut req = client
        .post(s.url("/login"))
        .header("Origin", &s.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"));
    if let Some(addr) = xff {
        req = req.header("X-Forwarded-For", addr);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_strangers_wrong_sign_ins_do_not_lock_out_the_admin_elsewhere() {
    let s = Server::start_with_env(&DEFAULT_RATES).await;
    let stranger = client_from("127.0.0.7");
    let mut codes = Vec::new();
    for i in 0..15 {
        codes.push(sign_in_from(&stranger, &s, &format!("guess{i}"), None).await);
    }
    assert!(codes[..10].iter().all(|&c| c == 401), "{codes:?}");
    assert_eq!(*codes.last().unwrap(), 429, "{codes:?}");
    assert_eq!(
        sign_in_from(&stranger, &s, "guess-again", None).await,
        429,
        "the guessing address waits for its guesses"
    );
    assert_eq!(
        sign_in_from(&stranger, &s, &s.admin_token, None).await,
        303,
        "the right token is never refused for someone else's guesses"
    );
    // The admin, signing in from another address, is not locked out.
    let admin = client_from("127.0.0.1");
    assert_eq!(sign_in_from(&admin, &s, &s.admin_token, None).await, 303);
}

#[tokio::test]
async fn behind_a_proxy_the_configured_header_names_the_client() {
    let mut env = DEFAULT_RATES.to_vec();
    env.push(("OWP_CLIENT_IP_HEADER", "X-Forwarded-For"));
    let s = Server::start_with_env(&env).await;
    let proxy = client_from("127.0.0.1");
    let mut last = 0;
    for i in 0..15 {
        // A client-supplied address first, the proxy's own record of the client last.
        last = sign_in_from(
            &proxy,
            &s,
            &format!("guess{i}"),
            Some("1.1.1.1, 203.0.113.5"),
        )
        .await;
    }
    assert_eq!(last, 429);
    // The same proxy connection, for another client: signs in.
    assert_eq!(
        sign_in_from(
            &proxy,
            &s,
            &s.admin_token,
            Some("203.0.113.5, 198.51.100.7")
        )
        .await,
        303
    );
    assert_eq!(
        sign_in_from(&proxy, &s, "guess-more", Some("198.51.100.7, 203.0.113.5")).await,
        429,
        "the last address counts, not one the client wrote"
    );
}

/// Reads until the server closes the connection; how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + limit),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

fn addr_of(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_while_healthz_answers() {
    let s = Server::start_with_env(&[("OWP_IDLE_TIMEOUT_SECONDS", "4")]).await;
    let addr = addr_of(&s);
    let opened = Instant::now();
    // Many idle sockets (well within the default bound and this process's descriptors).
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // A slow sender: half a request head, then nothing.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A keep-alive connection that finished a request and then idles.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    let started = Instant::now();
    let r = s
        .client
        .get(s.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert_eq!(r.expect("/healthz answers").status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(2));

    // Not closed before the timeout (checked only while well within it: a loaded machine may
    // take long to get here)…
    for (what, stream) in [
        ("slow", &mut slow),
        ("kept-alive", &mut kept),
        ("idle", &mut idle[0]),
    ] {
        if opened.elapsed() < Duration::from_secs(3) {
            assert!(
                closed_within(stream, Duration::from_millis(100))
                    .await
                    .is_none(),
                "the {what} connection was closed before its timeout"
            );
        }
    }
    // …and closed after it.
    for (what, stream) in [
        ("slow", &mut slow),
        ("kept-alive", &mut kept),
        ("idle", &mut idle[0]),
    ] {
        let took = closed_within(stream, Duration::from_secs(10)).await;
        assert!(took.is_some(), "the {what} connection was never closed");
    }
    let mut still_open = 0;
    for stream in &mut idle[1..] {
        if closed_within(stream, Duration::from_millis(50))
            .await
            .is_none()
        {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "idle connections left open");
}

#[tokio::test]
async fn past_the_connection_bound_new_connections_are_closed_at_once() {
    let s = Server::start_with_env(&[
        ("OWP_MAX_CONNECTIONS", "20"),
        ("OWP_IDLE_TIMEOUT_SECONDS", "2"),
    ])
    .await;
    let addr = addr_of(&s);
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let took = closed_within(&mut extra, Duration::from_secs(3)).await;
    assert!(
        took.is_some(),
        "a connection past the bound is closed at once"
    );
    // Once the idle ones time out, the service answers again.
    let ok = support::eventually(Duration::from_secs(10), || async {
        let r = s
            .client
            .get(s.url("/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        r.ok().filter(|r| r.status().as_u16() == 200)
    })
    .await;
    assert!(
        ok.is_some(),
        "/healthz answers after the idle connections are closed"
    );
    let scrape = s.req(Method::GET, "/metrics").admin(&s).send().await;
    let refused = scrape
        .text
        .lines()
        .find_map(|l| l.strip_prefix("owp_http_connections_refused_total "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(
        refused.is_some_and(|n| n >= 1.0),
        "the refusal is counted: {refused:?}"
    );
}

/// A server with the GitHub App on (its API unreachable: only the webhook is used).
async fn app_server(concurrency: &str) -> Server {
    Server::start_with_env(&[
        ("GITHUB_APP_ID", "4242"),
        ("GITHUB_PRIVATE_KEY", TEST_APP_KEY),
        ("GITHUB_WEBHOOK_SECRET", "a-webhook-secret"),
        ("GITHUB_API_URL", "http://127.0.0.1:9"),
        ("OWP_WEBHOOK_CONCURRENCY", concurrency),
    ])
    .await
}

/// Starts a webhook post of `len` bytes with a well-formed (wrong) signature and sends only
/// its head and the first bytes of its body.
async fn start_post(addr: &str, len: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /github/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: issues\r\nX-GitHub-Delivery: d-{len}\r\n\
         X-Hub-Signature-256: sha256={}\r\nContent-Length: {len}\r\n\r\n",
        "0".repeat(64)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b' '; 1024]).await.unwrap();
    stream
}

async fn response_status(stream: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

#[tokio::test]
async fn large_unsigned_webhook_posts_are_refused_past_the_bound_without_being_read() {
    let s = app_server("2").await;
    let addr = addr_of(&s);
    // Two 20 MB posts being sent slowly hold both body permits…
    let mut a = start_post(&addr, 20 << 20).await;
    let mut b = start_post(&addr, 20 << 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // …so a third is answered 503 at once, without its body.
    let mut c = start_post(&addr, 20 << 20).await;
    let answer = response_status(&mut c).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after:"),
        "{answer}"
    );
    assert!(answer.contains("webhook_busy"), "{answer}");

    // Past GitHub's 25 MB, or without a signature header: refused unread, whatever the bound.
    let mut big = TcpStream::connect(&addr).await.unwrap();
    big.write_all(
        format!(
            "POST /github/webhook HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256={}\r\n\
             Content-Length: {}\r\n\r\n",
            "0".repeat(64),
            30 << 20
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = response_status(&mut big).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let mut unsigned = TcpStream::connect(&addr).await.unwrap();
    unsigned
        .write_all(
            format!(
                "POST /github/webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\n\
                 Content-Length: {}\r\n\r\n",
                20 << 20
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let answer = response_status(&mut unsigned).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");

    // When the slow posts give up, the permits come back: a delivery is read again (and its
    // wrong signature refused).
    drop(a.shutdown().await);
    drop(b.shutdown().await);
    drop((a, b));
    let ok = support::eventually(Duration::from_secs(10), || async {
        let r = s
            .client
            .post(s.url("/github/webhook"))
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", "d-small")
            .header("X-Hub-Signature-256", format!("sha256={}", "0".repeat(64)))
            .body("{}")
            .send()
            .await
            .ok()?;
        (r.status().as_u16() == 401).then_some(())
    })
    .await;
    assert!(ok.is_some(), "the body permits were given back");
}
