//! The OpenAPI 3.1 document, derived from the handlers' annotations (never written twice).

use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    AppState, admin, auth, events, import, leaderboard, leases, meta, proposals, steering, tasks,
    vouch, workers,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Open Work Protocol (OWP) v1",
        description = "A capacity-aware scheduler for pull requests: workers claim leased tasks, \
                       maintainers keep a review budget. See docs/owp-spec.md.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    paths(
        openapi_json,
        super::metrics::scrape,
        super::github_webhook::receive,
        super::signin::web_start,
        super::signin::web_callback,
    ),
    tags(
        (name = "admin", description = "Repository policies, task import, overrides, state"),
        (name = "workers", description = "Registration, heartbeats and GitHub links"),
        (name = "leases", description = "Claiming work and holding leases"),
        (name = "tasks", description = "Task reads and status updates"),
        (name = "events", description = "The audit log as Server-Sent Events"),
        (name = "health", description = "Liveness and discovery"),
        (name = "auth", description = "Maintainers signed in with GitHub: who am I, signing out"),
        (name = "proposals", description = "Plan first: proposals, approvals and declines"),
        (name = "github", description = "The GitHub binding: the App's webhook deliveries"),
    )
)]
struct ApiDoc;

/// This document. Served by [`super::router`] beside the routes it documents; described here,
/// since it has no handler of its own.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "health", security(()),
    responses((status = 200, description = "this OpenAPI 3.1 document")))]
#[allow(dead_code)]
fn openapi_json() {}

/// The routes other routers than the API's serve, with none of the API router's shared layers
/// (problem answers for bad bodies and queries, `Idempotency-Key`): only the rate limits (none
/// for the webhook) and, where they need one, credentials apply.
const OUTSIDE_THE_API: [&str; 4] = [
    super::rate_limits::WEBHOOK_PATH,
    "/auth/github",
    crate::github::manifest::SIGNIN_CALLBACK_PATH,
    "/metrics",
];

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Admin-Token"))),
        );
        components.add_security_scheme(
            "worker_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route of this router with its documentation, and the documentation of `more`: routes
/// other routers serve under the same API (`POST /v1/workers/link-code` belongs to the GitHub
/// App's router, which serves it only while an App is configured).
pub fn api_router(more: Vec<utoipa::openapi::OpenApi>) -> OpenApiRouter<AppState> {
    let mut doc = ApiDoc::openapi();
    for part in more {
        doc.merge(part);
    }
    OpenApiRouter::with_openapi(doc)
        .routes(routes!(admin::upsert_repo))
        .routes(routes!(import::import_tasks))
        .routes(routes!(admin::import_beads))
        .routes(routes!(admin::state))
        .routes(routes!(admin::force_status))
        .routes(routes!(admin::update_worker))
        .routes(routes!(admin::archive_worker))
        .routes(routes!(admin::archive_repo))
        .routes(routes!(vouch::vouched))
        .routes(routes!(steering::steering))
        .routes(routes!(workers::register))
        .routes(routes!(workers::heartbeat))
        .routes(routes!(workers::me, workers::update_me))
        .routes(routes!(leases::claim))
        .routes(routes!(leases::preview))
        .routes(routes!(leases::ack))
        .routes(routes!(leases::nack))
        .routes(routes!(leases::renew))
        .routes(routes!(tasks::get_task))
        .routes(routes!(tasks::update_status))
        .routes(routes!(events::stream))
        .routes(routes!(leaderboard::leaderboard))
        .routes(routes!(meta::meta))
        .routes(routes!(auth::me))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::revoke))
        .routes(routes!(proposals::propose, proposals::list))
        .routes(routes!(proposals::mine))
        .routes(routes!(proposals::withdraw))
        .routes(routes!(proposals::approve))
        .routes(routes!(proposals::decline))
        .routes(routes!(super::healthz))
        .routes(routes!(super::readyz))
}

/// The document as served at `/v1/openapi.json` by a router given `more` (see [`api_router`]).
pub fn document(more: Vec<utoipa::openapi::OpenApi>) -> utoipa::openapi::OpenApi {
    let mut doc = api_router(more).into_openapi();
    complete(&mut doc);
    doc
}

/// What the handlers' annotations leave to the document as a whole: the shared layers' errors,
/// objects with `x_*` fields as one open object, and the routes the protocol does not name
/// marked as extensions.
pub fn complete(doc: &mut utoipa::openapi::OpenApi) {
    declare_problems(doc);
    flatten_extension_objects(doc);
    mark_extensions(doc);
}

/// The routes this server documents that the protocol does not name (the specification's
/// "extension of OWP Pool" table in section 9): readiness, a worker's proposals across the pool,
/// the dashboard's own reads. Each of their operations carries `x-owp-extension: true`, so that a
/// second implementation generating from this document knows it need not serve them.
pub const EXTENSION_ROUTES: [&str; 3] = ["/readyz", "/v1/admin/steering", "/v1/proposals"];

/// Marks the operations of [`EXTENSION_ROUTES`] with `x-owp-extension: true`.
fn mark_extensions(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::extensions::ExtensionsBuilder;
    for (path, item) in doc.paths.paths.iter_mut() {
        if !EXTENSION_ROUTES.contains(&path.as_str()) {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let mark = ExtensionsBuilder::new()
                .add("x-owp-extension", serde_json::Value::Bool(true))
                .build();
            match op.extensions.as_mut() {
                Some(e) => e.merge(mark),
                None => op.extensions = Some(mark),
            }
        }
    }
}

/// An object with `x_*` extension fields is derived as `allOf` of an open map (the flattened
/// extensions) and its own fields, which leaves the schema itself without `properties`: some
/// generators then type it as an empty object. Each such schema becomes one object with its
/// properties, its required fields and `additionalProperties: true` (the `x_*` fields).
fn flatten_extension_objects(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::AllOf(all)) = schema else {
            continue;
        };
        let [RefOr::T(Schema::Object(a)), RefOr::T(Schema::Object(b))] = all.items.as_slice()
        else {
            continue;
        };
        let (open, own) = match (a.properties.is_empty(), b.properties.is_empty()) {
            (true, false) => (a, b),
            (false, true) => (b, a),
            _ => continue,
        };
        let mut merged = own.clone();
        merged.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
        merged.description = all
            .description
            .clone()
            .or_else(|| own.description.clone())
            .or_else(|| open.description.clone());
        *schema = RefOr::T(Schema::Object(merged));
    }
}

/// Completes every operation with the errors the server's shared layers answer, all as
/// `application/problem+json` with the `Problem` schema, so the document says what the server
/// does: `429` everywhere but the webhook (per-address rate limits, with `Retry-After`); `401`
/// where credentials are needed; and on the API router's routes (not [`OUTSIDE_THE_API`])
/// `400`, `413`, `415` and `422` where a body is read, `409` and `422` for POSTs (the
/// `Idempotency-Key` layer), `422` for a query value, `404` for an id in the path. Error responses a handler declared with `application/json` are moved to
/// `application/problem+json`, which is what [`super::error::ApiError`] sends.
pub fn declare_problems(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;

    for (path, item) in doc.paths.paths.iter_mut() {
        let outside = OUTSIDE_THE_API.contains(&path.as_str());
        let webhook = path == super::rate_limits::WEBHOOK_PATH;
        let ops = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.delete, false),
            (&mut item.patch, true),
        ];
        for (op, is_write) in ops {
            let Some(op) = op.as_mut() else { continue };
            let responses = &mut op.responses.responses;
            for (status, response) in responses.iter_mut() {
                if status.starts_with('4') || status.starts_with('5') {
                    as_problem(response);
                }
            }
            let params = op.parameters.as_deref().unwrap_or_default();
            let in_path = params
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let in_query = params
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Query));
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem(description).into());
            };
            if !webhook {
                add("429", "rate_limited: too many requests from this address");
            }
            if secured {
                add("401", "unauthorized: missing or wrong credentials");
            }
            if !outside {
                api_layers(
                    &mut add,
                    in_path,
                    in_query,
                    op.request_body.is_some(),
                    is_write,
                );
            }
            if let Some(utoipa::openapi::RefOr::T(r)) = responses.get_mut("429") {
                r.headers
                    .entry("Retry-After".to_string())
                    .or_insert_with(retry_after);
            }
        }
    }
}

/// The errors the API router's own layers add to an operation: `404` for an id in the path,
/// `422` for a query value, the body's `400`, `413`, `415` and `422`, and a write's
/// `Idempotency-Key` answers.
fn api_layers(
    add: &mut impl FnMut(&str, &str),
    in_path: bool,
    in_query: bool,
    has_body: bool,
    is_write: bool,
) {
    if in_path {
        add("404", "not_found: no such object");
    }
    if in_query {
        add(
            "422",
            "validation_failed: a query value does not have its type (`?wait=abc`)",
        );
    }
    if has_body {
        add("400", "malformed_body: the body is not JSON or YAML");
        add("413", "payload_too_large: the body is larger than 1 MiB");
        add("415", "unsupported_media_type: not JSON or YAML");
        add(
            "422",
            "validation_failed: a field is missing, of the wrong type or out of range",
        );
    }
    if is_write {
        add(
            "409",
            "request_in_flight: the same Idempotency-Key is being answered",
        );
        add("422", "invalid_idempotency_key or idempotency_key_reused");
    }
}

fn problem(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn retry_after() -> utoipa::openapi::header::Header {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut h =
        utoipa::openapi::header::Header::new(ObjectBuilder::new().schema_type(Type::Integer));
    h.description = Some("seconds to wait before retrying".to_string());
    h
}

/// Moves a declared error body from `application/json` to `application/problem+json`.
fn as_problem(response: &mut utoipa::openapi::RefOr<utoipa::openapi::Response>) {
    let utoipa::openapi::RefOr::T(r) = response else {
        return;
    };
    if let Some(content) = r.content.shift_remove("application/json") {
        r.content
            .insert("application/problem+json".to_string(), content);
    }
}
