//! Pure types and rules. Nothing in here knows about AWS, Lambda or HTTP.

pub mod contact_role;
pub mod identity;
pub mod money;
pub mod settings;
pub mod validation;
