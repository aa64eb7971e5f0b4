//! One worker's keep-alive HTTP/1.1 connection to a server, for the claim loop.
//!
//! The load generator shares the machine's cores with the server it measures, so every cycle it
//! spends is a cycle the server does not get. A pooled client (reqwest) checks a connection out of
//! a shared pool, parses the URL and hands each request to a separate connection task and back;
//! here each worker owns its connection (hyper's `client::conn`) and drives it in its own task,
//! so a request is written, and its answer read, without a hand-off to another task.

use std::pin::Pin;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A keep-alive connection to one server, authenticated as one worker (or as the admin).
pub struct WorkerConn {
    host: String,
    credential: (header::HeaderName, String),
    sender: SendRequest<Full<Bytes>>,
    conn: Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>,
}

impl WorkerConn {
    /// Connects to `base` (`http://host:port`) with the worker's bearer token.
    pub async fn open(base: &str, token: &str) -> anyhow::Result<WorkerConn> {
        Self::open_with(base, header::AUTHORIZATION, format!("Bearer {token}")).await
    }

    /// Connects to `base` (`http://host:port`), sending `name: value` with every request.
    pub async fn open_with(
        base: &str,
        name: header::HeaderName,
        value: String,
    ) -> anyhow::Result<WorkerConn> {
        let host = base
            .strip_prefix("http://")
            .with_context(|| format!("not an http:// address: {base}"))?
            .trim_end_matches('/')
            .to_string();
        let stream = TcpStream::connect(&host)
            .await
            .with_context(|| format!("cannot connect to {host}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        Ok(WorkerConn {
            host,
            credential: (name, value),
            sender,
            conn: Box::pin(conn),
        })
    }

    /// `POST path` with an optional JSON body; the status and the whole answer body.
    pub async fn post(
        &mut self,
        path: &str,
        json: Option<Vec<u8>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.send(Method::POST, path, None, json).await
    }

    /// `method path` with an optional JSON body, as the worker whose token is `bearer` (or with
    /// the connection's own credential); the status and the whole answer body.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        json: Option<Vec<u8>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        req = match bearer {
            Some(token) => req.header(header::AUTHORIZATION, format!("Bearer {token}")),
            None => req.header(&self.credential.0, &self.credential.1),
        };
        if json.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(Bytes::from(json.unwrap_or_default())))?;
        let WorkerConn { sender, conn, .. } = self;
        let exchange = async {
            sender.ready().await?;
            let res = sender.send_request(req).await?;
            let status = res.status();
            let body = res.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        };
        // The connection makes progress only while it is polled: alongside the exchange.
        tokio::select! {
            out = exchange => Ok(out?),
            end = conn.as_mut() => match end {
                Ok(()) => anyhow::bail!("the server closed the connection"),
                Err(e) => Err(e.into()),
            },
        }
    }
}
