//! dq-api: the HTTP face of dq, on axum.
//!
//! - `GET /api/v1/dq/health/`: store, broker, beat leader, workers; 503
//!   naming what is down (`health.rs`).
//! - `GET /metrics`: every family of dq-metrics, plus the fleet's state
//!   read at scrape time (`scrape.rs`). Workers and beats without an API
//!   serve their own families through [`metrics_router`].
//! - REST under `/api/v1/dq/`: rules (`rules.rs`), runs (`runs.rs`),
//!   violations (`violations.rs`), described by the OpenAPI document at
//!   `/api/v1/dq/openapi.json`, generated from the handlers themselves.
//!
//! Writes need the bearer token (`auth.rs`); bad input is a 4xx whose JSON
//! body names the field (`error.rs`, `params.rs`, `body.rs`).

mod auth;
mod body;
mod error;
mod health;
mod params;
mod rules;
mod runs;
mod scrape;
mod views;
mod violations;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use dq_broker::Broker;
use dq_metrics::Metrics;
use dq_store::Store;
use tokio::sync::{watch, Mutex};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody};

/// Where the REST routes live.
pub const BASE_PATH: &str = "/api/v1/dq";

#[derive(Debug, Clone, Default)]
pub struct ApiConfig {
    /// The bearer token writes need (from the environment); `None`: writes
    /// are refused.
    pub token: Option<String>,
    /// Reads need the token too.
    pub reads_need_token: bool,
    /// The target names rules may use (the configured datasources).
    pub targets: Vec<String>,
    /// The lease the beats elect their leader with.
    pub beat_lease: String,
}

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    store: Store,
    broker: Option<Broker>,
    metrics: Metrics,
    config: Arc<ApiConfig>,
    acks: Arc<Mutex<scrape::AckWatermark>>,
}

impl ApiState {
    pub fn new(store: Store, broker: Option<Broker>, metrics: Metrics, config: ApiConfig) -> Self {
        ApiState {
            store,
            broker,
            metrics,
            config: Arc::new(config),
            acks: Arc::new(Mutex::new(scrape::AckWatermark::starting(Utc::now()))),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dq API",
        description = "Rules, runs and violations of dq, its health, and its metrics. \
            Writes need `Authorization: Bearer <token>`."
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "health"), (name = "metrics"), (name = "rules"),
        (name = "runs"), (name = "violations")
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

fn documented_routes() -> OpenApiRouter<ApiState> {
    let rest = OpenApiRouter::new()
        .routes(routes!(health::health))
        .routes(routes!(rules::list_rules, rules::create_rule))
        .routes(routes!(rules::get_rule, rules::replace_rule))
        .routes(routes!(rules::enable_rule))
        .routes(routes!(rules::disable_rule))
        .routes(routes!(rules::rule_versions))
        .routes(routes!(runs::list_runs))
        .routes(routes!(runs::get_run))
        .routes(routes!(violations::list_violations))
        .routes(routes!(violations::acknowledge));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(scrape::metrics))
        .nest(BASE_PATH, rest)
}

/// The OpenAPI document of every route [`router`] serves.
pub fn openapi() -> OpenApiDocument {
    documented_routes().into_openapi()
}

/// Every route: health, metrics, REST and the OpenAPI document.
pub fn router(state: ApiState) -> Router {
    let (router, document) = documented_routes().split_for_parts();
    let document = Arc::new(document);
    router
        .route(
            &format!("{BASE_PATH}/openapi.json"),
            get(move || {
                let document = Arc::clone(&document);
                async move { Json(document.as_ref().clone()) }
            }),
        )
        .fallback(not_found)
        .with_state(state)
}

/// `/metrics` alone, for a worker or a beat.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(scrape::own_metrics))
        .fallback(not_found)
        .with_state(metrics)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route {}", uri.path()))
}

/// Serves `router` on `listener` until `shutdown` turns true; requests in
/// flight are finished first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
}
