//! Thin AWS implementations of what the application needs.

pub mod cadence_store;
pub mod chase_store;
pub mod contact_role_store;
pub mod contact_store;
pub mod customer_store;
pub mod due_index;
pub mod dynamo;
pub mod group_store;
pub mod history_store;
pub mod invoice_store;
pub mod keys;
pub mod messaging;
pub mod note_store;
pub mod settings_store;
pub mod task_store;
pub mod template_store;
