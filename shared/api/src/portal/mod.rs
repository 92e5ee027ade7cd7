//! The customer portal's pages (docs/portal.md): server-rendered HTML on
//! `/p/{token}`, no JavaScript, served by the `portal` function without the
//! JWT authorizer. Every answer carries the security headers of
//! [`secure`]; anything but a current link is one 404 page.
//!
//! Forms carry a `form_id` and a proof (an HMAC of the link and the form
//! id) that only the rendered page has: a cross-site form cannot forge it
//! (CSRF), and the form id makes a second submit of the same form show the
//! first one's confirmation without writing again.

mod labels;

use crate::parse;
use crate::ApiState;
use app::error::AppError;
use app::usecases::portal::{self, Done, Visit, MAX_PROMISE_DAYS};
use app::usecases::statements;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::history::HistoryType;
use domain::money::Money;
use domain::portal::PaymentUrlTemplate;
use domain::statement::{Statement, StatementLine};
use domain::template::{format_date, format_money};
use domain::validation::{bounded_multiline_text, FieldErrors};
use labels::Labels;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use tracing::Instrument;

/// Forms are small: a body larger than this is refused.
const MAX_FORM_BYTES: usize = 16 * 1024;

const STYLE: &str = "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1a1a1a;background:#f6f7f9}\
main{max-width:46rem;margin:0 auto;padding:1rem 1rem 3rem;overflow-wrap:anywhere}\
h1{font-size:1.5rem;margin:.25rem 0}h2{font-size:1.15rem;margin:2rem 0 .5rem}\
.company{font-weight:600;color:#1f3a5f;margin:0}.muted{color:#4a4f57}\
.summary dl{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}.summary dl div{background:#fff;border:1px solid #d4d8de;border-radius:.5rem;padding:.75rem 1rem;min-width:9rem}\
dt{font-size:.875rem;color:#4a4f57}dd{margin:0;font-size:1.25rem;font-weight:600}.alert{color:#a4161a}\
.note{background:#fff8e1;border-left:4px solid #b7791f;padding:.25rem 1rem}\
.table{overflow-x:auto;position:relative}table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.5rem;border-bottom:1px solid #d4d8de}.num{text-align:right}\
.buttons{display:flex;flex-wrap:wrap;gap:.75rem}\
.button,button{display:inline-block;padding:.6rem 1rem;border-radius:.4rem;border:1px solid #1f3a5f;background:#fff;color:#1f3a5f;font:inherit;text-decoration:none;cursor:pointer}\
.primary,button{background:#1f3a5f;color:#fff}\
a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #b7791f;outline-offset:2px}\
form{background:#fff;border:1px solid #d4d8de;border-radius:.5rem;padding:1rem;display:grid;gap:.4rem;max-width:30rem}\
label{font-weight:600}input,select,textarea{font:inherit;padding:.5rem;border:1px solid #6b7280;border-radius:.3rem}\
.problems{border:2px solid #a4161a;padding:0 1rem;background:#fff}\
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}";

/// The one stylesheet, allowed by its hash and nothing else.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

/// The portal's routes; everything else under it is the 404 page.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/p/{token}", get(page))
        .route("/p/{token}/statement.pdf", get(statement_pdf))
        .route("/p/{token}/invoices/{invoice_id}/pdf", get(invoice_pdf))
        .route("/p/{token}/pay", get(pay))
        .route("/p/{token}/promise", post(promise))
        .route("/p/{token}/dispute", post(dispute))
        .fallback(|| async { not_found() })
        .layer(axum::middleware::map_response(secure))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(state),
            deadline,
        ))
        .with_state(())
}

/// Security headers on every portal answer (docs/portal.md).
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&CONTENT_SECURITY_POLICY) {
        headers.insert(http::header::CONTENT_SECURITY_POLICY, policy);
    }
    for (name, value) in [
        (http::header::CACHE_CONTROL, "no-store"),
        (http::header::REFERRER_POLICY, "no-referrer"),
        (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (http::header::X_FRAME_OPTIONS, "DENY"),
        (
            http::header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A span per request (never the token: the route is logged, not the
/// path) and the API's deadline, so a stalled dependency is a 503 page.
async fn deadline(
    State(state): State<Arc<ApiState>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let span = tracing::info_span!("portal", route = %route, status = tracing::field::Empty);
    request.extensions_mut().insert(Shared(state.clone()));
    async move {
        let response = match tokio::time::timeout(state.request_deadline, next.run(request)).await {
            Ok(response) => response,
            Err(_) => unavailable(),
        };
        tracing::Span::current().record("status", response.status().as_u16());
        tracing::info!("portal request done");
        response
    }
    .instrument(span)
    .await
}

/// The API's state, handed to the handlers by [`deadline`].
#[derive(Clone)]
struct Shared(Arc<ApiState>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Shared {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Shared>()
            .cloned()
            .ok_or_else(unavailable)
    }
}

// ----------------------------------------------------------------- pages

struct Form {
    form_id: String,
    proof: String,
}

struct LineView {
    invoice_id: String,
    number: String,
    installment: Option<String>,
    issued: String,
    due: String,
    balance: String,
    status: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "portal/page.html")]
struct PageTemplate<'a> {
    l: &'static Labels,
    style: &'static str,
    company: &'a str,
    customer_name: &'a str,
    customer_number: &'a str,
    currency: &'static str,
    total_due: String,
    overdue: String,
    has_overdue: bool,
    credit: Option<String>,
    active_promise: Option<String>,
    note: Option<&'a str>,
    base: String,
    lines: Vec<LineView>,
    disputable: Vec<(String, String)>,
    problems: Vec<String>,
    promise_form: Form,
    dispute_form: Form,
    amount: String,
    promised_date: String,
    today: String,
    latest_date: String,
}

#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessageTemplate<'a> {
    l: &'static Labels,
    style: &'static str,
    company: Option<&'a str>,
    heading: &'a str,
    paragraphs: Vec<String>,
    back: Option<String>,
}

fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => (
            status,
            [(http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(error = %error, "portal page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "").into_response()
        }
    }
}

fn message(
    status: StatusCode,
    l: &'static Labels,
    company: Option<&str>,
    heading: &str,
    paragraphs: Vec<String>,
    back: Option<String>,
) -> Response {
    let page = MessageTemplate {
        l,
        style: STYLE,
        company,
        heading,
        paragraphs,
        back,
    };
    html(status, page.render())
}

/// One page for every token that is not a current link.
fn not_found() -> Response {
    let l = &labels::EN;
    message(
        StatusCode::NOT_FOUND,
        l,
        None,
        l.not_found_title,
        vec![l.not_found_body.to_string()],
        None,
    )
}

fn unavailable() -> Response {
    let mut response = message(
        StatusCode::SERVICE_UNAVAILABLE,
        &labels::EN,
        None,
        "Please try again in a moment",
        vec!["We could not show this page just now.".into()],
        None,
    );
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

fn failed(error: AppError) -> Response {
    match error {
        AppError::NotFound => not_found(),
        AppError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "portal dependency unavailable");
            unavailable()
        }
        other => {
            tracing::error!(error = %other, "portal request failed");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                &labels::EN,
                None,
                "Something went wrong",
                vec!["Please try again later.".into()],
                None,
            )
        }
    }
}

fn now(shared: &Shared) -> DateTime<Utc> {
    shared.0.context.clock.now()
}

async fn visit(shared: &Shared, token: &str) -> Result<Visit, Response> {
    match portal::open(&shared.0.context, token, now(shared)).await {
        Ok(Some(visit)) => Ok(visit),
        Ok(None) => Err(not_found()),
        Err(error) => Err(failed(error)),
    }
}

fn company(visit: &Visit) -> &str {
    visit.settings.company_name.as_deref().unwrap_or_default()
}

fn language(visit: &Visit) -> Option<&str> {
    visit.customer.customer.language.as_deref()
}

fn base(visit: &Visit) -> String {
    // The page's own path: links and forms stay on this origin.
    visit
        .url
        .find("/p/")
        .map_or_else(|| visit.url.clone(), |at| visit.url[at..].to_string())
}

fn new_form(shared: &Shared, visit: &Visit) -> Form {
    let form_id = shared.0.context.ids.new_id(now(shared));
    let proof = visit
        .secret(&shared.0.context)
        .map(|secret| secret.form_proof(&visit.token_hash, &form_id))
        .unwrap_or_default();
    Form { form_id, proof }
}

/// What the promise form shows: the values sent back after a problem,
/// otherwise the total due and today.
struct PromiseValues {
    amount: String,
    promised_date: String,
}

fn render_page(
    shared: &Shared,
    visit: &Visit,
    status: StatusCode,
    problems: Vec<String>,
    values: Option<PromiseValues>,
) -> Response {
    let customer = &visit.customer.customer;
    let lang = language(visit);
    let l = Labels::of(lang);
    let statement = match Statement::of(customer, visit.today) {
        Ok(statement) => statement,
        Err(error) => return failed(AppError::internal(error)),
    };
    let show = |amount| format_money(statement.money(amount), lang);
    let aging = &statement.aging;
    let overdue = aging.d1_30 + aging.d31_60 + aging.d61_90 + aging.over_90;
    let lines: Vec<LineView> = statement
        .items
        .iter()
        .map(|line| line_view(line, l, lang, &show))
        .collect();
    let mut disputable: Vec<(String, String)> = Vec::new();
    for line in &statement.items {
        if !disputable.iter().any(|(id, _)| *id == line.invoice_id) {
            disputable.push((line.invoice_id.clone(), line.number.clone()));
        }
    }
    let active_promise = customer.active_promise.as_ref().map(|promise| {
        format!(
            "{} ({})",
            format_money(
                Money {
                    amount: promise.amount,
                    currency: promise.currency
                },
                lang
            ),
            format_date(promise.promised_date, lang)
        )
    });
    let latest = visit
        .today
        .checked_add_days(chrono::Days::new(MAX_PROMISE_DAYS))
        .unwrap_or(visit.today);
    let values = values.unwrap_or_else(|| PromiseValues {
        amount: statement
            .total_due
            .max(rust_decimal::Decimal::ZERO)
            .to_string(),
        promised_date: visit.today.to_string(),
    });
    let page = PageTemplate {
        l,
        style: STYLE,
        company: company(visit),
        customer_name: &customer.name,
        customer_number: &customer.number,
        currency: statement.currency.code(),
        total_due: show(statement.total_due),
        overdue: show(overdue),
        has_overdue: overdue > rust_decimal::Decimal::ZERO,
        credit: (statement.credit > rust_decimal::Decimal::ZERO).then(|| show(statement.credit)),
        active_promise,
        note: customer.portal_note.as_deref(),
        base: base(visit),
        lines,
        disputable,
        problems,
        promise_form: new_form(shared, visit),
        dispute_form: new_form(shared, visit),
        amount: values.amount,
        promised_date: values.promised_date,
        today: visit.today.to_string(),
        latest_date: latest.to_string(),
    };
    html(status, page.render())
}

fn line_view(
    line: &StatementLine,
    l: &Labels,
    lang: Option<&str>,
    show: &dyn Fn(rust_decimal::Decimal) -> String,
) -> LineView {
    let disputed = line.collection_status == domain::invoice::CollectionStatus::Disputed;
    let status = if disputed {
        l.disputed.to_string()
    } else if line.days_overdue == 1 {
        format!("1 {}", l.day_overdue)
    } else if line.days_overdue > 1 {
        format!("{} {}", line.days_overdue, l.days_overdue)
    } else {
        l.not_yet_due.to_string()
    };
    LineView {
        invoice_id: line.invoice_id.clone(),
        number: line.number.clone(),
        installment: line
            .installment
            .map(|i| format!("{} {}/{}", l.installment, i.number, i.of)),
        issued: format_date(line.issue_date, lang),
        due: line
            .due_date
            .map(|d| format_date(d, lang))
            .unwrap_or_default(),
        balance: show(line.balance),
        status,
        overdue: !disputed && line.days_overdue > 0,
    }
}

// -------------------------------------------------------------- handlers

async fn page(shared: Shared, Path(token): Path<String>) -> Response {
    let visit = match visit(&shared, &token).await {
        Ok(visit) => visit,
        Err(response) => return response,
    };
    if let Err(error) = portal::record_view(&shared.0.context, &visit, now(&shared)).await {
        return failed(error);
    }
    render_page(&shared, &visit, StatusCode::OK, Vec::new(), None)
}

async fn statement_pdf(shared: Shared, Path(token): Path<String>) -> Response {
    let visit = match visit(&shared, &token).await {
        Ok(visit) => visit,
        Err(response) => return response,
    };
    let context = &shared.0.context;
    let customer_id = &visit.customer.customer.id;
    let at = now(&shared);
    let pdf = statements::statement_pdf(context, &visit.caller, at, customer_id, None).await;
    download(&shared, &visit, pdf, json!({"document": "statement"})).await
}

async fn invoice_pdf(
    shared: Shared,
    Path((token, invoice_id)): Path<(String, String)>,
) -> Response {
    let visit = match visit(&shared, &token).await {
        Ok(visit) => visit,
        Err(response) => return response,
    };
    let context = &shared.0.context;
    // Only this customer's invoices: anything else is the same 404.
    match app::usecases::invoices::load(context, &visit.caller.tenant, &invoice_id).await {
        Ok(record) if record.invoice.customer_id == visit.customer.customer.id => {}
        Ok(_) | Err(AppError::NotFound) => return not_found(),
        Err(error) => return failed(error),
    }
    let pdf = statements::invoice_pdf(context, &visit.caller, now(&shared), &invoice_id).await;
    download(
        &shared,
        &visit,
        pdf,
        json!({"document": "invoice", "invoice_id": invoice_id}),
    )
    .await
}

async fn download(
    shared: &Shared,
    visit: &Visit,
    pdf: Result<(String, Vec<u8>), AppError>,
    detail: Value,
) -> Response {
    let (filename, bytes) = match pdf {
        Ok(pdf) => pdf,
        Err(error) => return failed(error),
    };
    let summary = format!("Downloaded {filename} from the portal");
    let recorded = portal::record_event(
        &shared.0.context,
        visit,
        HistoryType::PortalDownload,
        summary,
        detail,
        now(shared),
    )
    .await;
    if let Err(error) = recorded {
        return failed(error);
    }
    crate::response::Download {
        content_type: "application/pdf",
        filename,
        bytes,
    }
    .into_response()
}

async fn pay(shared: Shared, Path(token): Path<String>) -> Response {
    let visit = match visit(&shared, &token).await {
        Ok(visit) => visit,
        Err(response) => return response,
    };
    let customer = &visit.customer.customer;
    let statement = match Statement::of(customer, visit.today) {
        Ok(statement) => statement,
        Err(error) => return failed(AppError::internal(error)),
    };
    let due = statement.money(statement.total_due.max(rust_decimal::Decimal::ZERO));
    let target = visit
        .settings
        .payment_url_template
        .as_deref()
        .and_then(|raw| PaymentUrlTemplate::parse(raw).ok())
        .map(|template| template.render(&customer.number, &due));
    let recorded = portal::record_event(
        &shared.0.context,
        &visit,
        HistoryType::PortalPayClicked,
        "Clicked Pay now in the portal".into(),
        json!({"amount": due.amount.to_string(), "currency": due.currency, "redirected": target.is_some()}),
        now(&shared),
    )
    .await;
    if let Err(error) = recorded {
        return failed(error);
    }
    let l = Labels::of(language(&visit));
    match target.and_then(|url| HeaderValue::from_str(&url).ok()) {
        Some(location) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response
                .headers_mut()
                .insert(http::header::LOCATION, location);
            response
        }
        None => {
            let paragraphs = match &visit.settings.payment_instructions {
                Some(text) => text.lines().map(str::to_string).collect(),
                None => vec![l.contact_us_to_pay.to_string()],
            };
            message(
                StatusCode::OK,
                l,
                Some(company(&visit)),
                l.pay_heading,
                paragraphs,
                Some(base(&visit)),
            )
        }
    }
}

/// The page that refuses a form this page did not render, or that came
/// from another site.
fn refused(visit: &Visit) -> Response {
    let l = Labels::of(language(visit));
    message(
        StatusCode::FORBIDDEN,
        l,
        Some(company(visit)),
        l.expired_title,
        vec![l.expired_body.to_string()],
        Some(base(visit)),
    )
}

/// A form post's form id and fields, if its proof shows this page rendered
/// it and it came from this origin.
fn accepted_form(
    shared: &Shared,
    visit: &Visit,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<(String, HashMap<String, String>)> {
    // Browsers say where a form came from; another site's page is refused
    // even before its (unforgeable) proof is checked.
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site != "same-origin" && site != "none");
    if cross_site || body.len() > MAX_FORM_BYTES {
        return None;
    }
    let mut fields: HashMap<String, String> = HashMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        fields
            .entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    let form_id = fields.get("form_id").cloned().unwrap_or_default();
    let proof = fields.get("proof").map(String::as_str).unwrap_or_default();
    let proven = !form_id.is_empty()
        && form_id.len() <= 64
        && visit
            .secret(&shared.0.context)
            .is_some_and(|secret| secret.verify_form_proof(&visit.token_hash, &form_id, proof));
    proven.then_some((form_id, fields))
}

fn confirmation(visit: &Visit, done: &Done) -> Response {
    let lang = language(visit);
    let l = Labels::of(lang);
    let paragraph = match done {
        Done::Promise {
            amount,
            currency,
            promised_date,
        } => {
            let promised = domain::money::Currency::parse(currency)
                .and_then(|currency| Money::parse(amount, currency).ok())
                .map_or_else(|| format!("{amount} {currency}"), |m| format_money(m, lang));
            format!(
                "{} {promised}, {}.",
                l.promise_recorded,
                format_date(*promised_date, lang)
            )
        }
        Done::Dispute { invoice_number } => format!("{} {invoice_number}.", l.dispute_recorded),
    };
    message(
        StatusCode::OK,
        l,
        Some(company(visit)),
        l.thanks,
        vec![paragraph],
        Some(base(visit)),
    )
}

fn problems_of(errors: &FieldErrors, l: &Labels) -> Vec<String> {
    errors
        .iter()
        .map(|(field, problem)| {
            let name = match field.as_str() {
                "amount" => l.amount,
                "promised_date" => l.promised_date,
                "invoice_id" => l.invoice,
                "reason" => l.reason,
                other => other,
            };
            format!("{name}: {problem}")
        })
        .collect()
}

/// A form post's visit, form id and fields; or the answer it already has:
/// the 404 page, the refusal, or (submitted before) the first confirmation.
async fn posted_form(
    shared: &Shared,
    token: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Visit, String, HashMap<String, String>), Response> {
    let visit = visit(shared, token).await?;
    let Some((form_id, fields)) = accepted_form(shared, &visit, headers, body) else {
        return Err(refused(&visit));
    };
    match portal::already_done(&shared.0.context, &visit, &form_id).await {
        Ok(Some(done)) => Err(confirmation(&visit, &done)),
        Ok(None) => Ok((visit, form_id, fields)),
        Err(error) => Err(failed(error)),
    }
}

async fn promise(
    shared: Shared,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (visit, form_id, fields) = match posted_form(&shared, &token, &headers, &body).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let context = &shared.0.context;
    let amount = fields.get("amount").cloned().unwrap_or_default();
    let promised_date = fields.get("promised_date").cloned().unwrap_or_default();
    let mut body = Map::new();
    body.insert("amount".into(), Value::String(amount.trim().to_string()));
    body.insert("promised_date".into(), Value::String(promised_date.clone()));
    let currency = visit.customer.customer.currency;
    let l = Labels::of(language(&visit));
    let kept = || PromiseValues {
        amount: amount.clone(),
        promised_date: promised_date.clone(),
    };
    let outcome = match parse::payments::promise(&body, currency, visit.today) {
        Ok(new) => portal::promise(context, &visit, &form_id, &new, now(&shared)).await,
        Err(errors) => Err(AppError::Validation(errors)),
    };
    match outcome {
        Ok(done) => confirmation(&visit, &done),
        Err(AppError::Validation(errors)) => render_page(
            &shared,
            &visit,
            StatusCode::UNPROCESSABLE_ENTITY,
            problems_of(&errors, l),
            Some(kept()),
        ),
        Err(error) => failed(error),
    }
}

async fn dispute(
    shared: Shared,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (visit, form_id, fields) = match posted_form(&shared, &token, &headers, &body).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let context = &shared.0.context;
    let l = Labels::of(language(&visit));
    let mut errors = FieldErrors::new();
    let raw_reason = fields.get("reason").map(String::as_str).unwrap_or_default();
    let reason = bounded_multiline_text(&mut errors, "reason", raw_reason, 2000);
    let invoice_id = fields
        .get("invoice_id")
        .map(String::as_str)
        .unwrap_or_default();
    let invoice = match portal::open_invoice(context, &visit, invoice_id).await {
        Ok(invoice) => invoice,
        Err(error) => return failed(error),
    };
    if invoice.is_none() {
        errors.add("invoice_id", "choose one of your open invoices");
    }
    let outcome = match (invoice, reason) {
        (Some(invoice), Some(reason)) if errors.is_empty() => {
            portal::dispute(context, &visit, &form_id, invoice, reason, now(&shared)).await
        }
        _ => Err(AppError::Validation(errors)),
    };
    match outcome {
        Ok(done) => confirmation(&visit, &done),
        Err(AppError::Validation(errors)) => render_page(
            &shared,
            &visit,
            StatusCode::UNPROCESSABLE_ENTITY,
            problems_of(&errors, l),
            None,
        ),
        Err(error) => failed(error),
    }
}
