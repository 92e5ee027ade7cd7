//! Pure types and rules. Nothing in here knows about AWS, Lambda or HTTP;
//! request bodies are parsed at the API edge into the types here.

pub mod balance;
pub mod cadence;
pub mod contact;
pub mod contact_role;
pub mod customer;
pub mod document;
pub mod group;
pub mod history;
pub mod identity;
pub mod invoice;
pub mod money;
pub mod note;
pub mod patch;
pub mod payment;
pub mod portal;
pub mod promise;
pub mod rating;
pub mod reports;
pub mod schedule;
pub mod settings;
pub mod statement;
pub mod task;
pub mod template;
pub mod validation;
