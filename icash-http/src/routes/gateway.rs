//! `GET /`, `GET /health`, `GET /dashboard` and `GET /openapi.json`.

use std::sync::Arc;
use std::time::Duration;

use icash_core::Action;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{get, raw_query, with_store};
use crate::SharedStore;
use crate::auth::{Auth, Credentials, credentials};
use crate::context::{context, json, respond};
use crate::dto::{
    AdminEndpoints, AnalyticsEndpoints, BranchEndpoints, CashRegisterEndpoints, DashboardBody,
    Health, Index, IndexEndpoints, Services,
};
use crate::error::ApiError;
use crate::query::{FilterParams, parse};

/// The API index.
#[utoipa::path(get, path = "/", tag = "gateway",
    description = "Public (answers without credentials).",
    responses((status = 200, description = "The endpoints", body = Index)))]
pub(crate) async fn index() -> Result<Response, ApiError> {
    Ok(json(
        StatusCode::OK,
        &Index {
            service: "icash",
            version: env!("CARGO_PKG_VERSION"),
            endpoints: IndexEndpoints {
                health: "GET /health",
                livez: "GET /livez",
                readyz: "GET /readyz",
                dashboard: "GET /dashboard",
                whoami: "GET /whoami",
                cash_register: CashRegisterEndpoints {
                    products: "GET /cash-register/products",
                    purchase: "POST /cash-register/purchase",
                    customers: "GET /cash-register/customers",
                    receipt: "GET /cash-register/purchases/{id}",
                    refund: "POST /cash-register/purchases/{id}/refunds",
                    void: "POST /cash-register/purchases/{id}/void",
                    purchase_batch: "POST /cash-register/purchases/batch",
                    add_product: "POST /cash-register/products",
                    change_price: "PUT /cash-register/products/{id}/price",
                    prices: "GET /cash-register/products/{id}/prices",
                    retire_product: "POST /cash-register/products/{id}/retire",
                },
                analytics: AnalyticsEndpoints {
                    unique_customers: "GET /analytics/unique-customers",
                    loyal_customers: "GET /analytics/loyal-customers",
                    top_products: "GET /analytics/top-products",
                    statistics: "GET /analytics/statistics",
                    sales: "GET /analytics/sales",
                    daily_report: "GET /analytics/daily-report",
                },
                openapi: "GET /openapi.json",
                admin: AdminEndpoints {
                    create_key: "POST /admin/keys",
                    keys: "GET /admin/keys",
                    revoke_key: "DELETE /admin/keys/{name}",
                    audit: "GET /admin/audit",
                    metrics: "GET /metrics",
                },
                branches: BranchEndpoints {
                    list: "GET /branches",
                    update: "PUT /branches/{id}",
                },
            },
        },
    ))
}

/// Whether the service and its database answer.
#[utoipa::path(get, path = "/health", tag = "gateway",
    description = "Public (answers without credentials). The old gateway's health check, with \
                   its `services`.",
    responses(
    (status = 200, description = "Healthy", body = Health),
    (status = 503, description = "The database does not answer in time", body = Health),
))]
pub(crate) async fn health(store: SharedStore, timeout: Duration) -> Result<Response, ApiError> {
    let database_up = match tokio::time::timeout(timeout, store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: the store does not answer");
            false
        }
        Err(_) => {
            tracing::warn!(?timeout, "health check: the store did not answer in time");
            false
        }
    };
    // Both of the old gateway's services are this process over this database.
    let service = if database_up { "healthy" } else { "unhealthy" };
    let services = Services {
        cash_register: service,
        analytics: service,
    };
    Ok(if database_up {
        json(
            StatusCode::OK,
            &Health {
                status: "healthy",
                database: "up",
                services,
            },
        )
    } else {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &Health {
                status: "degraded",
                database: "down",
                services,
            },
        )
    })
}

/// Every analytic at once.
#[utoipa::path(get, path = "/dashboard", tag = "gateway", params(FilterParams),
    responses((status = 200, description = "The dashboard", body = DashboardBody,
        links(("purchase" = (operation_id = "purchase",
            request_body = json!({
                "supermarket_id": "$response.body#/statistics/by_supermarket/0/supermarket_id",
                "user_id": "$response.body#/loyal_customers/0/user_id",
                "items": [{"product_id": "$response.body#/top_products/0/product_id"}]
            }),
            description = "A loyal customer buys a best seller again, at a branch of the chain"))))))]
pub(crate) async fn dashboard(
    store: SharedStore,
    credentials: Credentials,
    query: String,
) -> Result<Response, ApiError> {
    let caller = credentials.caller().await?;
    let period = parse::<FilterParams>(&query)?.period()?;
    caller.may(Action::ReadAnalytics(period.branch()))?;
    let dashboard = icash_core::period::dashboard(store.as_ref(), &period).await?;
    Ok(json(StatusCode::OK, &DashboardBody::from(&dashboard)))
}

/// This API's OpenAPI 3 document.
#[utoipa::path(get, path = "/openapi.json", tag = "gateway",
    description = "Public (answers without credentials).",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json")))]
pub(crate) async fn openapi(document: Arc<str>) -> Result<Response, ApiError> {
    let mut response = document.to_string().into_response();
    response.headers_mut().insert(
        "content-type",
        warp::http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// The gateway's filters that answer during the start-up too: the index, `/health` and
/// `/openapi.json`.
pub(crate) fn filters(
    store: SharedStore,
    health_timeout: Duration,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let document: Arc<str> = crate::openapi::document().into();
    let index = warp::path::end()
        .and(get())
        .and(context())
        .and_then(|ctx| respond(ctx, index()));
    let health = warp::path!("health")
        .and(get())
        .and(context())
        .and(with_store(store))
        .and_then(move |ctx, store| respond(ctx, health(store, health_timeout)));
    let openapi = warp::path!("openapi.json")
        .and(get())
        .and(context())
        .and_then(move |ctx| respond(ctx, openapi(document.clone())));
    index.or(health).unify().or(openapi).unify()
}

/// `GET /dashboard`'s filter.
pub(crate) fn dashboard_filter(
    store: SharedStore,
    auth: Auth,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("dashboard")
        .and(get())
        .and(context())
        .and(raw_query())
        .and(with_store(store))
        .and(credentials(auth))
        .and_then(|ctx, query, store, credentials| {
            respond(ctx, dashboard(store, credentials, query))
        })
}
