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

/// The scheduler's write of an evaluation. Lists hold copies of the
/// customer's chasing state and promise, so a change to either is a full
/// put (moving the list entries); otherwise only the chasing fields and the
/// due index entry are updated.
pub fn chasing(stored: &StoredCustomer, next: Customer) -> Write {
    let current = &stored.customer;
    if current.chasing != next.chasing || current.active_promise != next.active_promise {
        Write::PutCustomer {
            next: Box::new(next),
            previous: Some(Box::new(stored.clone())),
        }
    } else {
        Write::UpdateChasing {
            stored: Box::new(stored.clone()),
            next: Box::new(next),
        }
    }
}
