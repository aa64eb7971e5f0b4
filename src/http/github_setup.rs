//! The GitHub App's pages: the setup flow (`GET /github/setup`, `GET /github/setup/callback`;
//! see `github::setup`) while no App is configured, and `GET /github/help` (how the App is used).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::github::manifest::{self, SETUP_CALLBACK_PATH};
use crate::github::setup::{
    HELP_PAGE, SETUP_PATH, Setup, asks_for, escape, save_credentials, still_to_keep,
};

/// `GET /github/help`.
pub fn help_router() -> Router {
    Router::new().route(
        "/github/help",
        axum::routing::get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                HELP_PAGE,
            )
        }),
    )
}

/// The setup routes.
pub fn router(setup: Arc<Setup>) -> Router {
    Router::new()
        .route(SETUP_PATH, axum::routing::get(page))
        .route(SETUP_CALLBACK_PATH, axum::routing::get(callback))
        .with_state(setup)
}

#[derive(Deserialize)]
struct PageQuery {
    key: Option<String>,
    org: Option<String>,
}

async fn page(State(setup): State<Arc<Setup>>, Query(q): Query<PageQuery>) -> Response {
    if !setup.key_matches(q.key.as_deref()) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Open the setup link that `owp serve` printed when it started (it carries a key, so \
             that only whoever runs this service can set up its GitHub App).",
        );
    }
    let org = q
        .org
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty());
    if let Some(org) = &org
        && !org.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return error_page(StatusCode::BAD_REQUEST, "That is not an organisation name.");
    }
    if setup.app_kept().await {
        return error_page(
            StatusCode::CONFLICT,
            "The GitHub App of this pool is set up already (its credentials are kept in the \
             database): restart every replica of this service to use it.",
        );
    }
    let base = setup.base_url();
    let manifest_value = manifest::manifest_for(&base);
    let asks = asks_for(&manifest_value);
    let manifest = manifest_value.to_string();
    let personal = manifest::creation_url(&setup.web_url, None, &setup.new_state());
    let mut forms = format!(
        "<h2>For your personal account</h2>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\
         <button type=\"submit\">Create the GitHub App on my account</button></form>",
        action = escape(&personal),
        manifest = escape(&manifest),
    );
    forms.push_str("<h2>For an organisation</h2>");
    match &org {
        Some(org) => {
            let action = manifest::creation_url(&setup.web_url, Some(org), &setup.new_state());
            forms.push_str(&format!(
                "<form method=\"post\" action=\"{action}\">\
                 <input type=\"hidden\" name=\"manifest\" value=\"{manifest}\">\
                 <button type=\"submit\">Create the GitHub App for {org}</button></form>",
                action = escape(&action),
                manifest = escape(&manifest),
                org = escape(org),
            ));
        }
        None => forms.push_str(&format!(
            "<form method=\"get\" action=\"{SETUP_PATH}\">\
             <input type=\"hidden\" name=\"key\" value=\"{key}\">\
             <label>Organisation <input name=\"org\" required pattern=\"[A-Za-z0-9-]+\"></label> \
             <button type=\"submit\">Continue</button></form>",
            key = escape(setup.key.expose()),
        )),
    }
    let warning = if setup.public_url_configured {
        String::new()
    } else {
        format!(
            "<p class=\"warn\">OWP_PUBLIC_URL is not set, so GitHub will send webhooks to \
             <code>{}</code>. GitHub must be able to reach that address: set OWP_PUBLIC_URL to the \
             public address of this service (a tunnel works for a trial) and restart first.</p>",
            escape(&format!("{base}{}", manifest::WEBHOOK_PATH))
        )
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Set up the OWP Pool GitHub App</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;line-height:1.5}}\
         .warn{{background:#fff4e5;padding:.5rem 1rem}}button{{font-size:1rem;padding:.4rem 1rem}}</style></head>\
         <body><h1>Set up the GitHub App</h1>\
         <p>This service runs without GitHub App credentials. Create the App on GitHub from its \
         manifest ({asks}). GitHub brings you back here, and the credentials are saved to \
         {env}.</p>{warning}{forms}</body></html>",
        asks = escape(&asks),
        env = saved_where(&setup),
    ))
    .into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

async fn callback(State(setup): State<Arc<Setup>>, Query(q): Query<CallbackQuery>) -> Response {
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "GitHub's redirect lacks its code; start again from the setup page.",
        );
    };
    if !setup.take_state(&state) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This link does not come from this service's setup page (or is older than an hour); \
             start again from the setup page.",
        );
    }
    let conversion = match manifest::convert(setup.http(), &setup.api_url, &code).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "the App manifest code could not be exchanged");
            return error_page(StatusCode::BAD_GATEWAY, &e.to_string());
        }
    };
    if let Some(store) = &setup.shared {
        return keep_in_database(&setup, store, &conversion).await;
    }
    let kept = still_to_keep(&setup.keep, &setup.env_file);
    let mut lines = conversion.env_file_lines();
    for (name, value) in &kept {
        lines.push_str(&format!("{name}='{value}'\n"));
    }
    if let Err(e) = save_credentials(&setup.env_file, &lines) {
        tracing::error!(error = %e, path = %setup.env_file.display(), "cannot save the App's credentials");
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The App was created, but its credentials could not be saved; see the service's log.",
        );
    }
    tracing::info!(
        app_id = conversion.id,
        slug = conversion.slug.as_deref().unwrap_or("-"),
        "GitHub App created; credentials saved"
    );
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>GitHub App created</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;line-height:1.5}}</style></head>\
         <body><h1>The GitHub App {name} is ready</h1>\
         <p>Its id, private key and webhook secret are saved in <code>{env}</code> (readable only by you){kept}.</p>\
         <ol><li><a href=\"{install}\">Install the App</a> on the repositories whose issues go into the pool.</li>\
         <li>Restart <code>owp serve</code> from this directory: it reads the credentials from <code>{env}</code>.</li>\
         <li>Label an issue <code>pool:ready</code>; the App answers with a status comment, and anyone can comment \
         <code>/owp claim</code> to take it.</li></ol></body></html>",
        name = escape(&conversion.name),
        kept = if kept.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = kept.iter().map(|(name, _)| *name).collect();
            format!(
                ", with {} as this run was given them, so a restart serves the same addresses",
                escape(&names.join(", "))
            )
        },
        env = escape(&setup.env_file.display().to_string()),
        install = escape(&conversion.install_url()),
    ))
    .into_response()
}

/// Where the credentials go, as the pages say it (HTML).
fn saved_where(setup: &Setup) -> String {
    match setup.shared {
        Some(_) => "the database, where every replica of this service finds them".to_string(),
        None => format!(
            "<code>{}</code>",
            escape(&setup.env_file.display().to_string())
        ),
    }
}

/// On PostgreSQL: keeps the new App's credentials in the database for every replica, unless
/// another replica kept an App first.
async fn keep_in_database(
    setup: &Setup,
    store: &crate::store::Store,
    conversion: &manifest::ManifestConversion,
) -> Response {
    match setup.keep_app(store, &conversion.saved_app()).await {
        Ok(true) => {}
        Ok(false) => {
            return error_page(
                StatusCode::CONFLICT,
                &format!(
                    "Another GitHub App was set up for this pool first, and is the one its \
                     replicas use once restarted. Delete the App just created ({}) on GitHub: \
                     its settings, Advanced, Delete GitHub App.",
                    conversion.html_url
                ),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot keep the App's credentials in the database");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The App was created, but its credentials could not be saved; see the \
                 service's log.",
            );
        }
    }
    tracing::info!(
        app_id = conversion.id,
        slug = conversion.slug.as_deref().unwrap_or("-"),
        "GitHub App created; credentials kept in the database"
    );
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>GitHub App created</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;line-height:1.5}}</style></head>\
         <body><h1>The GitHub App {name} is ready</h1>\
         <p>Its id, private key and webhook secret are kept in the database, where every replica \
         of this service finds them (protect the database and its backups as you would the key).</p>\
         <ol><li><a href=\"{install}\">Install the App</a> on the repositories whose issues go into the pool.</li>\
         <li>Restart every replica of <code>owp serve</code>: each reads the App from the database when it starts.</li>\
         <li>Label an issue <code>pool:ready</code>; the App answers with a status comment, and anyone can comment \
         <code>/owp claim</code> to take it.</li></ol></body></html>",
        name = escape(&conversion.name),
        install = escape(&conversion.install_url()),
    ))
    .into_response()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>GitHub App setup</title></head>\
             <body><h1>GitHub App setup</h1><p>{}</p><p><a href=\"{SETUP_PATH}\">Back to the setup page</a></p></body></html>",
            escape(message)
        )),
    )
        .into_response()
}
