//! One module per resource: parse the request, call the use case, answer
//! with the resource's view.

pub mod contact_roles;
pub mod contacts;
pub mod groups;
pub mod history;
pub mod notes;
pub mod settings;
pub mod tasks;
