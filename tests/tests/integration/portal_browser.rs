//! The customer portal in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by infra/install), driven over WebDriver:
//! the link from the chase email moto captured, the page, a download, a
//! promise, a dispute and a double submit, with screenshots at phone and
//! desktop widths saved to `target/screenshots/`.

use super::portal::{chased_customer, chasing_waits_for_the_promise, form_of, submit};
use fantoccini::{Client, ClientBuilder, Locator};
use integration_tests::TestStack;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const CHROMEDRIVER: &str = "chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver of this test's own on a free port, stopped when dropped.
struct Driver {
    process: tokio::process::Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; run infra/install)");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                return Self { process, url };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start on {url}");
    }

    /// A headless Chromium that saves downloads into `downloads`.
    async fn browser(&self, downloads: &Path) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=en-GB"],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                },
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
    }
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The element's text, waiting for it to appear (a form's answer page may
/// still be loading on a busy machine).
async fn text_of(browser: &Client, css: &str) -> String {
    browser
        .wait()
        .at_most(std::time::Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn click(browser: &Client, locator: Locator<'_>) {
    browser
        .find(locator)
        .await
        .unwrap_or_else(|e| panic!("{locator:?}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn wait_for_file(dir: &Path, extension: &str) -> PathBuf {
    for _ in 0..100 {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == extension));
        if let Some(found) = found {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no .{extension} downloaded into {}", dir.display());
}

#[tokio::test]
async fn a_debtor_opens_the_chase_link_downloads_promises_and_disputes_in_chromium() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let chased = chased_customer(&stack, &owner, "web").await;
    let driver = Driver::start().await;
    let downloads = tempfile_dir();
    let browser = driver.browser(&downloads).await;

    // The link from the email moto captured.
    browser.goto(&chased.link).await.unwrap();
    assert_eq!(text_of(&browser, "#total-due").await, "€500.00");
    assert_eq!(text_of(&browser, "#overdue").await, "€300.00");
    let heading = text_of(&browser, "h1").await;
    assert_eq!(
        heading, "Your account: <script>alert(1)</script>",
        "customer data shows as text"
    );
    assert!(text_of(&browser, "#portal-note")
        .await
        .contains("IBAN FR76"));
    let rows = browser
        .find_all(Locator::Css("#invoices tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let first = rows[0].text().await.unwrap();
    assert!(
        first.contains("P-web-1") && first.contains("€300.00") && first.contains("1 day overdue"),
        "{first}"
    );

    // Every field has its label, headings do not skip a level, the page
    // names its language, and nothing is wider than a phone.
    let checks = browser
        .execute(
            "const fields = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')];
             const unlabelled = fields.filter(f => !document.querySelector(`label[for='${f.id}']`)).map(f => f.name);
             const levels = [...document.querySelectorAll('h1, h2, h3')].map(h => Number(h.tagName[1]));
             const skips = levels.some((level, i) => i > 0 && level > levels[i - 1] + 1);
             return {unlabelled, skips, first: levels[0], lang: document.documentElement.lang};",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        checks,
        json!({"unlabelled": [], "skips": false, "first": 1, "lang": "en"})
    );
    browser.set_window_size(390, 844).await.unwrap();
    let overflow = browser
        .execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, json!(false), "no sideways scrolling on a phone");

    // Screenshots at phone and desktop widths.
    let dir = screenshots_dir();
    browser.set_window_size(390, 844).await.unwrap();
    std::fs::write(
        dir.join("portal-phone.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();
    browser.set_window_size(1280, 900).await.unwrap();
    std::fs::write(
        dir.join("portal-desktop.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    // The statement downloads as a PDF.
    click(&browser, Locator::Id("download-statement")).await;
    let pdf = wait_for_file(&downloads, "pdf").await;
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "{}", pdf.display());
    assert!(pdf
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("statement-P-web-"));

    // A promise through the form; the same form submitted again is one promise.
    let page = browser.source().await.unwrap();
    let (form_id, proof) = form_of(&page, "promise-form");
    let amount = browser.find(Locator::Id("amount")).await.unwrap();
    amount.clear().await.unwrap();
    amount.send_keys("300.00").await.unwrap();
    // The date picker's typing order depends on the locale: set its value as a picker would.
    browser
        .execute(
            "document.getElementById('promised_date').value = arguments[0];",
            vec![json!("2026-03-25")],
        )
        .await
        .unwrap();
    click(&browser, Locator::Css("#promise-form button")).await;
    let confirmation = text_of(&browser, ".message").await;
    assert!(
        confirmation.contains("Your promise to pay is recorded: €300.00, March 25, 2026"),
        "{confirmation}"
    );
    // Reloading the confirmation posts the same form again (a double
    // submit by the browser itself), and so does a replay over HTTP.
    stack.reset_aws_requests();
    browser.refresh().await.unwrap();
    assert_eq!(text_of(&browser, ".message").await, confirmation);
    // It was the form again (token, customer, the form's record), not a page view.
    assert_eq!(
        stack.aws_requests(),
        [("DynamoDB.GetItem".to_string(), 3)].into()
    );
    let replayed = submit(
        &format!("{}/promise", chased.link),
        &[
            ("form_id", &form_id),
            ("proof", &proof),
            ("amount", "300.00"),
            ("promised_date", "2026-03-25"),
        ],
    )
    .await;
    assert_eq!(replayed.status, 200);
    assert!(replayed.html.contains("Your promise to pay is recorded"));
    let promises = stack
        .get(
            &format!("/v1/customers/{}/promises", chased.customer_id),
            &owner,
        )
        .await;
    assert_eq!(
        promises.body["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        promises.body
    );
    // Chasing waits for the promise: the ticks until the promised date send nothing.
    chasing_waits_for_the_promise(&stack, &owner, &chased, "2026-03-25", "2026-03-25").await;

    // Back to the account; dispute the second invoice.
    click(&browser, Locator::Id("back")).await;
    assert!(text_of(&browser, "#active-promise")
        .await
        .contains("€300.00"));
    let option = format!("#invoice_id option[value='{}']", chased.invoice_ids[1]);
    click(&browser, Locator::Css(&option)).await;
    browser
        .find(Locator::Id("reason"))
        .await
        .unwrap()
        .send_keys("The goods never arrived.")
        .await
        .unwrap();
    click(&browser, Locator::Css("#dispute-form button")).await;
    assert!(text_of(&browser, ".message").await.contains("P-web-2"));
    let invoice = stack
        .get(&format!("/v1/invoices/{}", chased.invoice_ids[1]), &owner)
        .await;
    assert_eq!(invoice.body["collection_status"], "disputed");
    let tasks = stack
        .get(
            &format!("/v1/tasks?assignee=all&customer_id={}", chased.customer_id),
            &owner,
        )
        .await;
    assert!(
        tasks.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["type"] == "validate_invoice"),
        "{:?}",
        tasks.body
    );
    click(&browser, Locator::Id("back")).await;
    let disputed_row = browser
        .find_all(Locator::Css("#invoices tbody tr"))
        .await
        .unwrap()[1]
        .text()
        .await
        .unwrap();
    assert!(disputed_row.contains("Disputed"), "{disputed_row}");
    browser.close().await.unwrap();
}

/// A fresh download directory under the system's temp dir.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portal-downloads-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
