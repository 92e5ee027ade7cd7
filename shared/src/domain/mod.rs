//! Pure types and rules. Nothing in here knows about AWS, Lambda or HTTP.

pub mod contact;
pub mod contact_role;
pub mod customer;
pub mod fields;
pub mod group;
pub mod history;
pub mod identity;
pub mod money;
pub mod settings;
pub mod validation;
