//! One module per resource: parse the request, call the use case, answer
//! with the resource's view.

pub mod cadences;
pub mod chasing;
pub mod customers;
pub mod invoices;
pub mod page;
pub mod payments;
pub mod settings;
pub mod templates;
