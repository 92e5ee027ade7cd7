//! How a merge patch changes an optional field.

/// A change to an optional field: absent keeps it, `null` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Set(T),
    Clear,
}

impl<T: Clone> Patch<T> {
    pub fn apply(&self, current: &Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current.clone(),
            Patch::Set(value) => Some(value.clone()),
            Patch::Clear => None,
        }
    }
}
