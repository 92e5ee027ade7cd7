//! Statements (JSON and PDF) and invoice PDFs through the local runner.

use integration_tests::TestStack;
use serde_json::json;

fn text_of(pdf: &[u8]) -> String {
    pdf_extract::extract_text_from_mem(pdf)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

#[tokio::test]
async fn a_statement_lists_the_open_items_aged_with_credit_and_total_as_json_and_pdf() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-30T12:00:00Z").await;
    let customer_id = stack
        .create(
            "/v1/customers",
            &owner,
            &json!({"number": "LCM-1", "name": "Łódź Café Müller", "currency": "EUR", "language": "en",
                    "billing_address": {"line1": "ul. Piotrkowska 12", "city": "Łódź", "postal_code": "90-001", "country": "PL"}}),
        )
        .await;
    let mut ids = Vec::new();
    for (number, due, total) in [
        ("S-1", "2026-07-15", "100.00"),
        ("S-2", "2026-06-10", "250.00"),
        ("S-3", "2026-02-01", "1000.00"),
    ] {
        ids.push(
            stack
                .create(
                    "/v1/invoices",
                    &owner,
                    &json!({"customer_id": customer_id, "number": number, "currency": "EUR",
                            "issue_date": "2026-01-15", "due_date": due, "total": total}),
                )
                .await,
        );
    }
    // 50 paid on S-2.
    let paid = stack
        .post(
            "/v1/payments",
            &owner,
            &json!({"customer_id": customer_id, "amount": "50.00", "currency": "EUR", "date": "2026-06-20",
                    "applications": [{"invoice_id": ids[1], "amount": "50.00"}]}),
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);

    let path = format!("/v1/customers/{customer_id}/statement");
    let statement = stack.get(&path, &owner).await;
    assert_eq!(statement.status, 200, "{:?}", statement.body);
    let body = &statement.body;
    assert_eq!(body["as_of"], "2026-06-30");
    assert_eq!(body["currency"], "EUR");
    let numbers: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["S-3", "S-2", "S-1"], "oldest due first");
    assert_eq!(body["items"][1]["balance"], "200.00");
    assert_eq!(body["items"][1]["days_overdue"], 20);
    assert_eq!(body["aging"]["current"], "100.00");
    assert_eq!(body["aging"]["d1_30"], "200.00");
    assert_eq!(body["aging"]["over_90"], "1000.00");
    assert_eq!(body["total_due"], "1300.00");

    // The buckets move with `as_of` alone.
    let later = stack.get(&format!("{path}?as_of=2026-08-01"), &owner).await;
    assert_eq!(later.body["aging"]["current"], "0.00");
    assert_eq!(later.body["aging"]["d1_30"], "100.00");
    assert_eq!(later.body["aging"]["d31_60"], "200.00");

    let (status, headers, pdf) = stack.get_bytes(&path, &owner, "application/pdf").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"statement-LCM-1-2026-06-30.pdf\""
    );
    assert!(pdf.starts_with(b"%PDF-"));
    let text = text_of(&pdf);
    for needle in [
        "ŁódźCaféMüller",
        "S-1",
        "S-2",
        "S-3",
        "€100.00",
        "€200.00",
        "€1,000.00",
        "€1,300.00",
        "Totaldue",
        "Over90days",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }

    let (status, headers, pdf) = stack
        .get_bytes(
            &format!("/v1/invoices/{}/pdf", ids[1]),
            &stack.token("contributor"),
            "*/*",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"invoice-S-2.pdf\""
    );
    let text = text_of(&pdf);
    assert!(
        text.contains("InvoiceS-2") && text.contains("€250.00") && text.contains("€50.00"),
        "{text}"
    );
}

#[tokio::test]
async fn statements_refuse_bad_dates_and_other_tenants() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let customer_id = stack.create_customer(&owner, "ST-2").await;
    let path = format!("/v1/customers/{customer_id}/statement");
    let empty = stack.get(&path, &owner).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["items"], json!([]));
    assert_eq!(empty.body["total_due"], "0.00");
    for bad in ["26-1-1", "2026-02-30", "yesterday"] {
        let reply = stack.get(&format!("{path}?as_of={bad}"), &owner).await;
        assert_eq!(reply.status, 422, "{bad}: {:?}", reply.body);
        assert!(
            reply.body["fields"]["as_of"].is_string(),
            "{:?}",
            reply.body
        );
    }
    let unknown = stack.get(&format!("{path}?asof=2026-01-01"), &owner).await;
    assert_eq!(unknown.status, 422);
    let stranger = stack.token_for("another-tenant", "owner", "owner");
    let (status, _, _) = stack.get_bytes(&path, &stranger, "application/pdf").await;
    assert_eq!(status, 404);
    let (status, _, _) = stack
        .get_bytes(
            "/v1/invoices/01ARZ3NDEKTSV4RRFFQ69G5FAV/pdf",
            &owner,
            "application/pdf",
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_chase_with_attach_invoices_carries_the_statement_as_one_pdf() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    stack
        .patch("/v1/settings", &owner, 0, &json!({"company_name": "Acme Ltd", "sender_email": "ar@example.com", "sender_name": "Acme Receivables"}))
        .await;
    let customer_id = stack
        .create(
            "/v1/customers",
            &owner,
            &json!({"number": "AT-1", "name": "Łódź Café Müller", "currency": "EUR"}),
        )
        .await;
    let email = format!(
        "ap-{}@example.com",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    stack
        .create(
            &format!("/v1/customers/{customer_id}/contacts"),
            &owner,
            &json!({"name": "Pat", "email": email}),
        )
        .await;
    let template = stack
        .create("/v1/templates", &owner, &json!({"name": "Statement", "channel": "email", "subject": "Your statement", "body": "<p>Please find your statement attached: {{account_balance}}.</p>"}))
        .await;
    let cadence = stack
        .create("/v1/cadences", &owner, &json!({"name": "Attach", "run_at": "08:00", "steps": [
            {"trigger": "account_age", "days": 0, "action": "email", "template_id": template, "attach_invoices": true}]}))
        .await;
    for (number, total) in [("AT-INV-1", "120.00"), ("AT-INV-2", "80.50")] {
        stack
            .create("/v1/invoices", &owner, &json!({"customer_id": customer_id, "number": number, "currency": "EUR",
                                                   "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": total}))
            .await;
    }
    stack.enrol(&owner, &customer_id, &cadence).await;
    stack
        .tick(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 1, 8, 0, 0).unwrap())
        .await;

    let emails = stack.emails_to(&email).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let attachments = emails[0]["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    assert_eq!(attachments[0]["content_type"], "application/pdf");
    assert_eq!(attachments[0]["filename"], "statement-AT-1-2026-03-01.pdf");
    use base64::Engine;
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(attachments[0]["base64"].as_str().unwrap())
        .unwrap();
    let text = text_of(&pdf);
    for needle in [
        "ŁódźCaféMüller",
        "AT-INV-1",
        "AT-INV-2",
        "€120.00",
        "€80.50",
        "€200.50",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    // Both parts, rendered from the template.
    assert!(emails[0]["body"]
        .as_str()
        .unwrap()
        .contains("<p>Please find your statement attached: €200.50.</p>"));
    assert_eq!(
        emails[0]["text"].as_str().unwrap().trim(),
        "Please find your statement attached: €200.50."
    );
    // The PDF matches what the statement route serves for that day.
    let (_, _, served) = stack
        .get_bytes(
            &format!("/v1/customers/{customer_id}/statement?as_of=2026-03-01"),
            &owner,
            "application/pdf",
        )
        .await;
    assert_eq!(text_of(&served), text);
}

#[tokio::test]
async fn a_letter_chase_stores_its_pdf_and_the_history_links_it() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"company_name": "Acme Ltd"}),
        )
        .await;
    let customer_id = stack
        .create("/v1/customers", &owner, &json!({"number": "LT-1", "name": "Łódź Café Müller", "currency": "EUR",
                "billing_address": {"line1": "ul. Piotrkowska 12", "city": "Łódź", "postal_code": "90-001", "country": "PL"}}))
        .await;
    let template = stack
        .create("/v1/templates", &owner, &json!({"name": "Letter", "channel": "letter",
                "body": "Dear {{customer_name}},\n\nOur records show {{account_balance}} unpaid for {{invoice_numbers}}.\n\nAcme Ltd"}))
        .await;
    let cadence = stack
        .create(
            "/v1/cadences",
            &owner,
            &json!({"name": "Letters", "run_at": "08:00", "steps": [
            {"trigger": "account_age", "days": 0, "action": "letter", "template_id": template}]}),
        )
        .await;
    stack
        .create("/v1/invoices", &owner, &json!({"customer_id": customer_id, "number": "LT-INV-1", "currency": "EUR",
                                               "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "640.00"}))
        .await;
    stack.enrol(&owner, &customer_id, &cadence).await;
    let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 1, 8, 0, 0).unwrap();
    stack.tick(at).await;
    // A second run of the same tick changes nothing.
    stack.tick(at).await;

    let history = stack.history(&owner, &customer_id).await;
    let letters: Vec<_> = history
        .iter()
        .filter(|h| h["type"] == "chase_letter")
        .collect();
    assert_eq!(letters.len(), 1, "{history:?}");
    let document_id = letters[0]["detail"]["document_id"]
        .as_str()
        .unwrap()
        .to_string();

    let listed = stack
        .get(&format!("/v1/customers/{customer_id}/documents"), &owner)
        .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], document_id.as_str());
    assert_eq!(items[0]["kind"], "letter");
    assert_eq!(items[0]["filename"], "letter-LT-1-2026-03-01.pdf");

    let document = stack
        .get(
            &format!("/v1/customers/{customer_id}/documents/{document_id}"),
            &owner,
        )
        .await;
    assert_eq!(document.status, 200, "{:?}", document.body);
    let url = document.body["download_url"].as_str().unwrap();
    let pdf = reqwest::get(url).await.unwrap();
    assert_eq!(pdf.status(), 200);
    let pdf = pdf.bytes().await.unwrap();
    assert_eq!(pdf.len() as u64, document.body["size"].as_u64().unwrap());
    let text = text_of(&pdf);
    for needle in [
        "DearŁódźCaféMüller",
        "€640.00unpaidforLT-INV-1",
        "ul.Piotrkowska12",
        "Statement",
        "LT-INV-1",
        "Totaldue",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}

#[tokio::test]
async fn uploads_are_checked_then_go_through_presigned_links() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let customer_id = stack.create_customer(&owner, "UP-1").await;
    let path = format!("/v1/customers/{customer_id}/documents");
    for (body, field) in [
        (
            json!({"filename": "big.pdf", "content_type": "application/pdf", "size": 10_485_761}),
            "size",
        ),
        (
            json!({"filename": "run.exe", "content_type": "application/octet-stream", "size": 100}),
            "content_type",
        ),
        (
            json!({"filename": "page.html", "content_type": "text/html", "size": 100}),
            "content_type",
        ),
        (
            json!({"filename": "../x.pdf", "content_type": "application/pdf", "size": 100}),
            "filename",
        ),
        (
            json!({"filename": "x.pdf", "content_type": "application/pdf", "size": "100"}),
            "size",
        ),
    ] {
        let reply = stack.post(&path, &owner, &body).await;
        assert_eq!(reply.status, 422, "{body}: {:?}", reply.body);
        assert!(reply.body["fields"][field].is_string(), "{:?}", reply.body);
    }
    let listed = stack.get(&path, &owner).await;
    assert_eq!(listed.body["items"], json!([]), "nothing written");

    let contract = b"%PDF-1.7 a signed contract".to_vec();
    let created = stack
        .post(&path, &owner, &json!({"filename": "contract.pdf", "content_type": "application/pdf", "size": contract.len()}))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let upload_url = created.body["upload_url"].as_str().unwrap();
    let put = reqwest::Client::new()
        .put(upload_url)
        .header("content-type", "application/pdf")
        .body(contract.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "{:?}", put.text().await);
    let document_id = created.body["document_id"].as_str().unwrap();
    let document = stack
        .get(
            &format!("{path}/{document_id}"),
            &stack.token("contributor"),
        )
        .await;
    assert_eq!(document.body["kind"], "upload");
    let downloaded = reqwest::get(document.body["download_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(downloaded.bytes().await.unwrap().to_vec(), contract);
    let history = stack.history(&owner, &customer_id).await;
    assert!(history
        .iter()
        .any(|h| h["type"] == "document_uploaded" && h["detail"]["document_id"] == document_id));
    // Another tenant sees none of it.
    let stranger = stack.token_for("another-tenant", "owner", "owner");
    assert_eq!(
        stack
            .get(&format!("{path}/{document_id}"), &stranger)
            .await
            .status,
        404
    );
    assert_eq!(stack.get(&path, &stranger).await.status, 404);
}

/// Registers and uploads a PDF of `size` bytes; its document id.
async fn upload(
    stack: &TestStack,
    token: &str,
    customer_id: &str,
    filename: &str,
    size: usize,
) -> String {
    let mut bytes = b"%PDF-1.7 ".to_vec();
    bytes.resize(size, b'x');
    let created = stack
        .post(
            &format!("/v1/customers/{customer_id}/documents"),
            token,
            &json!({"filename": filename, "content_type": "application/pdf", "size": size}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let put = reqwest::Client::new()
        .put(created.body["upload_url"].as_str().unwrap())
        .header("content-type", "application/pdf")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    created.body["document_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn attach_documents_sends_the_uploads_and_fails_clearly_over_seven_megabytes() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"company_name": "Acme Ltd", "sender_email": "ar@example.com"}),
        )
        .await;
    let template = stack
        .create(
            "/v1/templates",
            &owner,
            &json!({"name": "With documents", "channel": "email", "subject": "Your documents",
                "body": "<p>Attached: your contract.</p>", "attach_documents": true}),
        )
        .await;
    let sms = stack
        .post(
            "/v1/templates",
            &owner,
            &json!({"name": "No", "channel": "sms", "body": "x", "attach_documents": true}),
        )
        .await;
    assert_eq!(sms.status, 422);
    let cadence = stack
        .create(
            "/v1/cadences",
            &owner,
            &json!({"name": "Docs", "run_at": "08:00", "steps": [
            {"trigger": "account_age", "days": 0, "action": "email", "template_id": template}]}),
        )
        .await;
    let mut addresses = Vec::new();
    for (number, size) in [("AD-1", 2_000), ("AD-2", 7 * 1024 * 1024 + 10)] {
        let customer_id = stack
            .create(
                "/v1/customers",
                &owner,
                &json!({"number": number, "name": format!("Customer {number}"), "currency": "EUR"}),
            )
            .await;
        let email = format!(
            "{}-{}@example.com",
            number.to_lowercase(),
            ulid::Ulid::new().to_string().to_lowercase()
        );
        stack
            .create(
                &format!("/v1/customers/{customer_id}/contacts"),
                &owner,
                &json!({"name": "Pat", "email": email}),
            )
            .await;
        stack
            .create("/v1/invoices", &owner, &json!({"customer_id": customer_id, "number": format!("{number}-INV"), "currency": "EUR",
                                                   "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "10.00"}))
            .await;
        upload(&stack, &owner, &customer_id, "contract.pdf", size).await;
        stack.enrol(&owner, &customer_id, &cadence).await;
        addresses.push((customer_id, email));
    }
    stack
        .tick(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 1, 8, 0, 0).unwrap())
        .await;

    let emails = stack.emails_to(&addresses[0].1).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let attachments = emails[0]["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["filename"], "contract.pdf");
    assert_eq!(attachments[0]["content_type"], "application/pdf");

    assert!(
        stack.emails_to(&addresses[1].1).await.is_empty(),
        "too large: not sent"
    );
    let history = stack.history(&owner, &addresses[1].0).await;
    let failed = history
        .iter()
        .find(|h| h["type"] == "chase_failed")
        .unwrap_or_else(|| panic!("{history:?}"));
    assert_eq!(failed["detail"]["reason"], "attachments_too_large");
}

#[tokio::test]
async fn a_preview_warns_of_empty_variables_and_a_chase_never_writes_hello_comma() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let customer_id = stack.create_customer(&owner, "PW-1").await;
    let template = stack
        .create("/v1/templates", &owner, &json!({"name": "Plain", "channel": "email", "subject": "Hello {{customer_contact_name}}",
                "body": "Hello {{customer_contact_name}},\n\nPlease pay {{account_balance}}.\n{{{customer_portal_button}}}"}))
        .await;
    let preview = stack
        .post(
            &format!("/v1/templates/{template}/preview"),
            &owner,
            &json!({"customer_id": customer_id}),
        )
        .await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    let warned: Vec<&str> = preview.body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["variable"].as_str().unwrap())
        .collect();
    // Every customer has a portal link, so the button is never empty.
    assert_eq!(warned, ["customer_contact_name"]);
    assert_eq!(preview.body["subject"], "Hello Customer PW-1");
    let portal_url = stack
        .get(&format!("/v1/customers/{customer_id}"), &owner)
        .await
        .body["portal_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        preview.body["text"].as_str().unwrap(),
        format!("Hello Customer PW-1,\n\nPlease pay €0.00.\nPay now: {portal_url}")
    );
    let body = preview.body["body"].as_str().unwrap();
    assert!(
        body.starts_with("<p>Hello Customer PW-1,</p>\n<p>Please pay €0.00.<br>"),
        "{body}"
    );
    assert!(body.contains(&format!("href=\"{portal_url}\"")), "{body}");
}
