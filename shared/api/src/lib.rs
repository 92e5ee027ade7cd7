//! The HTTP edge: one route table ([`routes!`]) turned into an axum Router
//! served through `lambda_http` (and by the local runner), the edge every
//! request passes ([`edge`]), the handlers (parse the body with [`parse`],
//! call a use case, answer with a view), and the one mapping from errors to
//! responses ([`error`]).
//! The OpenAPI document `openapi.yaml` beside this crate describes it.

pub mod docs;
pub mod edge;
pub mod error;
pub mod extract;
mod handlers;
pub mod idempotency;
mod parse;
pub mod portal;
pub mod response;

pub use error::ApiError;
pub use response::ApiResponse;

use app::context::Context;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    pub context: Context,
    /// The documents bucket (presigned upload and download links).
    pub files: Arc<dyn app::ports::DocumentFiles>,
    /// Answered 503 when a request runs longer (below the function's timeout).
    pub request_deadline: Duration,
}

/// Declares every route once: the Router is built from it, and [`ROUTES`]
/// lists it (for the OpenAPI check and the docs).
macro_rules! routes {
    ($( $path:literal => { $( $method:ident $handler:path ),+ $(,)? } ),+ $(,)?) => {
        /// Every `(method, path)` the API serves, in the route table's order.
        pub const ROUTES: &[(&str, &str)] = &[
            $( $( (stringify!($method), $path), )+ )+
        ];

        fn table() -> Router<Arc<ApiState>> {
            Router::new()
            $( .route($path, routes!(@chain $( $method $handler ),+)) )+
        }
    };
    (@chain $method:ident $handler:path $(, $rest_method:ident $rest_handler:path)*) => {
        routes!(@method $method)($handler) $( .merge(routes!(@method $rest_method)($rest_handler)) )*
    };
    (@method GET) => { axum::routing::get };
    (@method POST) => { axum::routing::post };
    (@method PUT) => { axum::routing::put };
    (@method PATCH) => { axum::routing::patch };
    (@method DELETE) => { axum::routing::delete };
}

routes! {
    "/v1/settings" => { GET handlers::settings::get, PATCH handlers::settings::patch },
    "/v1/customers" => { GET handlers::customers::list, POST handlers::customers::create },
    "/v1/customers/export" => { GET handlers::customers::export },
    "/v1/customers/{id}" => {
        GET handlers::customers::get,
        PATCH handlers::customers::patch,
        DELETE handlers::customers::delete,
    },
    "/v1/customers/{id}/page" => { GET handlers::page::get },
    "/v1/customers/{id}/portal-link" => { POST handlers::customers::rotate_portal_link },
    "/v1/customers/{id}/chasing" => { PUT handlers::chasing::enrol, DELETE handlers::chasing::unenrol },
    "/v1/customers/{id}/chasing/pause" => { POST handlers::chasing::pause },
    "/v1/customers/{id}/chasing/resume" => { POST handlers::chasing::resume },
    "/v1/customers/{id}/chasing/preview" => { GET handlers::chasing::preview },
    "/v1/imports/{kind}" => { POST handlers::imports::create },
    "/v1/templates" => { GET handlers::templates::list, POST handlers::templates::create },
    "/v1/templates/{id}" => {
        GET handlers::templates::get,
        PATCH handlers::templates::patch,
        DELETE handlers::templates::delete,
    },
    "/v1/templates/{id}/preview" => { POST handlers::templates::preview },
    "/v1/cadences" => { GET handlers::cadences::list, POST handlers::cadences::create },
    "/v1/cadences/{id}" => {
        GET handlers::cadences::get,
        PATCH handlers::cadences::patch,
        DELETE handlers::cadences::delete,
    },
    "/v1/cadences/{id}/versions" => { POST handlers::cadences::new_version },
    "/v1/cadences/{id}/migrate" => { POST handlers::cadences::migrate },
    "/v1/invoices" => { GET handlers::invoices::list, POST handlers::invoices::create },
    "/v1/invoices/{id}" => { GET handlers::invoices::get, PATCH handlers::invoices::patch },
    "/v1/invoices/{id}/void" => { POST handlers::invoices::void },
    "/v1/invoices/{id}/pdf" => { GET handlers::statements::invoice_pdf },
    "/v1/customers/{id}/statement" => { GET handlers::statements::get },
    "/v1/customers/{id}/documents" => {
        GET handlers::documents::list,
        POST handlers::documents::create,
    },
    "/v1/customers/{id}/documents/{document_id}" => { GET handlers::documents::get },
    "/v1/payments" => { GET handlers::payments::list, POST handlers::payments::create },
    "/v1/customers/{id}/apply-credit" => { POST handlers::payments::apply_credit },
    "/v1/customers/{id}/adjustments" => { POST handlers::payments::adjust },
    "/v1/customers/{id}/promises" => { GET handlers::payments::promises, POST handlers::payments::promise },
    "/v1/contact-roles" => { GET handlers::contact_roles::list, POST handlers::contact_roles::create },
    "/v1/contact-roles/{id}" => { DELETE handlers::contact_roles::delete },
    "/v1/customer-groups" => { GET handlers::groups::list, POST handlers::groups::create },
    "/v1/customer-groups/{id}" => {
        GET handlers::groups::get,
        PATCH handlers::groups::patch,
        DELETE handlers::groups::delete,
    },
    "/v1/customers/{id}/contacts" => {
        GET handlers::contacts::list,
        POST handlers::contacts::create,
    },
    "/v1/customers/{id}/contacts/{contact_id}" => {
        PATCH handlers::contacts::patch,
        DELETE handlers::contacts::delete,
    },
    // Work routes (tasks, notes, history).
    "/v1/tasks" => { GET handlers::tasks::list, POST handlers::tasks::create },
    "/v1/tasks/{id}" => { GET handlers::tasks::get, PATCH handlers::tasks::patch },
    "/v1/tasks/{id}/complete" => { POST handlers::tasks::complete },
    "/v1/tasks/{id}/reschedule" => { POST handlers::tasks::reschedule },
    "/v1/customers/{id}/notes" => { GET handlers::notes::list, POST handlers::notes::create },
    "/v1/customers/{id}/history" => { GET handlers::history::list },
    // Receivables overview (docs/api.md "Reports").
    "/v1/reports/aging" => { GET handlers::reports::aging },
    "/v1/reports/summary" => { GET handlers::reports::summary },
    "/v1/reports/forecast" => { GET handlers::reports::forecast },
}

/// The API's router: the route table behind the edge, JSON 404 and 405
/// (with `Allow`) for paths and methods the table does not have, and the
/// documentation routes ([`docs::DOC_ROUTES`]) in front of it.
pub fn router(state: ApiState) -> Router {
    let state = Arc::new(state);
    let api = table()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge::edge,
        ))
        .with_state(state);
    // Merged after the edge layer: the documentation needs no token.
    docs::router().merge(api)
}

async fn not_found() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
