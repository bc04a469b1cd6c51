//! The OpenAPI document served at `/openapi.json` parses back and describes every endpoint the
//! index lists, with its parameters, bodies and errors, the rules the server enforces on them,
//! the cursors as the API writes them, and the links between operations.

use std::sync::Arc;

use utoipa::openapi::OpenApi;

async fn served_document() -> (serde_json::Value, serde_json::Value) {
    let api = icash_http::api(
        Arc::new(icash_core::MemoryStore::new()),
        icash_http::ApiConfig::default(),
    );
    let response = warp::test::request()
        .path("/openapi.json")
        .reply(&api)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    // utoipa's model reads the document back, but for the links: it requires a link's
    // `parameters`, which OpenAPI makes optional (the dashboard's link gives only a body).
    let mut without_links = document.clone();
    for item in without_links["paths"].as_object_mut().unwrap().values_mut() {
        for operation in item.as_object_mut().unwrap().values_mut() {
            for response in operation["responses"].as_object_mut().unwrap().values_mut() {
                response.as_object_mut().unwrap().remove("links");
            }
        }
    }
    serde_json::from_value::<OpenApi>(without_links).expect("the document parses as OpenAPI");
    let index = warp::test::request().path("/").reply(&api).await;
    (document, serde_json::from_slice(index.body()).unwrap())
}

/// Every "METHOD /path" string of the index.
fn index_endpoints(value: &serde_json::Value, found: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::String(text) => {
            let (method, path) = text.split_once(' ').expect("METHOD /path");
            found.push((method.to_lowercase(), path.to_owned()));
        }
        serde_json::Value::Object(entries) => {
            entries.values().for_each(|v| index_endpoints(v, found))
        }
        _ => {}
    }
}

#[tokio::test]
async fn the_document_describes_every_endpoint_of_the_index() {
    let (json, index) = served_document().await;
    assert!(
        json["openapi"].as_str().unwrap().starts_with("3."),
        "OpenAPI 3"
    );
    let mut endpoints = Vec::new();
    index_endpoints(&index["endpoints"], &mut endpoints);
    endpoints.push(("get".into(), "/".into()));
    assert_eq!(endpoints.len(), 31);
    for (method, path) in &endpoints {
        let operation = &json["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is described");
        let responses = operation["responses"].as_object().unwrap();
        for status in ["405", "500", "503"] {
            assert!(
                responses.contains_key(status),
                "{method} {path} documents {status}"
            );
        }
    }
    let operations: usize = json["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(operations, endpoints.len(), "and nothing else");
}

#[tokio::test]
async fn parameters_bodies_and_errors_are_described() {
    let (json, _) = served_document().await;
    let purchase = &json["paths"]["/cash-register/purchase"]["post"];
    assert!(purchase["requestBody"]["content"]["application/json"].is_object());
    for status in ["201", "400", "413", "415"] {
        assert!(
            purchase["responses"][status].is_object(),
            "purchase documents {status}"
        );
    }
    let parameters: Vec<&str> = json["paths"]["/analytics/loyal-customers"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "supermarket_id",
        "from",
        "to",
        "min_purchases",
        "limit",
        "cursor",
        "date",
        "from_date",
        "to_date",
    ] {
        assert!(
            parameters.contains(&name),
            "loyal customers take {name}: {parameters:?}"
        );
    }
    let schemas = json["components"]["schemas"].as_object().unwrap();
    for schema in [
        "ErrorBody",
        "PurchaseRequest",
        "PurchaseBody",
        "StatisticsBody",
        "DashboardBody",
    ] {
        assert!(schemas.contains_key(schema), "{schema} is described");
    }
    assert_eq!(
        schemas["StatisticsBody"]["properties"]["total_revenue"]["type"],
        "number"
    );
}

/// The schema of `name` in `parameters`.
fn parameter<'a>(parameters: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    parameters
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("parameter {name} is described"))
}

/// A schema's pattern, compiled.
fn pattern(schema: &serde_json::Value) -> regex::Regex {
    regex::Regex::new(schema["pattern"].as_str().expect("a pattern")).unwrap()
}

#[tokio::test]
async fn the_document_states_the_rules_the_server_enforces() {
    let (json, _) = served_document().await;
    let schemas = &json["components"]["schemas"];

    let request = &schemas["PurchaseRequest"]["properties"];
    assert_eq!(request["supermarket_id"]["minimum"], 1.0);
    let user_id = pattern(&request["user_id"]);
    for valid in [
        "new",
        "01e1e159-8045-43c2-88dd-5682b18bd680",
        "01E1E159-8045-43C2-88DD-5682B18BD680",
    ] {
        assert!(user_id.is_match(valid), "{valid}");
    }
    for invalid in [
        "",
        "NEW",
        "new ",
        "01e1e159",
        "01e1e159-8045-43c2-88dd-5682b18bd68",
    ] {
        assert!(!user_id.is_match(invalid), "{invalid:?}");
    }
    let items = &request["items"];
    assert_eq!(items["minItems"], 1);
    assert_eq!(items["maxItems"], icash_core::purchase::MAX_ITEMS);
    assert_eq!(items["uniqueItems"], true);
    assert!(
        items["description"]
            .as_str()
            .unwrap()
            .contains("no `product_id` twice")
    );
    let item = &schemas["ItemRequest"]["properties"];
    assert_eq!(item["product_id"]["minimum"], 1.0);
    assert_eq!(item["quantity"]["minimum"], 1.0);
    assert_eq!(item["quantity"]["maximum"], 1.0);

    let purchase = &json["paths"]["/cash-register/purchase"]["post"];
    let key = &parameter(&purchase["parameters"], "Idempotency-Key")["schema"];
    assert_eq!(key["type"], "string", "a header is never null");
    let key_pattern = pattern(key);
    for valid in [
        "a",
        "0b2f6a0c-4f2e-4d4e-9d53-1f0d1b6a7c11",
        &"~".repeat(255),
    ] {
        assert!(key_pattern.is_match(valid), "{valid}");
    }
    for invalid in ["", "a b", "tab\there", "é", &"k".repeat(256)] {
        assert!(!key_pattern.is_match(invalid), "{invalid:?}");
    }
    assert!(
        purchase["requestBody"]["description"]
            .as_str()
            .unwrap()
            .contains("64 KiB"),
        "the body limit is stated"
    );
    assert_eq!(icash_http::DEFAULT_BODY_LIMIT, 64 * 1024, "as it is");

    let receipt = &json["paths"]["/cash-register/purchases/{id}"]["get"];
    assert_eq!(
        parameter(&receipt["parameters"], "id")["schema"]["minimum"],
        1.0
    );

    let loyal = &json["paths"]["/analytics/loyal-customers"]["get"]["parameters"];
    for (name, minimum, maximum) in [
        ("supermarket_id", 1.0, f64::from(i32::MAX)),
        ("min_purchases", 1.0, f64::from(i32::MAX)),
        ("limit", 1.0, 1000.0),
    ] {
        let schema = &parameter(loyal, name)["schema"];
        assert_eq!(schema["minimum"], minimum, "{name}");
        assert_eq!(schema["maximum"], maximum, "{name}");
    }
    let top = &json["paths"]["/analytics/top-products"]["get"]["parameters"];
    assert_eq!(parameter(top, "max_rank")["schema"]["minimum"], 1.0);
    for name in ["from", "to"] {
        let from = parameter(loyal, name);
        assert_eq!(from["schema"]["format"], "date-time");
        assert!(
            from["description"]
                .as_str()
                .unwrap()
                .contains("before `to`")
                || from["description"]
                    .as_str()
                    .unwrap()
                    .contains("after `from`"),
            "{name} says the period must not be empty"
        );
    }
}

/// A store with products 1 to 3 and four customers of 1 to 4 purchases each.
async fn stocked_api() -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    use icash_core::{Money, Product, ProductId};

    let store = Arc::new(icash_core::MemoryStore::new());
    let products: Vec<Product> = (1..=3)
        .map(|id| {
            let price: Money = "1.25".parse().unwrap();
            Product::new(ProductId::new(id).unwrap(), &format!("product {id}"), price).unwrap()
        })
        .collect();
    icash_core::Catalog::put_products(store.as_ref(), &products)
        .await
        .unwrap();
    let api = icash_http::api(store, icash_http::ApiConfig::default());
    for purchases in 1..=4 {
        let customer = uuid::Uuid::new_v4().to_string();
        for _ in 0..purchases {
            let response = warp::test::request()
                .method("POST")
                .path("/cash-register/purchase")
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"supermarket_id": 1, "user_id": "{customer}", "items": [{{"product_id": 2}}]}}"#
                ))
                .reply(&api)
                .await;
            assert_eq!(response.status(), 201);
        }
    }
    api
}

#[tokio::test]
async fn each_cursor_the_api_hands_out_matches_its_documented_pattern() {
    let (json, _) = served_document().await;
    let api = stocked_api().await;

    let loyal = &json["paths"]["/analytics/loyal-customers"]["get"]["parameters"];
    let loyal_pattern = pattern(&parameter(loyal, "cursor")["schema"]);
    let response = warp::test::request()
        .path("/analytics/loyal-customers?min_purchases=1&limit=1")
        .reply(&api)
        .await;
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    let cursor = body["next_cursor"].as_str().expect("a next page");
    assert!(loyal_pattern.is_match(cursor), "{cursor}");
    let next = warp::test::request()
        .path(&format!(
            "/analytics/loyal-customers?limit=1&cursor={cursor}"
        ))
        .reply(&api)
        .await;
    assert_eq!(next.status(), 200, "the cursor is accepted back");
    assert!(!loyal_pattern.is_match("1_12.5_01e1e159804543c288dd5682b18bd680"));

    let customers = &json["paths"]["/cash-register/customers"]["get"]["parameters"];
    let customers_pattern = pattern(&parameter(customers, "cursor")["schema"]);
    let response = warp::test::request()
        .path("/cash-register/customers?limit=2")
        .reply(&api)
        .await;
    let cursor = response.headers()[icash_http::NEXT_CURSOR]
        .to_str()
        .unwrap();
    assert!(customers_pattern.is_match(cursor), "{cursor}");
    assert!(!customers_pattern.is_match("3_01e1e159-8045-43c2-88dd-5682b18bd680"));
}

#[tokio::test]
async fn links_lead_from_a_purchase_to_its_receipt_and_from_a_page_to_the_next() {
    let (json, _) = served_document().await;
    let operation_ids: Vec<&str> = json["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();

    let receipt =
        &json["paths"]["/cash-register/purchase"]["post"]["responses"]["201"]["links"]["receipt"];
    assert_eq!(receipt["operationId"], "receipt");
    assert_eq!(receipt["parameters"]["id"], "$response.body#/purchase_id");
    assert_eq!(
        json["paths"]["/cash-register/purchases/{id}"]["get"]["operationId"],
        "receipt"
    );

    let refund = &json["paths"]["/cash-register/purchases/{id}/refunds"]["post"]["responses"]["201"]
        ["links"]["receipt"];
    assert_eq!(refund["operationId"], "receipt");
    assert_eq!(refund["parameters"]["id"], "$response.body#/purchase_id");

    let next_page = &json["paths"]["/analytics/loyal-customers"]["get"]["responses"]["200"]["links"]
        ["next_page"];
    assert_eq!(next_page["operationId"], "loyal_customers");
    assert_eq!(
        next_page["parameters"]["cursor"],
        "$response.body#/next_cursor"
    );

    let purchase = &json["paths"]["/dashboard"]["get"]["responses"]["200"]["links"]["purchase"];
    assert_eq!(purchase["operationId"], "purchase");
    assert_eq!(
        purchase["requestBody"]["items"][0]["product_id"],
        "$response.body#/top_products/0/product_id"
    );

    let mut links = 0;
    for item in json["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for response in operation["responses"].as_object().unwrap().values() {
                for link in response["links"]
                    .as_object()
                    .into_iter()
                    .flat_map(|l| l.values())
                {
                    links += 1;
                    let target = link["operationId"].as_str().expect("an operationId");
                    assert!(operation_ids.contains(&target), "{target} exists");
                    assert!(link.get("operation_id").is_none(), "{link}");
                }
            }
        }
    }
    let prices =
        &json["paths"]["/cash-register/products"]["post"]["responses"]["201"]["links"]["prices"];
    assert_eq!(prices["operationId"], "prices");
    assert_eq!(prices["parameters"]["id"], "$response.body#/id");
    assert_eq!(
        links, 6,
        "the audit trail's next page, the refund's receipt and a new product's prices too"
    );
}

#[tokio::test]
async fn the_bearer_keys_and_their_refusals_are_declared() {
    let (json, _) = served_document().await;
    let scheme = &json["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    for (path, item) in json["paths"].as_object().unwrap() {
        let public =
            ["/", "/health", "/livez", "/readyz", "/openapi.json"].contains(&path.as_str());
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert_eq!(
                operation["security"].is_array(),
                !public,
                "{method} {path} declares the key it needs"
            );
            // `/whoami` takes a key or none: it refuses a bad key, never a role.
            let key_optional = path == "/whoami";
            if key_optional {
                assert_eq!(operation["security"][0], serde_json::json!({}), "{path}");
            }
            for status in ["401", "403", "429"] {
                let never_refused_by_role = key_optional && status == "403";
                assert_eq!(
                    responses.contains_key(status),
                    !public && !never_refused_by_role,
                    "{method} {path} documents {status}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_consistency_token_is_declared_on_the_writes_and_the_reads_a_standby_answers() {
    let (json, _) = served_document().await;
    for (path, method, status) in [
        ("/cash-register/purchase", "post", "201"),
        ("/admin/keys", "post", "201"),
        ("/admin/keys/{name}", "delete", "200"),
    ] {
        let answer = &json["paths"][path][method]["responses"][status];
        assert_eq!(
            answer["headers"]["icash-consistency"]["schema"]["type"], "string",
            "{path}: {answer}"
        );
    }
    let answer = &json["paths"]["/cash-register/purchase"]["post"]["responses"]["201"];
    let token = pattern(&answer["headers"]["icash-consistency"]["schema"]);
    // Every read but the probes, the index, the document, the metrics, the catalog (products,
    // prices, branches) read on the primary, and the keys (the admin's list, a key's own
    // `/whoami`) and trail, which must be current everywhere at once.
    let on_the_primary = [
        "/",
        "/health",
        "/livez",
        "/readyz",
        "/openapi.json",
        "/metrics",
        "/cash-register/products",
        "/cash-register/products/{id}/prices",
        "/branches",
        "/admin/keys",
        "/admin/audit",
        "/whoami",
    ];
    let reads: Vec<&String> = json["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, item)| item["get"].is_object() && !on_the_primary.contains(&path.as_str()))
        .map(|(path, _)| path)
        .collect();
    assert_eq!(reads.len(), 9, "{reads:?}");
    for path in reads {
        let read = parameter(
            &json["paths"][path]["get"]["parameters"],
            "icash-consistency",
        );
        assert_eq!(read["in"], "header", "{path}");
        assert_ne!(read["required"], true, "{path}: optional for old clients");
        let accepted = pattern(&read["schema"]);
        // What the server hands out, and what it refuses.
        assert!(accepted.is_match("16/B374D848:731") && token.is_match("16/B374D848:731"));
        for refused in ["", "a b", &"x".repeat(129)] {
            assert!(!accepted.is_match(refused), "{path}: {refused:?}");
        }
    }
}

#[tokio::test]
async fn the_branches_settings_are_declared_as_the_server_checks_them() {
    let (json, _) = served_document().await;
    let put = &json["paths"]["/branches/{id}"]["put"];
    assert!(put["requestBody"]["content"]["application/json"].is_object());
    for status in ["200", "400", "401", "403", "404", "413", "415", "429"] {
        assert!(
            put["responses"][status].is_object(),
            "PUT documents {status}"
        );
    }
    assert_eq!(parameter(&put["parameters"], "id")["schema"]["minimum"], 1);
    assert!(json["paths"]["/branches"]["get"]["responses"]["200"].is_object());
    let request = &json["components"]["schemas"]["BranchRequest"]["properties"];
    let zones: Vec<&str> = request["time_zone"]["enum"]
        .as_array()
        .expect("the zones are listed")
        .iter()
        .map(|zone| zone.as_str().unwrap())
        .collect();
    for zone in [
        "UTC",
        "Asia/Jerusalem",
        "Asia/Kathmandu",
        "America/New_York",
    ] {
        assert!(zones.contains(&zone), "{zone}");
        assert!(zone.parse::<icash_core::TimeZone>().is_ok());
    }
    assert_eq!(zones.len(), icash_core::TimeZone::all().count());
    let name = pattern(&request["name"]);
    for (text, valid) in [
        ("Tel Aviv", true),
        ("  x ", true),
        ("   ", false),
        ("a\u{1d}b", false),
    ] {
        assert_eq!(name.is_match(text), valid, "{text:?}");
        let branch = icash_core::Branch::with_settings(
            icash_core::BranchId::new(1).unwrap(),
            text,
            icash_core::TimeZone::UTC,
            icash_core::DayStart::MIDNIGHT,
        );
        assert_eq!(branch.is_ok(), valid, "{text:?}");
    }
    let start = pattern(&request["day_starts_at"]);
    for (text, valid) in [
        ("04:00", true),
        ("23:59", true),
        ("24:00", false),
        ("4:00", false),
    ] {
        assert_eq!(start.is_match(text), valid, "{text}");
        assert_eq!(
            text.parse::<icash_core::DayStart>().is_ok(),
            valid,
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_lists_declare_their_csv_exports() {
    let (json, _) = served_document().await;
    for path in [
        "/analytics/loyal-customers",
        "/analytics/top-products",
        "/cash-register/customers",
    ] {
        let operation = &json["paths"][path]["get"];
        let content = &operation["responses"]["200"]["content"];
        assert!(
            content["application/json"].is_object(),
            "{path} answers JSON"
        );
        assert!(content["text/csv"].is_object(), "{path} answers CSV");
        let format = parameter(&operation["parameters"], "format");
        let format = pattern(&format["schema"]);
        assert!(format.is_match("csv") && format.is_match("json"), "{path}");
        assert!(!format.is_match("xml"), "{path}");
    }
}
