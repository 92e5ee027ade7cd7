//! Named writes the use cases and jobs build the same way.

use crate::ports::Write;
use crate::records::StoredCustomer;
use domain::customer::Customer;
use domain::history::{push_recent, HistoryItem};

/// Stores `next` (its recent history extended by `history`) conditioned on
/// `previous`, and each history item. The customer is write 0.
pub fn customer(
    mut next: Customer,
    previous: Option<&StoredCustomer>,
    history: &[HistoryItem],
) -> Vec<Write> {
    push_recent(&mut next.recent_history, history);
    let mut writes = vec![Write::PutCustomer {
        next: Box::new(next),
        previous: previous.map(|p| Box::new(p.clone())),
    }];
    writes.extend(history.iter().map(|h| Write::History(Box::new(h.clone()))));
    writes
}
