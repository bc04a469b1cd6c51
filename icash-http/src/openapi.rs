//! The OpenAPI 3 document of the API, generated from the handlers' annotations and the JSON
//! shapes in [`crate::dto`].

use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::dto::ErrorBody;
use crate::routes::{analytics, cash_register, gateway};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "icash",
        description = "Cash registers and analytics for a supermarket chain. Money is a JSON number computed exactly; \
                       every error is `{\"error\": \"<sentence>\"}`."
    ),
    paths(
        gateway::index,
        gateway::health,
        gateway::dashboard,
        gateway::openapi,
        cash_register::products,
        cash_register::purchase,
        cash_register::receipt,
        cash_register::customers,
        analytics::unique_customers,
        analytics::loyal_customers,
        analytics::top_products,
        analytics::statistics,
    ),
    components(schemas(ErrorBody)),
    modifiers(&CommonErrors),
    tags(
        (name = "gateway", description = "The index, health and dashboard"),
        (name = "cash-register", description = "What the tills use"),
        (name = "analytics", description = "What the owner's dashboards use; `from` is inclusive, `to` exclusive"),
    )
)]
struct ApiDoc;

/// Adds the errors every operation can answer with, written once instead of on each handler.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, document: &mut Document) {
        for item in document.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                let has_input = operation.parameters.as_ref().is_some_and(|p| !p.is_empty())
                    || operation.request_body.is_some();
                if has_input {
                    add_error(
                        operation,
                        "400",
                        "The request is malformed; the sentence names what is wrong",
                    );
                }
                if operation.request_body.is_some() {
                    add_error(operation, "413", "The body is larger than the limit");
                    add_error(
                        operation,
                        "415",
                        "The body is not declared as application/json",
                    );
                }
                add_error(operation, "405", "The path does not answer this method");
                add_error(
                    operation,
                    "500",
                    "An internal error; details are logged, never returned",
                );
                add_error(
                    operation,
                    "503",
                    "The database is unavailable; retry shortly",
                );
            }
        }
    }
}

fn add_error(operation: &mut Operation, status: &str, description: &str) {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build();
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert(response.into());
}

/// The OpenAPI document as JSON.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
}
