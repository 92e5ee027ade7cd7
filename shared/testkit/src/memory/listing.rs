//! The customer list as the DynamoDB store builds it: one list copy per
//! facet the customer belongs to and one per searchable field, each sorted
//! by name, overdue balance or creation. The memory store keeps the same
//! entries under the same keys and derives the same sort keys from their
//! copies, so filters, sorts, search, the entries a put or delete leaves
//! behind and the number of items they write agree.

use app::ports::{CustomerFilter, CustomerSort};
use domain::cadence::Level;
use domain::customer::Customer;
use rust_decimal::Decimal;

/// Lower case with runs of white space folded: how names sort and match.
pub(crate) fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The facets a customer is listed under.
pub(crate) fn facets(customer: &Customer) -> Vec<String> {
    let mut facets = vec![
        "all".to_string(),
        format!("status:{}", customer.chasing.status.as_str()),
        format!(
            "overdue:{}",
            if customer.has_overdue() { "yes" } else { "no" }
        ),
    ];
    if let Some(group) = &customer.group_id {
        facets.push(format!("group:{group}"));
    }
    if let Some(ar) = &customer.ar_specialist_id {
        facets.push(format!("ar:{ar}"));
    }
    for tag in &customer.tags {
        facets.push(format!("tag:{}", normalize(tag)));
    }
    for level in [Level::Customer, Level::Invoice] {
        if let Some((cadence, version)) = customer.chasing.enrolment(level) {
            facets.push(enrolment_facet(&cadence, version));
        }
    }
    facets
}

fn enrolment_facet(cadence_id: &str, version: u32) -> String {
    format!("cadence:{cadence_id}:{version}")
}

/// The facet a filter selects: a customer passes the filter when it is
/// listed under it.
pub(crate) fn filter_facet(filter: &CustomerFilter) -> String {
    match filter {
        CustomerFilter::Group(id) => format!("group:{id}"),
        CustomerFilter::ArSpecialist(id) => format!("ar:{id}"),
        CustomerFilter::Tag(tag) => format!("tag:{}", normalize(tag)),
        CustomerFilter::ChasingStatus(status) => format!("status:{status}"),
        CustomerFilter::HasOverdue(yes) => format!("overdue:{}", if *yes { "yes" } else { "no" }),
        CustomerFilter::Enrolment {
            cadence_id,
            version,
        } => enrolment_facet(cadence_id, *version),
    }
}

/// The searchable fields and their normalized values.
pub(crate) fn search_terms(customer: &Customer) -> Vec<(&'static str, String)> {
    let mut terms = vec![
        ("name", normalize(&customer.name)),
        ("number", normalize(&customer.number)),
    ];
    if let Some(email) = &customer.email {
        terms.push(("email", normalize(email)));
    }
    terms
}

/// The key prefix of the entries a search reads (one per searchable field).
pub(crate) const SEARCH_ENTRY: &str = "search:";

/// The list entries a customer has: facets, then one per searchable field.
pub(crate) fn entry_keys(customer: &Customer) -> Vec<String> {
    let mut keys = facets(customer);
    keys.extend(
        search_terms(customer)
            .into_iter()
            .map(|(field, _)| format!("{SEARCH_ENTRY}{field}")),
    );
    keys
}

/// What a list copy leaves out: the bulky parts only the record needs.
pub(crate) fn list_copy(customer: &Customer) -> Customer {
    Customer {
        recent_history: Vec::new(),
        open_invoices: Vec::new(),
        cycle: Default::default(),
        invoice_cycles: Default::default(),
        messages_sent: Vec::new(),
        ..customer.clone()
    }
}

/// The sort key of a list copy in one sort order (ascending order of the
/// index; created-at pages are read from its end).
pub(crate) fn sort_key(customer: &Customer, sort: CustomerSort) -> String {
    match sort {
        CustomerSort::Name => format!("{}#{}", normalize(&customer.name), customer.id),
        CustomerSort::Overdue => overdue_sort_key(customer.balance.overdue, &customer.id),
        CustomerSort::CreatedAt => format!(
            "{}#{}",
            customer.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            customer.id
        ),
    }
}

/// Largest overdue first on an ascending key: the amount in
/// ten-thousandths subtracted from a ceiling, zero-padded to a fixed width.
fn overdue_sort_key(overdue: Decimal, id: &str) -> String {
    const CEILING_DIGITS: u32 = 24;
    const WIDTH: usize = CEILING_DIGITS as usize + 1;
    let ceiling = Decimal::from_i128_with_scale(10_i128.pow(CEILING_DIGITS), 0);
    let scaled = overdue
        .max(Decimal::ZERO)
        .checked_mul(Decimal::from(10_000))
        .map_or(ceiling, |d| d.trunc().min(ceiling));
    let inverted = ceiling - scaled;
    format!("{:0>WIDTH$}#{id}", inverted.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overdue_key_orders_largest_first() {
        let amounts = ["123456.789", "10.5", "10.05", "0.01", "0", "-3"];
        let keys: Vec<String> = amounts
            .iter()
            .map(|a| overdue_sort_key(a.parse().unwrap(), "X"))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys[..5], sorted[..5]);
        assert_eq!(keys[4], keys[5], "negative overdue sorts as none");
        assert!(overdue_sort_key(Decimal::MAX, "X") <= keys[0]);
    }

    #[test]
    fn normalizing_folds_case_and_spaces() {
        assert_eq!(normalize("  ACME   Ltd "), "acme ltd");
    }
}
