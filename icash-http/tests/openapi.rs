//! The OpenAPI document served at `/openapi.json` parses back and describes every endpoint the
//! index lists, with its parameters, bodies and errors.

use std::sync::Arc;

use utoipa::openapi::OpenApi;

async fn served_document() -> (OpenApi, serde_json::Value) {
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
    let document: OpenApi =
        serde_json::from_slice(response.body()).expect("the document parses as OpenAPI");
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
    let (document, index) = served_document().await;
    let json = serde_json::to_value(&document).unwrap();
    assert!(
        json["openapi"].as_str().unwrap().starts_with("3."),
        "OpenAPI 3"
    );
    let mut endpoints = Vec::new();
    index_endpoints(&index["endpoints"], &mut endpoints);
    endpoints.push(("get".into(), "/".into()));
    assert_eq!(endpoints.len(), 12);
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
    assert_eq!(
        json["paths"].as_object().unwrap().len(),
        endpoints.len(),
        "and nothing else"
    );
}

#[tokio::test]
async fn parameters_bodies_and_errors_are_described() {
    let (document, _) = served_document().await;
    let json = serde_json::to_value(&document).unwrap();
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
