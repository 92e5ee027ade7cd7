//! How a merge patch changes an optional field.

/// A change to an optional field: absent keeps it, `null` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Change<T> {
    #[default]
    Keep,
    Set(T),
    Clear,
}

impl<T: Clone> Change<T> {
    pub fn apply(&self, current: &Option<T>) -> Option<T> {
        match self {
            Change::Keep => current.clone(),
            Change::Set(value) => Some(value.clone()),
            Change::Clear => None,
        }
    }
}
