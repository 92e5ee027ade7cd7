//! The customer portal over HTTP through the local runner: the link from a
//! chase email, the page and its headers, promises, disputes, downloads,
//! Pay now, double submits, CSRF, rotation and other customers' tokens.
//! (The same flows in a real browser: `portal_browser.rs`.)

use integration_tests::TestStack;
use serde_json::json;

pub struct Chased {
    pub customer_id: String,
    pub email: String,
    pub invoice_ids: Vec<String>,
    /// The portal link as the chase email carried it.
    pub link: String,
}

/// A customer named `<script>alert(1)</script>` with two invoices, enrolled
/// on a cadence whose first email (a day after the first due date) carries
/// the portal button; ticked until that email went out.
pub async fn chased_customer(stack: &TestStack, owner: &str, tag: &str) -> Chased {
    stack.set_clock("2026-03-01T07:00:00Z").await;
    let settings = stack
        .patch(
            "/v1/settings",
            owner,
            0,
            &json!({"company_name": "Acme Ltd", "sender_email": "ar@example.com"}),
        )
        .await;
    assert_eq!(settings.status, 200, "{:?}", settings.body);
    let customer_id = stack
        .create(
            "/v1/customers",
            owner,
            &json!({"number": format!("P-{tag}"), "name": "<script>alert(1)</script>", "currency": "EUR",
                    "portal_note": "Our bank details changed on 1 March: IBAN FR76 3000 6000 0112 3456 7890 189."}),
        )
        .await;
    let email = format!(
        "ap-{}@debtor.example",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let contact = stack
        .post(
            &format!("/v1/customers/{customer_id}/contacts"),
            owner,
            &json!({"name": "Dana", "email": email}),
        )
        .await;
    assert_eq!(contact.status, 201, "{:?}", contact.body);
    let mut invoice_ids = Vec::new();
    for (number, due, total) in [("1", "2026-03-10", "300.00"), ("2", "2026-03-31", "200.00")] {
        invoice_ids.push(
            stack
                .create(
                    "/v1/invoices",
                    owner,
                    &json!({"customer_id": customer_id, "number": format!("P-{tag}-{number}"), "currency": "EUR",
                            "issue_date": "2026-03-01", "due_date": due, "total": total}),
                )
                .await,
        );
    }
    let template = stack
        .create("/v1/templates", owner, &json!({"name": format!("Reminder {tag}"), "channel": "email",
            "subject": "{{account_balance}} overdue", "body": "<p>Please pay {{account_balance}}.</p>{{{customer_portal_button}}}"}))
        .await;
    let cadence = stack
        .create(
            "/v1/cadences",
            owner,
            &json!({"name": format!("Portal {tag}"), "run_at": "08:00", "steps": [
                {"trigger": "past_due_age", "days": 1, "action": "email", "template_id": template},
                {"trigger": "past_due_age", "days": 10, "action": "email", "template_id": template}]}),
        )
        .await;
    stack.enrol(owner, &customer_id, &cadence).await;
    stack
        .tick_days(
            "2026-03-01".parse().unwrap(),
            "2026-03-11".parse().unwrap(),
            8,
            0,
        )
        .await;
    let emails = stack.emails_to(&email).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let body = emails[0]["body"].as_str().unwrap();
    let link = link_in(body, &stack.url);
    Chased {
        customer_id,
        email,
        invoice_ids,
        link,
    }
}

/// The portal link in a chase email's HTML.
fn link_in(html: &str, base: &str) -> String {
    let start = html
        .find(&format!("{base}/p/"))
        .unwrap_or_else(|| panic!("no portal link under {base} in {html}"));
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_string()
}

/// A customer's `portal_url` as the API shows it.
pub async fn portal_url_of(stack: &TestStack, token: &str, customer_id: &str) -> String {
    stack
        .get(&format!("/v1/customers/{customer_id}"), token)
        .await
        .body["portal_url"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The customer's active promise is due on `promised`, and ticking every day
/// until `until` sends no chase beyond the one that carried the link.
pub async fn chasing_waits_for_the_promise(
    stack: &TestStack,
    owner: &str,
    chased: &Chased,
    promised: &str,
    until: &str,
) {
    let page = stack
        .get(&format!("/v1/customers/{}/page", chased.customer_id), owner)
        .await;
    assert_eq!(
        page.body["chasing"]["active_promise"]["promised_date"],
        promised
    );
    stack
        .tick_days("2026-03-12".parse().unwrap(), until.parse().unwrap(), 8, 0)
        .await;
    assert_eq!(stack.emails_to(&chased.email).await.len(), 1);
}

pub fn browser_like() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

pub async fn open(url: &str) -> Page {
    let response = browser_like().get(url).send().await.unwrap();
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        html: response.text().await.unwrap(),
    }
}

/// The hidden `form_id` and `proof` of the form with this id.
pub fn form_of(html: &str, form: &str) -> (String, String) {
    let at = html
        .find(&format!("id=\"{form}\""))
        .unwrap_or_else(|| panic!("no {form} in {html}"));
    let value = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = at + html[at..].find(&marker).unwrap() + marker.len();
        let end = html[start..].find('"').unwrap();
        html[start..start + end].to_string()
    };
    (value("form_id"), value("proof"))
}

pub async fn submit(url: &str, fields: &[(&str, &str)]) -> Page {
    let response = browser_like()
        .post(url)
        .header("sec-fetch-site", "same-origin")
        .form(fields)
        .send()
        .await
        .unwrap();
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        html: response.text().await.unwrap(),
    }
}

pub fn assert_secure(page: &Page) {
    let header = |name: &str| {
        page.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name}"))
            .to_string()
    };
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "style-src 'sha256-",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{csp}"
    );
}

async fn history_types(stack: &TestStack, owner: &str, customer_id: &str) -> Vec<(String, String)> {
    stack
        .history(owner, customer_id)
        .await
        .iter()
        .map(|h| {
            (
                h["type"].as_str().unwrap().to_string(),
                h["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn count(types: &[(String, String)], kind: &str) -> usize {
    types.iter().filter(|(t, _)| t == kind).count()
}

#[tokio::test]
async fn the_portal_link_from_a_chase_shows_the_customer_and_records_promises_and_disputes_once() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let chased = chased_customer(&stack, &owner, "http").await;
    let customer_path = format!("/v1/customers/{}", chased.customer_id);

    // The link in the email is the one on the customer.
    let customer = stack.get(&customer_path, &owner).await;
    assert_eq!(customer.body["portal_url"], chased.link.as_str());

    let page = open(&chased.link).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert_secure(&page);
    assert!(page.html.contains("Acme Ltd"));
    // Customer data is text, never markup.
    assert!(
        page.html
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{}",
        page.html
    );
    assert!(!page.html.contains("<script>"), "{}", page.html);
    assert!(page.html.contains("€500.00"), "total due: {}", page.html);
    assert!(page.html.contains("1 day overdue"), "{}", page.html);
    assert!(page.html.contains("IBAN FR76"), "the portal note");
    // A second view the same day records nothing more. A view reads the
    // token lookup and the customer (settings are cached) and tries the
    // day's visit, a conditional write that fails after the first.
    stack.reset_aws_requests();
    assert_eq!(open(&chased.link).await.status, 200);
    assert_eq!(
        stack.aws_requests(),
        [
            ("DynamoDB.GetItem".to_string(), 2),
            ("DynamoDB.TransactWriteItems".to_string(), 1)
        ]
        .into()
    );
    let types = history_types(&stack, &owner, &chased.customer_id).await;
    assert_eq!(count(&types, "portal_viewed"), 1, "{types:?}");
    let page_view = stack.get(&format!("{customer_path}/page"), &owner).await;
    assert_eq!(page_view.body["portal"]["url"], chased.link.as_str());
    assert!(
        page_view.body["portal"]["last_visit_at"].is_string(),
        "{:?}",
        page_view.body["portal"]
    );

    // A promise; the same form submitted twice is one promise.
    let (form_id, proof) = form_of(&page.html, "promise-form");
    let fields = [
        ("form_id", form_id.as_str()),
        ("proof", proof.as_str()),
        ("amount", "300.00"),
        ("promised_date", "2026-03-25"),
    ];
    let first = submit(&format!("{}/promise", chased.link), &fields).await;
    assert_eq!(first.status, 200, "{}", first.html);
    assert_secure(&first);
    assert!(
        first.html.contains("Your promise to pay is recorded"),
        "{}",
        first.html
    );
    let again = submit(&format!("{}/promise", chased.link), &fields).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.html, first.html);
    let promises = stack
        .get(&format!("{customer_path}/promises"), &owner)
        .await;
    assert_eq!(
        promises.body["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        promises.body
    );
    assert_eq!(promises.body["items"][0]["created_by"], "customer");
    // Chasing waits for the promise: the day-10 step (2026-03-20) is not sent
    // before the promised date plus grace (3 days).
    chasing_waits_for_the_promise(&stack, &owner, &chased, "2026-03-25", "2026-03-28").await;

    // A dispute: the invoice leaves the chased balance, a task is opened.
    let page = open(&chased.link).await;
    let (form_id, proof) = form_of(&page.html, "dispute-form");
    let disputed = submit(
        &format!("{}/dispute", chased.link),
        &[
            ("form_id", &form_id),
            ("proof", &proof),
            ("invoice_id", &chased.invoice_ids[1]),
            ("reason", "We never received these goods."),
        ],
    )
    .await;
    assert_eq!(disputed.status, 200, "{}", disputed.html);
    assert!(disputed.html.contains("P-http-2"), "{}", disputed.html);
    let invoice = stack
        .get(&format!("/v1/invoices/{}", chased.invoice_ids[1]), &owner)
        .await;
    assert_eq!(invoice.body["collection_status"], "disputed");
    assert_eq!(
        invoice.body["dispute_reason"],
        "We never received these goods."
    );
    let tasks = stack
        .get(
            &format!("/v1/tasks?assignee=all&customer_id={}", chased.customer_id),
            &owner,
        )
        .await;
    let task = tasks.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "validate_invoice")
        .unwrap_or_else(|| panic!("{:?}", tasks.body));
    assert_eq!(task["invoice_ids"], json!([chased.invoice_ids[1]]));
    let types = history_types(&stack, &owner, &chased.customer_id).await;
    for kind in ["portal_promise", "portal_dispute"] {
        assert_eq!(count(&types, kind), 1, "{kind}: {types:?}");
    }
    assert!(types
        .iter()
        .filter(|(t, _)| t.starts_with("portal_"))
        .all(|(_, actor)| actor == "customer"));

    // Downloads: the statement and the customer's own invoices only.
    let statement = browser_like()
        .get(format!("{}/statement.pdf", chased.link))
        .send()
        .await
        .unwrap();
    assert_eq!(statement.status(), 200);
    assert_eq!(statement.headers()["content-type"], "application/pdf");
    assert!(statement.bytes().await.unwrap().starts_with(b"%PDF"));
    let invoice_pdf = browser_like()
        .get(format!(
            "{}/invoices/{}/pdf",
            chased.link, chased.invoice_ids[0]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(invoice_pdf.status(), 200);
    let other_customer = stack.create_customer(&owner, "P-OTHER").await;
    let other_invoice = stack
        .create("/v1/invoices", &owner, &json!({"customer_id": other_customer, "number": "O-1", "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "10.00"}))
        .await;
    let theirs = open(&format!("{}/invoices/{other_invoice}/pdf", chased.link)).await;
    assert_eq!(theirs.status, 404);
    let types = history_types(&stack, &owner, &chased.customer_id).await;
    assert_eq!(count(&types, "portal_download"), 2, "{types:?}");
}

#[tokio::test]
async fn pay_now_redirects_to_the_payment_url_or_shows_the_instructions() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let chased = chased_customer(&stack, &owner, "pay").await;
    // Set before the portal first reads the settings (each process keeps
    // them for up to 30 s).
    let patched = stack
        .patch(
            "/v1/settings",
            &owner,
            1,
            &json!({"payment_url_template": "https://pay.example.com/checkout?ref={customer_number}&amount={amount}&currency={currency}"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let redirect = open(&format!("{}/pay", chased.link)).await;
    assert_eq!(redirect.status, 303);
    assert_eq!(
        redirect.headers["location"],
        "https://pay.example.com/checkout?ref=P-pay&amount=500.00&currency=EUR"
    );
    assert_secure(&redirect);
    let types = history_types(&stack, &owner, &chased.customer_id).await;
    assert_eq!(count(&types, "portal_pay_clicked"), 1, "{types:?}");
    let bad = stack
        .patch(
            "/v1/settings",
            &owner,
            2,
            &json!({"payment_url_template": "http://pay.example.com/{balance}"}),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);

    // A tenant without a payment URL shows its instructions, line by line.
    let other_owner = stack.token_for("tenant-pay-instructions", "owner", "owner");
    let settings = stack
        .patch("/v1/settings", &other_owner, 0, &json!({"payment_instructions": "Transfer to IBAN FR76 3000 6000 0112 3456 7890 189\nReference: your customer number"}))
        .await;
    assert_eq!(settings.status, 200, "{:?}", settings.body);
    let other = stack
        .create(
            "/v1/customers",
            &other_owner,
            &json!({"number": "I-1", "name": "Initech", "currency": "EUR"}),
        )
        .await;
    let link = portal_url_of(&stack, &other_owner, &other).await;
    let instructions = open(&format!("{link}/pay")).await;
    assert_eq!(instructions.status, 200);
    assert!(
        instructions
            .html
            .contains("<p class=\"message\">Transfer to IBAN FR76"),
        "{}",
        instructions.html
    );
    assert!(instructions
        .html
        .contains("<p class=\"message\">Reference: your customer number</p>"));
}

#[tokio::test]
async fn unknown_rotated_and_malformed_tokens_get_one_404_and_no_token_reaches_another_customer() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let chased = chased_customer(&stack, &owner, "rot").await;
    let token = chased.link.rsplit('/').next().unwrap().to_string();
    let mut forged = token.clone().into_bytes();
    forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let not_found = open(&format!("{}/p/{}", stack.url, "A".repeat(43))).await;
    assert_eq!(not_found.status, 404);
    assert_secure(&not_found);
    for path in [
        format!("/p/{forged}"),
        "/p/short".into(),
        format!("/p/{token}x"),
        format!("/p/{}", "é".repeat(10)),
        "/p/".into(),
    ] {
        let page = open(&format!("{}{path}", stack.url)).await;
        assert_eq!(page.status, 404, "{path}");
        assert_eq!(
            page.html, not_found.html,
            "{path}: one page for every unknown link"
        );
    }

    // Another tenant's customer has its own link; each opens only its own page.
    let other_owner = stack.token_for("tenant-other-portal", "owner", "owner");
    let other = stack
        .create(
            "/v1/customers",
            &other_owner,
            &json!({"number": "Q-1", "name": "Initech", "currency": "USD"}),
        )
        .await;
    let other_link = portal_url_of(&stack, &other_owner, &other).await;
    assert_ne!(other_link, chased.link);
    let theirs = open(&other_link).await;
    assert!(theirs.html.contains("Initech") && !theirs.html.contains("alert(1)"));
    let ours = open(&chased.link).await;
    assert!(!ours.html.contains("Initech"));
    // The other customer's invoice through our link is the 404 page.
    let their_invoice = stack
        .create("/v1/invoices", &other_owner, &json!({"customer_id": other, "number": "Q-1-1", "currency": "USD", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "10.00"}))
        .await;
    assert_eq!(
        open(&format!("{}/invoices/{their_invoice}/pdf", chased.link))
            .await
            .status,
        404
    );

    // Rotation: the old link stops at once, the new one works.
    let contributor = stack.token("contributor");
    let refused = stack
        .post(
            &format!("/v1/customers/{}/portal-link", chased.customer_id),
            &contributor,
            &json!({}),
        )
        .await;
    assert_eq!(refused.status, 403);
    let rotated = stack
        .post(
            &format!("/v1/customers/{}/portal-link", chased.customer_id),
            &owner,
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let new_link = rotated.body["portal_url"].as_str().unwrap().to_string();
    assert_ne!(new_link, chased.link);
    let old = open(&chased.link).await;
    assert_eq!((old.status, old.html), (404, not_found.html.clone()));
    assert_eq!(open(&new_link).await.status, 200);
    assert_eq!(
        open(&format!("{}/statement.pdf", chased.link)).await.status,
        404
    );
    let customer = stack
        .get(&format!("/v1/customers/{}", chased.customer_id), &owner)
        .await;
    assert_eq!(customer.body["portal_url"], new_link.as_str());
    let unknown = stack
        .post(
            "/v1/customers/01ARZ3NDEKTSV4RRFFQ69G5FAV/portal-link",
            &owner,
            &json!({}),
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn forms_need_the_pages_proof_and_bad_input_writes_nothing() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let chased = chased_customer(&stack, &owner, "csrf").await;
    let page = open(&chased.link).await;
    let (form_id, proof) = form_of(&page.html, "promise-form");
    let promise_url = format!("{}/promise", chased.link);
    let promises = format!("/v1/customers/{}/promises", chased.customer_id);

    // A form another site made has no valid proof; one posted from another site is refused outright.
    for fields in [
        vec![
            ("form_id", form_id.as_str()),
            ("proof", "0000"),
            ("amount", "10.00"),
            ("promised_date", "2026-03-20"),
        ],
        vec![
            ("form_id", "other"),
            ("proof", proof.as_str()),
            ("amount", "10.00"),
            ("promised_date", "2026-03-20"),
        ],
        vec![("amount", "10.00"), ("promised_date", "2026-03-20")],
    ] {
        let refused = submit(&promise_url, &fields).await;
        assert_eq!(refused.status, 403, "{}", refused.html);
        assert_secure(&refused);
    }
    let cross_site = browser_like()
        .post(&promise_url)
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("form_id", form_id.as_str()),
            ("proof", proof.as_str()),
            ("amount", "10.00"),
            ("promised_date", "2026-03-20"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);

    // Bad values: the page again, 422, the problems named, nothing written.
    for (amount, date, problem) in [
        ("10.001", "2026-03-20", "more decimal places"),
        ("-5", "2026-03-20", "Amount"),
        ("10.00", "2026-06-01", "within 60 days"),
        ("10.00", "2026-03-01", "must not be in the past"),
        ("10.00", "20/03/2026", "YYYY-MM-DD"),
    ] {
        let page = submit(
            &promise_url,
            &[
                ("form_id", &form_id),
                ("proof", &proof),
                ("amount", amount),
                ("promised_date", date),
            ],
        )
        .await;
        assert_eq!(page.status, 422, "{amount} {date}: {}", page.html);
        assert!(page.html.contains(problem), "{problem}: {}", page.html);
        assert!(
            page.html.contains(&format!("value=\"{amount}\"")),
            "the amount is kept"
        );
    }
    let dispute_url = format!("{}/dispute", chased.link);
    let (form_id, proof) = form_of(&page.html, "dispute-form");
    let unknown_invoice = submit(
        &dispute_url,
        &[
            ("form_id", &form_id),
            ("proof", &proof),
            ("invoice_id", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            ("reason", "x"),
        ],
    )
    .await;
    assert_eq!(unknown_invoice.status, 422);
    assert!(unknown_invoice
        .html
        .contains("choose one of your open invoices"));
    let no_reason = submit(
        &dispute_url,
        &[
            ("form_id", &form_id),
            ("proof", &proof),
            ("invoice_id", &chased.invoice_ids[0]),
            ("reason", "  "),
        ],
    )
    .await;
    assert_eq!(no_reason.status, 422);

    assert_eq!(stack.get(&promises, &owner).await.body["items"], json!([]));
    let invoice = stack
        .get(&format!("/v1/invoices/{}", chased.invoice_ids[0]), &owner)
        .await;
    assert_eq!(invoice.body["collection_status"], "normal");
    let types = history_types(&stack, &owner, &chased.customer_id).await;
    assert!(
        !types
            .iter()
            .any(|(t, _)| t == "portal_promise" || t == "portal_dispute"),
        "{types:?}"
    );
}

#[tokio::test]
async fn the_page_speaks_the_customers_language() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-20T09:00:00Z").await;
    let customer = stack
        .create(
            "/v1/customers",
            &owner,
            &json!({"number": "FR-1", "name": "Dupont & Fils", "currency": "EUR", "language": "fr"}),
        )
        .await;
    stack
        .create(
            "/v1/invoices",
            &owner,
            &json!({"customer_id": customer, "number": "F-1", "currency": "EUR",
                 "issue_date": "2026-03-01", "due_date": "2026-03-10", "total": "1234.50"}),
        )
        .await;
    let page = open(&portal_url_of(&stack, &owner, &customer).await).await;
    assert_eq!(page.status, 200);
    for text in [
        "<html lang=\"fr\">",
        "Votre compte: Dupont &#38; Fils",
        "Total dû",
        "1\u{202f}234,50\u{a0}€",
        "10 jours de retard",
        "10 mars 2026",
        "Promesse de paiement",
    ] {
        assert!(page.html.contains(text), "{text}: {}", page.html);
    }
}
