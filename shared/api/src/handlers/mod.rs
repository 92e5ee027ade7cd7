//! One module per resource: parse the request, call the use case, answer
//! with the resource's view.

pub mod cadences;
pub mod chasing;
pub mod contact_roles;
pub mod contacts;
pub mod customers;
pub mod documents;
pub mod groups;
pub mod history;
pub mod imports;
pub mod invoices;
pub mod notes;
pub mod page;
pub mod payments;
pub mod reports;
pub mod settings;
pub mod statements;
pub mod tasks;
pub mod templates;
