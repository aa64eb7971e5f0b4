//! The OpenAPI 3.1 document, derived from the handlers' annotations (never written twice).

use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AppState, admin, events, leases, tasks, workers};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Open Work Protocol (OWP) v1",
        description = "A capacity-aware scheduler for pull requests: workers claim leased tasks, \
                       maintainers keep a review budget. See docs/owp-spec.md.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "admin", description = "Repository policies, task import, overrides, state"),
        (name = "workers", description = "Registration and heartbeats"),
        (name = "leases", description = "Claiming work and holding leases"),
        (name = "tasks", description = "Task reads and status updates"),
        (name = "events", description = "The audit log as Server-Sent Events"),
        (name = "health", description = "Liveness"),
    )
)]
struct ApiDoc;

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

/// Every OWP route with its documentation.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(admin::upsert_repo))
        .routes(routes!(admin::import_tasks))
        .routes(routes!(admin::state))
        .routes(routes!(admin::force_status))
        .routes(routes!(admin::update_worker))
        .routes(routes!(workers::register))
        .routes(routes!(workers::heartbeat))
        .routes(routes!(workers::me))
        .routes(routes!(leases::claim))
        .routes(routes!(leases::ack))
        .routes(routes!(leases::nack))
        .routes(routes!(leases::renew))
        .routes(routes!(tasks::get_task))
        .routes(routes!(tasks::update_status))
        .routes(routes!(events::stream))
        .routes(routes!(super::healthz))
}

/// The document as served at `/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_and_lists_every_route() {
        let doc = serde_json::to_value(document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/v1/admin/repos", "post"),
            ("/v1/admin/tasks", "post"),
            ("/v1/admin/state", "get"),
            ("/v1/admin/tasks/{task_id}/status", "post"),
            ("/v1/admin/workers/{worker_id}", "post"),
            ("/v1/workers/register", "post"),
            ("/v1/workers/heartbeat", "post"),
            ("/v1/workers/me", "get"),
            ("/v1/work", "post"),
            ("/v1/leases/{lease_id}/ack", "post"),
            ("/v1/leases/{lease_id}/nack", "post"),
            ("/v1/leases/{lease_id}/renew", "post"),
            ("/v1/tasks/{task_id}", "get"),
            ("/v1/tasks/{task_id}/status", "post"),
            ("/v1/events", "get"),
        ] {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} missing from the OpenAPI document"
            );
        }
        assert!(doc["components"]["schemas"]["Task"].is_object());
        assert!(doc["components"]["schemas"]["Problem"].is_object());
    }
}
