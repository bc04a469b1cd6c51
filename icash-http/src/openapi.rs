//! The OpenAPI 3 document of the API, generated from the handlers' annotations and the JSON
//! shapes in [`crate::dto`].

use std::sync::LazyLock;

use utoipa::openapi::Required;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi};

use crate::dto::{ErrorBody, ItemRequest, PurchaseRequest};
use crate::routes::{
    admin, analytics, batch, branches, cash_register, gateway, metrics, probes, products, refunds,
    whoami,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "icash",
        description = "Cash registers and analytics for a supermarket chain. Money is a JSON number computed exactly; \
                       every error is `{\"error\": \"<sentence>\"}`. \
                       Every `GET` also answers `HEAD`. `/`, `/health`, `/livez`, `/readyz` and `/openapi.json` \
                       are public: they answer without credentials, for load balancers and monitors."
    ),
    paths(
        gateway::index,
        gateway::health,
        probes::livez,
        probes::readyz,
        gateway::dashboard,
        gateway::openapi,
        cash_register::products,
        products::add_product,
        products::change_price,
        products::retire,
        products::prices,
        cash_register::purchase,
        batch::batch,
        cash_register::receipt,
        refunds::refund,
        refunds::void,
        cash_register::customers,
        analytics::unique_customers,
        analytics::loyal_customers,
        analytics::top_products,
        analytics::statistics,
        analytics::sales,
        analytics::daily_report,
        branches::branches,
        branches::put_branch,
        admin::create_key,
        admin::keys,
        admin::revoke_key,
        admin::audit,
        metrics::metrics,
        whoami::whoami,
    ),
    components(schemas(ErrorBody, ItemRequest, PurchaseRequest)),
    modifiers(
        &CommonErrors,
        &BearerKeys,
        &LinkFieldNames,
        &ConsistencyTokens,
        &ZoneNames
    ),
    tags(
        (name = "gateway", description = "The index, health, probes and dashboard"),
        (name = "cash-register", description = "What the tills use"),
        (name = "analytics", description = "What the owner's dashboards use; `from` is inclusive, `to` exclusive; `date`, `from_date` and `to_date` are business days in each branch's zone, both ends inclusive"),
        (name = "branches", description = "The branches, with the time zone and start of their business days"),
        (name = "admin", description = "API keys, the audit trail and the metrics, for admin keys only"),
    )
)]
struct ApiDoc;

/// Adds the errors every operation can answer with, written once instead of on each handler.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, document: &mut Document) {
        for item in document.paths.paths.values_mut() {
            for operation in operations(item) {
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
                    "The database is unavailable, or the server busy (every database connection in use) or past its statement timeout (then with `Retry-After`); retry shortly",
                );
            }
        }
    }
}

/// The 429 of every operation that takes a key.
const RATE_LIMITED: &str = "The key made more requests than its rate allows, or the client's address failed to authenticate too often; `Retry-After` says when to retry";

/// Declares the bearer API keys: the security scheme, and on every operation but those of the
/// public paths, the requirement and its 401 and 403 answers.
struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, document: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API key, as `Authorization: Bearer <key>`. Servers run with `ICASH_AUTH=off` \
                 ask for none.",
            ))
            .build();
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
        for (path, item) in document.paths.paths.iter_mut() {
            if crate::auth::PUBLIC_PATHS.contains(&path.as_str()) {
                continue;
            }
            if path == "/whoami" {
                // It answers without a key too, naming no one; a bad key is still refused.
                for operation in operations(item) {
                    operation.security = Some(vec![
                        SecurityRequirement::default(),
                        SecurityRequirement::new::<_, _, &str>(BEARER, []),
                    ]);
                    add_error(
                        operation,
                        "401",
                        "An API key that is unknown or revoked (with `WWW-Authenticate: Bearer`)",
                    );
                    add_error(operation, "429", RATE_LIMITED);
                }
                continue;
            }
            for operation in operations(item) {
                operation.security = Some(vec![SecurityRequirement::new::<_, _, &str>(BEARER, [])]);
                add_error(
                    operation,
                    "401",
                    "No API key, or one that is unknown or revoked (with `WWW-Authenticate: Bearer`)",
                );
                add_error(
                    operation,
                    "403",
                    "The key's role may not do this; the sentence names what it may not do",
                );
                add_error(operation, "429", RATE_LIMITED);
            }
        }
    }
}

/// Declares the consistency token: the header a recorded purchase's answer carries, and that the
/// reads a standby may answer take back (see [`crate::CONSISTENCY`]).
struct ConsistencyTokens;

/// The reads a standby may answer: analytics, the dashboard, customer lists and receipts.
const READS_FROM_STANDBYS: [&str; 9] = [
    "/dashboard",
    "/cash-register/purchases/{id}",
    "/cash-register/customers",
    "/analytics/unique-customers",
    "/analytics/loyal-customers",
    "/analytics/top-products",
    "/analytics/statistics",
    "/analytics/sales",
    "/analytics/daily-report",
];

impl Modify for ConsistencyTokens {
    fn modify(&self, document: &mut Document) {
        let token = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(128))
                .pattern(Some("^[!-~]{1,128}$"))
        };
        for path in READS_FROM_STANDBYS {
            let Some(get) = document
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.get.as_mut())
            else {
                continue;
            };
            let parameter = ParameterBuilder::new()
                .name(crate::CONSISTENCY)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .schema(Some(token()))
                .description(Some(
                    "The `icash-consistency` of a write's answer: the read is answered only by \
                     a database server that holds that write (1 to 128 visible ASCII \
                     characters; one the server did not make is read on the primary)",
                ))
                .build();
            get.parameters.get_or_insert_with(Vec::new).push(parameter);
        }
        // The writes' answers: on PostgreSQL each carries the token of its change.
        let writes = [
            ("/cash-register/purchase", "201"),
            ("/admin/keys", "201"),
            ("/admin/keys/{name}", "200"),
        ];
        for (path, status) in writes {
            let Some(item) = document.paths.paths.get_mut(path) else {
                continue;
            };
            let answers = [&mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
                .filter_map(|operation| operation.responses.responses.get_mut(status));
            for answer in answers {
                if let RefOr::T(answer) = answer {
                    let header = HeaderBuilder::new()
                        .schema(token())
                        .description(Some(
                            "On PostgreSQL, the change's place in the database's history: send \
                             it back as `icash-consistency` with a read that must see this change",
                        ))
                        .build();
                    answer.headers.insert(crate::CONSISTENCY.to_owned(), header);
                }
            }
        }
    }
}

/// Lists the zone names a branch accepts as its `time_zone`'s `enum`: the zone database is
/// the build's, so the document says exactly what the server accepts.
struct ZoneNames;

impl Modify for ZoneNames {
    fn modify(&self, document: &mut Document) {
        let names: Vec<serde_json::Value> = icash_core::TimeZone::all()
            .map(|zone| zone.name().into())
            .collect();
        let schemas = &mut document
            .components
            .get_or_insert_with(Default::default)
            .schemas;
        if let Some(RefOr::T(Schema::Object(request))) = schemas.get_mut("BranchRequest")
            && let Some(RefOr::T(Schema::Object(zone))) = request.properties.get_mut("time_zone")
        {
            zone.enum_values = Some(names);
            zone.min_length = None;
            zone.max_length = None;
        }
    }
}

/// The name of the bearer security scheme.
const BEARER: &str = "bearer";

/// Writes the links' fields under their OpenAPI names. utoipa's `Link` serializes its fields in
/// snake case (`operation_id`), which tools that follow links (Schemathesis's stateful phase)
/// do not read; the camel-case names (`operationId`) go through the link's extensions, which are
/// written as they are named.
struct LinkFieldNames;

impl Modify for LinkFieldNames {
    fn modify(&self, document: &mut Document) {
        let links = document
            .paths
            .paths
            .values_mut()
            .flat_map(|item| [&mut item.get, &mut item.post].into_iter().flatten())
            .flat_map(|operation| operation.responses.responses.values_mut())
            .filter_map(|response| match response {
                RefOr::T(response) => Some(response),
                RefOr::Ref(_) => None,
            })
            .flat_map(|response| response.links.values_mut())
            .filter_map(|link| match link {
                RefOr::T(link) => Some(link),
                RefOr::Ref(_) => None,
            });
        for link in links {
            let renamed = [
                ("operationId", std::mem::take(&mut link.operation_id)),
                ("operationRef", std::mem::take(&mut link.operation_ref)),
            ]
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name, serde_json::Value::from(value)))
            .chain(link.request_body.take().map(|body| ("requestBody", body)));
            link.extensions
                .get_or_insert_with(Default::default)
                .extend(renamed.map(|(name, value)| (name.to_owned(), value)));
        }
    }
}

/// The operations of a path item, of every method the API answers.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
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

/// The document's path templates (`/cash-register/purchases/{id}`), which label the metrics.
pub(crate) fn templates() -> Vec<String> {
    ApiDoc::openapi().paths.paths.into_keys().collect()
}

/// Each path of the document, as segments (`None` for a `{parameter}`), with the methods it
/// answers, as an `Allow` header lists them.
static METHODS: LazyLock<Vec<(Vec<Option<String>>, String)>> = LazyLock::new(|| {
    ApiDoc::openapi()
        .paths
        .paths
        .iter()
        .map(|(template, item)| {
            let segments = template
                .split('/')
                .map(|segment| {
                    let parameter = segment.starts_with('{') && segment.ends_with('}');
                    (!parameter).then(|| segment.to_owned())
                })
                .collect();
            // Every GET route answers HEAD too (see `routes::get`).
            let head = item.head.as_ref().or(item.get.as_ref());
            let methods = [
                ("GET", item.get.as_ref()),
                ("HEAD", head),
                ("POST", item.post.as_ref()),
                ("PUT", item.put.as_ref()),
                ("PATCH", item.patch.as_ref()),
                ("DELETE", item.delete.as_ref()),
                ("OPTIONS", item.options.as_ref()),
                ("TRACE", item.trace.as_ref()),
            ]
            .into_iter()
            .filter_map(|(method, operation)| operation.is_some().then_some(method))
            .collect::<Vec<_>>()
            .join(", ");
            (segments, methods)
        })
        .collect()
});

/// The methods that `path` answers, as an `Allow` header lists them (`"GET, HEAD"`); `None` for a
/// path the API does not have. Read from this document, so from the handlers' annotations.
pub(crate) fn allowed_methods(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    METHODS.iter().find_map(|(template, methods)| {
        let matches = template.len() == segments.len()
            && template
                .iter()
                .zip(&segments)
                .all(|(expected, given)| match expected {
                    Some(literal) => literal == given,
                    None => !given.is_empty(),
                });
        matches.then_some(methods.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::allowed_methods;

    #[test]
    fn each_path_allows_the_methods_of_its_handlers() {
        assert_eq!(allowed_methods("/analytics/statistics"), Some("GET, HEAD"));
        assert_eq!(allowed_methods("/cash-register/purchase"), Some("POST"));
        assert_eq!(
            allowed_methods("/cash-register/purchases/42"),
            Some("GET, HEAD")
        );
        assert_eq!(allowed_methods("/"), Some("GET, HEAD"));
        assert_eq!(allowed_methods("/readyz"), Some("GET, HEAD"));
        assert_eq!(allowed_methods("/cash-register/purchases/"), None);
        assert_eq!(
            allowed_methods("/cash-register/purchases/batch"),
            Some("POST")
        );
        assert_eq!(
            allowed_methods("/cash-register/products"),
            Some("GET, HEAD, POST")
        );
        assert_eq!(
            allowed_methods("/cash-register/products/3/price"),
            Some("PUT")
        );
        assert_eq!(allowed_methods("/cash-register/nothing"), None);
    }
}
