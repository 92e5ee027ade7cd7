//! One module per resource: parse the request, call the use case, answer
//! with the resource's view.

pub mod invoices;
pub mod payments;
pub mod settings;
