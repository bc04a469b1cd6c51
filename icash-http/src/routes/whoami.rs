//! `GET /whoami`: the key a request is made with and what it may do, so that a client (the
//! page at `/ui/`) offers only what the key allows.

use icash_core::{Action, Actor, BranchId, Scope};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::get;
use crate::auth::{Auth, Credentials, credentials};
use crate::context::{context, json, respond};
use crate::dto::{Permissions, WhoAmIBody};
use crate::error::ApiError;

/// The key the request is made with, its role and branch, and what it may do.
#[utoipa::path(get, path = "/whoami", tag = "gateway",
    description = "Anyone: with a key (every role), it names the key and what it may do; without \
                   one, it says only whether the server asks for keys (`auth` is `required`, \
                   nothing allowed), so a client knows to ask for one. With `ICASH_AUTH=off`, \
                   `auth` is `off`, no key is named, and everything is allowed but managing \
                   keys. An unknown or revoked key is a 401.",
    responses((status = 200, description = "The key and what it may do", body = WhoAmIBody)))]
pub(crate) async fn whoami(credentials: Credentials) -> Result<Response, ApiError> {
    if credentials.anonymous() {
        let body = WhoAmIBody {
            auth: "required",
            name: None,
            role: None,
            supermarket_id: None,
            may: Permissions::none(),
        };
        return Ok(json(StatusCode::OK, &body));
    }
    let caller = credentials.caller().await?;
    let body = match caller.actor() {
        None => WhoAmIBody {
            auth: "off",
            name: None,
            role: None,
            supermarket_id: None,
            may: Permissions::open(),
        },
        Some(actor) => WhoAmIBody {
            auth: "required",
            name: Some(actor.name().to_string()),
            role: Some(actor.role().into()),
            supermarket_id: actor.scope().branch().map(BranchId::get),
            may: permissions(actor),
        },
    };
    Ok(json(StatusCode::OK, &body))
}

/// What `actor` may do at its own branches (at any branch, for a key of every branch), as
/// [`icash_core::access`] decides.
fn permissions(actor: &Actor) -> Permissions {
    // A key of every branch covers each of them alike: any branch stands for all.
    let branch = match actor.scope() {
        Scope::Branch(branch) => branch,
        Scope::AllBranches => BranchId::new(1).expect("1 is a branch id"),
    };
    let may = |action: Action| actor.may(&action).is_ok();
    Permissions {
        record_purchases: may(Action::RecordPurchase(branch)),
        read_receipts: may(Action::ReadReceipt(branch)),
        refund: may(Action::RefundPurchase(branch)),
        void: may(Action::VoidPurchase(branch)),
        change_prices: may(Action::ChangePrices(None)),
        read_analytics: may(Action::ReadAnalytics(Some(branch))),
        read_chain_analytics: may(Action::ReadAnalytics(None)),
        list_customers: may(Action::ListCustomers),
        manage_keys: may(Action::ManageKeys),
    }
}

/// `GET /whoami`.
pub(crate) fn filter(auth: Auth) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("whoami")
        .and(get())
        .and(context())
        .and(credentials(auth))
        .and_then(|ctx, credentials| respond(ctx, whoami(credentials)))
}
