//! The owner's analytics, each with the optional filter (branch; a period of instants or of
//! business dates).

use icash_core::analytics::LoyalQuery;
use icash_core::period::{DatedFilter, Period};
use icash_core::series::sales_series;
use icash_core::{Action, BusinessDates, period};
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::cash_register::set_next_page;
use super::{get, raw_query, with_store};
use crate::SharedStore;
use crate::auth::{Auth, Credentials, credentials};
use crate::context::{RequestContext, context, json, json_chunks, respond};
use crate::dto::{
    DailyReportBody, ErrorBody, LoyalCustomersBody, SalesPointBody, StatisticsBody, TopProductBody,
    TopProductsBody, UniqueCustomersBody,
};
use crate::error::ApiError;
use crate::export::{self, Format, FormatParams};
use crate::query::{
    FilterParams, LoyalParams, PageParams, RankParams, ReportLines, ReportParams, SeriesParams,
    encode_loyal_cursor, parse,
};

/// How many distinct customers made a purchase.
#[utoipa::path(get, path = "/analytics/unique-customers", tag = "analytics", params(FilterParams),
    responses((status = 200, description = "Distinct customers", body = UniqueCustomersBody)))]
pub(crate) async fn unique_customers(
    store: SharedStore,
    credentials: Credentials,
    query: String,
) -> Result<Response, ApiError> {
    let caller = credentials.caller().await?;
    let period = parse::<FilterParams>(&query)?.period()?;
    caller.may(Action::ReadAnalytics(period.branch()))?;
    let unique_customers = period::unique_customers(store.as_ref(), &period).await?;
    Ok(json(
        StatusCode::OK,
        &UniqueCustomersBody { unique_customers },
    ))
}

/// The customers with at least 3 purchases, most purchases first, then most spent.
#[utoipa::path(get, path = "/analytics/loyal-customers", tag = "analytics",
    params(FilterParams, LoyalParams, PageParams, FormatParams,
        ("cursor" = Option<String>, Query, pattern = r"^[1-9][0-9]{0,17}_(0|[1-9][0-9]{0,17})\.[0-9]{2}_[0-9a-f]{32}$",
            description = "Where to start: the `next_cursor` (or the `Link` header's `cursor`) of the previous page")),
    responses((status = 200, description = "Loyal customers; when paging, `next_cursor` and the `Link` header give the next page. \
        As CSV (`format=csv` or `Accept: text/csv`): a header row, then user_id, purchase_count, total_spent (two decimals), first_purchase, last_purchase (ISO 8601)",
        content((LoyalCustomersBody = "application/json"), (String = "text/csv")),
        links(("next_page" = (operation_id = "loyal_customers",
            parameters(("cursor" = "$response.body#/next_cursor"), ("limit" = "$request.query.limit")),
            description = "The next page (with the request's other parameters), when `next_cursor` is present"))))))]
pub(crate) async fn loyal_customers(
    store: SharedStore,
    credentials: Credentials,
    path: String,
    query: String,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = credentials.caller().await?;
    let format = Format::asked(&parse::<FormatParams>(&query)?, &headers)?;
    let page: PageParams = parse(&query)?;
    let period = parse::<FilterParams>(&query)?.period()?;
    let loyal_query = LoyalQuery {
        min_purchases: parse::<LoyalParams>(&query)?.min_purchases()?,
        filter: icash_core::Filter::ALL,
        limit: page.limit()?,
        after: page.loyal_cursor()?,
    };
    caller.may(Action::ReadAnalytics(period.branch()))?;
    if loyal_query.limit.is_none() {
        // The whole list can be as long as the customers are many: sent as it is read.
        let loyal = period::loyal_customers_stream(store.as_ref(), &period, &loyal_query).await?;
        return Ok(match format {
            Format::Json => json_chunks(LoyalCustomersBody::chunks(loyal)),
            Format::Csv => export::loyal_stream(loyal, &file("loyal-customers", &period)),
        });
    }
    let loyal = period::loyal_customers(store.as_ref(), &period, &loyal_query).await?;
    let next_cursor = match (loyal_query.limit, loyal.customers.last()) {
        (Some(limit), Some(last)) if loyal.customers.len() == limit as usize => {
            Some(encode_loyal_cursor(&last.cursor()))
        }
        _ => None,
    };
    let mut response = match format {
        Format::Json => json(
            StatusCode::OK,
            &LoyalCustomersBody::new(&loyal, next_cursor.clone()),
        ),
        Format::Csv => export::csv_response(
            export::loyal_page(&loyal.customers),
            &file("loyal-customers", &period),
        ),
    };
    if let Some(cursor) = next_cursor {
        set_next_page(&mut response, &path, &query, &cursor);
    }
    Ok(response)
}

/// The best sellers: every product ranked 3 or better, with competition ranking (1, 1, 3).
#[utoipa::path(get, path = "/analytics/top-products", tag = "analytics", params(FilterParams, RankParams, FormatParams),
    responses((status = 200, description = "Best sellers. As CSV (`format=csv` or `Accept: text/csv`): a header row, then rank, product_id, product_name, units_sold",
        content((TopProductsBody = "application/json"), (String = "text/csv")))))]
pub(crate) async fn top_products(
    store: SharedStore,
    credentials: Credentials,
    query: String,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = credentials.caller().await?;
    let format = Format::asked(&parse::<FormatParams>(&query)?, &headers)?;
    let period = parse::<FilterParams>(&query)?.period()?;
    caller.may(Action::ReadAnalytics(period.branch()))?;
    let max_rank = parse::<RankParams>(&query)?.max_rank()?;
    let ranked = period::top_products(store.as_ref(), &period, max_rank).await?;
    if format == Format::Csv {
        return Ok(export::csv_response(
            export::top_products(&ranked),
            &file("top-products", &period),
        ));
    }
    Ok(json(
        StatusCode::OK,
        &TopProductsBody {
            top_products: ranked.iter().map(TopProductBody::from).collect(),
        },
    ))
}

/// Purchases, revenue and customers, in all and per branch.
#[utoipa::path(get, path = "/analytics/statistics", tag = "analytics", params(FilterParams),
    responses((status = 200, description = "The chain's figures", body = StatisticsBody)))]
pub(crate) async fn statistics(
    store: SharedStore,
    credentials: Credentials,
    query: String,
) -> Result<Response, ApiError> {
    let caller = credentials.caller().await?;
    let period = parse::<FilterParams>(&query)?.period()?;
    caller.may(Action::ReadAnalytics(period.branch()))?;
    let statistics = period::statistics(store.as_ref(), &period).await?;
    Ok(json(StatusCode::OK, &StatisticsBody::from(&statistics)))
}

/// Sales over time: a branch's or the chain's purchases, revenue, net revenue and units per hour,
/// day, week or month of its business dates, every period listed.
#[utoipa::path(get, path = "/analytics/sales", tag = "analytics", params(SeriesParams, FormatParams),
    responses((status = 200, description = "A period per entry, in order, those that sold nothing as zeros; each \
        branch's periods in its own zone (weeks from Monday, ISO 8601), those of the chain with the same local start \
        added up. Hours start with the business day and are labelled with their local start; on the day the clocks go \
        back, the hour they repeat is one entry holding both. As CSV (`format=csv` or `Accept: text/csv`): a header row, \
        then period_start, purchases, revenue, net_revenue (two decimals), units",
        content((Vec<SalesPointBody> = "application/json"), (String = "text/csv")))))]
pub(crate) async fn sales(
    store: SharedStore,
    credentials: Credentials,
    query: String,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = credentials.caller().await?;
    let format = Format::asked(&parse::<FormatParams>(&query)?, &headers)?;
    let series = parse::<SeriesParams>(&query)?.query()?;
    caller.may(Action::ReadAnalytics(series.branch()))?;
    let points = sales_series(store.as_ref(), &series).await?;
    if format == Format::Csv {
        let period = Period::Dates(DatedFilter {
            branch: series.branch(),
            dates: series.dates(),
        });
        let what = format!("sales-by-{}", series.granularity());
        return Ok(export::csv_response(
            export::series(&points),
            &file(&what, &period),
        ));
    }
    let body: Vec<SalesPointBody> = points.iter().map(SalesPointBody::from).collect();
    Ok(json(StatusCode::OK, &body))
}

/// The report of a branch's business day: its purchases, voids, refunds, gross and net revenue,
/// units per product, per hour and per till, and its first and last sale.
#[utoipa::path(get, path = "/analytics/daily-report", tag = "analytics", params(ReportParams, FormatParams),
    responses(
        (status = 200, description = "The day's report. As CSV (`format=csv` or `Accept: text/csv`), the lines that \
            `lines` names: products (product_id, product_name, units_sold, units_returned), hours (starts_at with its \
            offset, purchases, revenue, units, refunds, refunded, net_revenue) or tills (recorded_by, empty without a \
            key, purchases, revenue, units, first_sale, last_sale); money to two decimals",
            content((DailyReportBody = "application/json"), (String = "text/csv"))),
        (status = 404, description = "The chain has no such branch", body = ErrorBody)))]
pub(crate) async fn daily_report(
    store: SharedStore,
    credentials: Credentials,
    query: String,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = credentials.caller().await?;
    let format = Format::asked(&parse::<FormatParams>(&query)?, &headers)?;
    let params = parse::<ReportParams>(&query)?;
    let (branch, date) = params.day()?;
    let lines = params.lines()?;
    caller.may(Action::ReadAnalytics(Some(branch)))?;
    let report = icash_core::daily_report::daily_report(store.as_ref(), branch, date).await?;
    if format == Format::Csv {
        let period = Period::Dates(DatedFilter {
            branch: Some(branch),
            dates: BusinessDates::day(date),
        });
        let what = match lines {
            ReportLines::Products => "daily-report-products",
            ReportLines::Hours => "daily-report-hours",
            ReportLines::Tills => "daily-report-tills",
        };
        return Ok(export::csv_response(
            export::report_lines(&report, lines),
            &file(what, &period),
        ));
    }
    Ok(json(StatusCode::OK, &DailyReportBody::from(&report)))
}

/// The analytics filters.
pub(crate) fn filters(
    store: SharedStore,
    auth: Auth,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let base = move |name: &'static str| {
        warp::path("analytics")
            .and(warp::path(name))
            .and(warp::path::end())
            .and(get())
            .and(context())
            .and(raw_query())
            .and(with_store(store.clone()))
            .and(credentials(auth.clone()))
            .and(warp::header::headers_cloned())
    };
    let unique = base("unique-customers").and_then(|ctx, query, store, credentials, _| {
        respond(ctx, unique_customers(store, credentials, query))
    });
    let loyal = base("loyal-customers").and_then(
        |ctx: RequestContext, query, store, credentials, headers| {
            let path = ctx.path().to_owned();
            respond(
                ctx,
                loyal_customers(store, credentials, path, query, headers),
            )
        },
    );
    let top = base("top-products").and_then(|ctx, query, store, credentials, headers| {
        respond(ctx, top_products(store, credentials, query, headers))
    });
    let statistics = base("statistics").and_then(|ctx, query, store, credentials, _| {
        respond(ctx, statistics(store, credentials, query))
    });
    let sales = base("sales").and_then(|ctx, query, store, credentials, headers| {
        respond(ctx, sales(store, credentials, query, headers))
    });
    let report = base("daily-report").and_then(|ctx, query, store, credentials, headers| {
        respond(ctx, daily_report(store, credentials, query, headers))
    });
    unique
        .or(loyal)
        .unify()
        .or(top)
        .unify()
        .or(statistics)
        .unify()
        .or(sales)
        .unify()
        .or(report)
        .unify()
}

/// The file name of an export of `what` over `period`.
fn file(what: &str, period: &Period) -> String {
    export::file_name(what, Some(period), chrono::Utc::now())
}
