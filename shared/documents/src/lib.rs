//! Statements, invoices and letters as PDF.
//!
//! Pure: domain values in, bytes out, no clock and no I/O, so the same data
//! always gives the same file (the creation date is the document's date).
//! Layout is A4 with page numbers; tables break across pages with their
//! header repeated; amounts are right-aligned in the customer's currency
//! format and language.

mod fonts;
mod labels;
mod sheet;

use chrono::NaiveDate;
use domain::invoice::{CollectionStatus, Invoice};
use domain::money::Money;
use domain::statement::{Statement, StatementCustomer, StatementLine};
use domain::template::{format_date, format_money};
use fonts::{Fonts, Weight};
use labels::Labels;
use rust_decimal::Decimal;
use sheet::{wrap, Align, Properties, Sheet, BOTTOM, MARGIN, RIGHT};

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Font(#[from] fonts::FontError),
    #[error("the PDF could not be written: {0:?}")]
    Pdf(krilla::error::KrillaError),
}

impl From<krilla::error::KrillaError> for DocumentError {
    fn from(error: krilla::error::KrillaError) -> Self {
        Self::Pdf(error)
    }
}

/// Who sends the document.
#[derive(Debug, Clone, Copy)]
pub struct Letterhead<'a> {
    pub company_name: &'a str,
}

const TEXT: f32 = 8.5;
const ROW: f32 = 13.0;

/// Table columns of the statement: (left or right edge, alignment, width).
const NUMBER: (f32, Align, f32) = (MARGIN, Align::Left, 105.0);
const ISSUED: (f32, Align, f32) = (160.0, Align::Left, 55.0);
const DUE: (f32, Align, f32) = (218.0, Align::Left, 55.0);
const TOTAL: (f32, Align, f32) = (340.0, Align::Right, 66.0);
const PAID: (f32, Align, f32) = (410.0, Align::Right, 66.0);
const BALANCE: (f32, Align, f32) = (485.0, Align::Right, 70.0);
const DAYS: (f32, Align, f32) = (RIGHT, Align::Right, 55.0);

/// The open-item statement as a PDF.
pub fn statement_pdf(
    statement: &Statement,
    letterhead: Letterhead<'_>,
) -> Result<Vec<u8>, DocumentError> {
    let fonts = Fonts::get()?;
    let labels = Labels::of(statement.customer.language.as_deref());
    let sheets = Planner::new(fonts, labels, letterhead).statement(statement);
    finish(
        fonts,
        labels,
        &sheets,
        labels.statement,
        &statement.customer,
        statement.as_of,
    )
}

/// A letter (the rendered letter template) followed by the statement, as
/// one PDF ready to print and post.
pub fn letter_pdf(
    body: &str,
    statement: &Statement,
    letterhead: Letterhead<'_>,
) -> Result<Vec<u8>, DocumentError> {
    let fonts = Fonts::get()?;
    let labels = Labels::of(statement.customer.language.as_deref());
    let mut planner = Planner::new(fonts, labels, letterhead);
    planner.letter(body, &statement.customer, statement.as_of);
    let sheets = planner.statement(statement);
    finish(
        fonts,
        labels,
        &sheets,
        labels.statement,
        &statement.customer,
        statement.as_of,
    )
}

/// One invoice as a PDF: amounts, what was paid, and its installments.
pub fn invoice_pdf(
    invoice: &Invoice,
    customer: &StatementCustomer,
    as_of: NaiveDate,
    letterhead: Letterhead<'_>,
) -> Result<Vec<u8>, DocumentError> {
    let fonts = Fonts::get()?;
    let labels = Labels::of(customer.language.as_deref());
    let sheets = Planner::new(fonts, labels, letterhead).invoice(invoice, customer, as_of);
    let title = format!("{} {}", labels.invoice, invoice.number);
    finish(fonts, labels, &sheets, &title, customer, invoice.issue_date)
}

fn finish(
    fonts: &Fonts,
    labels: &'static Labels,
    sheets: &[Sheet],
    title: &str,
    customer: &StatementCustomer,
    date: NaiveDate,
) -> Result<Vec<u8>, DocumentError> {
    let properties = Properties {
        title: format!("{title} {} {date}", customer.number),
        language: labels.language,
        date,
    };
    Ok(sheet::write(
        fonts,
        sheets,
        &|page, pages| labels.page_of(page, pages),
        properties,
    )?)
}

/// Fills pages top to bottom, starting a new one when the next block does
/// not fit.
struct Planner<'a> {
    fonts: &'static Fonts,
    labels: &'static Labels,
    letterhead: Letterhead<'a>,
    done: Vec<Sheet>,
    sheet: Sheet,
    y: f32,
}

impl<'a> Planner<'a> {
    fn new(fonts: &'static Fonts, labels: &'static Labels, letterhead: Letterhead<'a>) -> Self {
        Self {
            fonts,
            labels,
            letterhead,
            done: Vec::new(),
            sheet: Sheet::default(),
            y: MARGIN,
        }
    }

    fn text(&mut self, x: f32, size: f32, weight: Weight, align: Align, width: f32, text: &str) {
        self.sheet
            .text(self.fonts, x, self.y, size, weight, align, width, text);
    }

    fn cell(&mut self, column: (f32, Align, f32), weight: Weight, text: &str) {
        let (x, align, width) = column;
        self.text(x, TEXT, weight, align, width, text);
    }

    fn new_page(&mut self) {
        self.done.push(std::mem::take(&mut self.sheet));
        self.y = MARGIN;
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y + height > BOTTOM {
            self.new_page();
            return true;
        }
        false
    }

    /// Company and document title on the first line of a document part.
    fn heading(&mut self, title: &str) {
        self.y += 14.0;
        let company = self.letterhead.company_name;
        self.text(MARGIN, 14.0, Weight::Bold, Align::Left, 300.0, company);
        self.text(RIGHT, 16.0, Weight::Bold, Align::Right, 180.0, title);
        self.y += 30.0;
    }

    /// The customer's name, number and address on the left; `facts` (label,
    /// value) on the right.
    fn parties(&mut self, customer: &StatementCustomer, facts: &[(&str, String)]) {
        let top = self.y;
        self.text(
            MARGIN,
            10.0,
            Weight::Bold,
            Align::Left,
            280.0,
            &customer.name,
        );
        self.y += 13.0;
        for line in &customer.address {
            self.text(MARGIN, 9.0, Weight::Regular, Align::Left, 280.0, line);
            self.y += 12.0;
        }
        let number = format!("{}: {}", self.labels.customer_number, customer.number);
        self.text(MARGIN, 9.0, Weight::Regular, Align::Left, 280.0, &number);
        let left_bottom = self.y + 12.0;
        self.y = top;
        for (label, value) in facts {
            self.text(400.0, 9.0, Weight::Regular, Align::Left, 80.0, label);
            self.text(RIGHT, 9.0, Weight::Regular, Align::Right, 90.0, value);
            self.y += 12.0;
        }
        self.y = self.y.max(left_bottom) + 18.0;
    }

    fn statement(mut self, statement: &Statement) -> Vec<Sheet> {
        let labels = self.labels;
        let language = statement.customer.language.as_deref();
        self.heading(labels.statement);
        self.parties(
            &statement.customer,
            &[
                (labels.date, format_date(statement.as_of, language)),
                (labels.currency, statement.currency.code().to_string()),
            ],
        );
        if statement.is_empty() {
            self.text(
                MARGIN,
                10.0,
                Weight::Regular,
                Align::Left,
                RIGHT - MARGIN,
                labels.nothing_open,
            );
            self.y += 24.0;
        } else {
            self.table_header();
            for line in &statement.items {
                if self.ensure(ROW) {
                    self.continued(statement);
                }
                self.statement_row(statement, line);
            }
        }
        // The summary stays in one piece.
        if self.ensure(6.0 * ROW + 20.0) {
            self.continued(statement);
        }
        self.summary(statement);
        self.done.push(self.sheet);
        self.done
    }

    /// The top of a continuation page: who and when, then the table header.
    fn continued(&mut self, statement: &Statement) {
        self.y += 10.0;
        let title = format!(
            "{} - {} - {}",
            self.labels.statement, statement.customer.name, statement.as_of
        );
        self.text(
            MARGIN,
            9.0,
            Weight::Bold,
            Align::Left,
            RIGHT - MARGIN,
            &title,
        );
        self.y += 20.0;
        self.table_header();
    }

    fn table_header(&mut self) {
        let labels = self.labels;
        self.column_headings(&[
            (NUMBER, labels.invoice),
            (ISSUED, labels.issue_date),
            (DUE, labels.due_date),
            (TOTAL, labels.total),
            (PAID, labels.paid),
            (BALANCE, labels.balance),
            (DAYS, labels.days_overdue),
        ]);
    }

    /// Bold headings over a rule.
    fn column_headings(&mut self, headings: &[((f32, Align, f32), &str)]) {
        for (column, label) in headings {
            self.cell(*column, Weight::Bold, label);
        }
        self.y += 4.0;
        self.sheet.rule(self.y, 0.6);
        self.y += ROW;
    }

    fn statement_row(&mut self, statement: &Statement, line: &StatementLine) {
        let language = statement.customer.language.as_deref();
        let money = |amount: Decimal| format_money(statement.money(amount), language);
        let mut number = line.number.clone();
        if let Some(installment) = line.installment {
            number = format!("{number} ({}/{})", installment.number, installment.of);
        }
        match line.collection_status {
            CollectionStatus::Normal => {}
            CollectionStatus::Disputed => number = format!("{number} ({})", self.labels.disputed),
            CollectionStatus::OnHold => number = format!("{number} ({})", self.labels.on_hold),
        }
        self.cell(NUMBER, Weight::Regular, &number);
        self.cell(ISSUED, Weight::Regular, &line.issue_date.to_string());
        let due = line.due_date.map(|d| d.to_string()).unwrap_or_default();
        self.cell(DUE, Weight::Regular, &due);
        self.cell(TOTAL, Weight::Regular, &money(line.total));
        self.cell(PAID, Weight::Regular, &money(line.paid));
        self.cell(BALANCE, Weight::Regular, &money(line.balance));
        let days = if line.days_overdue > 0 {
            line.days_overdue.to_string()
        } else {
            String::new()
        };
        self.cell(DAYS, Weight::Regular, &days);
        self.y += ROW;
    }

    /// Aging buckets in five columns, then credit and the total due.
    fn summary(&mut self, statement: &Statement) {
        let language = statement.customer.language.as_deref();
        let money = |amount: Decimal| format_money(statement.money(amount), language);
        self.y += 6.0;
        self.sheet.rule(self.y, 0.6);
        self.y += ROW + 2.0;
        let width = (RIGHT - MARGIN) / 5.0;
        let amounts = [
            statement.aging.current,
            statement.aging.d1_30,
            statement.aging.d31_60,
            statement.aging.d61_90,
            statement.aging.over_90,
        ];
        for (index, label) in self.labels.buckets.iter().enumerate() {
            let right = MARGIN + width * (index as f32 + 1.0) - 4.0;
            self.text(right, TEXT, Weight::Bold, Align::Right, width - 8.0, label);
        }
        self.y += ROW;
        for (index, amount) in amounts.iter().enumerate() {
            let right = MARGIN + width * (index as f32 + 1.0) - 4.0;
            self.text(
                right,
                TEXT,
                Weight::Regular,
                Align::Right,
                width - 8.0,
                &money(*amount),
            );
        }
        self.y += ROW * 2.0;
        if !statement.credit.is_zero() {
            self.total_line(
                self.labels.credit,
                &money(-statement.credit),
                Weight::Regular,
            );
        }
        self.total_line(
            self.labels.total_due,
            &money(statement.total_due),
            Weight::Bold,
        );
    }

    fn total_line(&mut self, label: &str, amount: &str, weight: Weight) {
        self.text(330.0, 10.0, weight, Align::Left, 130.0, label);
        self.text(RIGHT, 10.0, weight, Align::Right, 90.0, amount);
        self.y += ROW + 2.0;
    }

    /// The letter part: sender, address block, date, then the body with its
    /// own line breaks; the statement starts on a new page after it.
    fn letter(&mut self, body: &str, customer: &StatementCustomer, date: NaiveDate) {
        let language = customer.language.as_deref();
        self.y += 14.0;
        let company = self.letterhead.company_name;
        self.text(
            MARGIN,
            14.0,
            Weight::Bold,
            Align::Left,
            RIGHT - MARGIN,
            company,
        );
        // Where a windowed envelope shows the address.
        self.y = 150.0;
        self.text(
            MARGIN,
            10.0,
            Weight::Regular,
            Align::Left,
            250.0,
            &customer.name,
        );
        for line in &customer.address {
            self.y += 13.0;
            self.text(MARGIN, 10.0, Weight::Regular, Align::Left, 250.0, line);
        }
        self.y = self.y.max(230.0) + 20.0;
        let date = format_date(date, language);
        self.text(RIGHT, 10.0, Weight::Regular, Align::Right, 200.0, &date);
        self.y += 30.0;
        for line in wrap(self.fonts, Weight::Regular, 10.5, RIGHT - MARGIN, body) {
            self.ensure(15.0);
            self.text(
                MARGIN,
                10.5,
                Weight::Regular,
                Align::Left,
                RIGHT - MARGIN,
                &line,
            );
            self.y += 15.0;
        }
        self.new_page();
    }

    fn invoice(
        mut self,
        invoice: &Invoice,
        customer: &StatementCustomer,
        as_of: NaiveDate,
    ) -> Vec<Sheet> {
        let labels = self.labels;
        let language = customer.language.as_deref();
        let money = |amount: Decimal| {
            format_money(
                Money {
                    amount,
                    currency: invoice.currency,
                },
                language,
            )
        };
        let title = format!("{} {}", labels.invoice, invoice.number);
        self.heading(&title);
        let due = invoice
            .due_date
            .map(|d| format_date(d, language))
            .unwrap_or_default();
        self.parties(
            customer,
            &[
                (labels.issue_date, format_date(invoice.issue_date, language)),
                (labels.due_date, due),
                (labels.currency, invoice.currency.code().to_string()),
            ],
        );
        let mut status = Vec::new();
        if invoice.collection_status == CollectionStatus::Disputed {
            status.push(labels.disputed);
        }
        if invoice.collection_status == CollectionStatus::OnHold {
            status.push(labels.on_hold);
        }
        self.total_line(labels.total, &money(invoice.total), Weight::Regular);
        self.total_line(labels.paid, &money(invoice.amount_paid), Weight::Regular);
        self.total_line(
            labels.balance,
            &money(invoice.balance().amount),
            Weight::Bold,
        );
        let overdue = invoice.days_overdue(as_of);
        if overdue > 0 {
            self.total_line(labels.days_overdue, &overdue.to_string(), Weight::Regular);
        }
        if !status.is_empty() {
            self.total_line("", &status.join(", "), Weight::Regular);
        }
        if let Some(plan) = &invoice.payment_plan {
            self.y += ROW;
            self.text(
                MARGIN,
                10.0,
                Weight::Bold,
                Align::Left,
                200.0,
                labels.installments,
            );
            self.y += ROW + 4.0;
            self.column_headings(&[
                (NUMBER, labels.installment),
                (DUE, labels.due_date),
                (TOTAL, labels.total),
                (PAID, labels.paid),
                (BALANCE, labels.balance),
            ]);
            let count = plan.installments.len();
            for (index, installment) in plan.installments.iter().enumerate() {
                self.ensure(ROW);
                self.cell(NUMBER, Weight::Regular, &format!("{}/{count}", index + 1));
                self.cell(DUE, Weight::Regular, &installment.due_date.to_string());
                self.cell(TOTAL, Weight::Regular, &money(installment.amount));
                self.cell(PAID, Weight::Regular, &money(installment.amount_paid));
                self.cell(BALANCE, Weight::Regular, &money(installment.remaining()));
                self.y += ROW;
            }
        }
        self.done.push(self.sheet);
        self.done
    }
}
