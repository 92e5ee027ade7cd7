//! The one check every use case makes before acting (the role matrix is
//! `domain::identity`'s).

use crate::error::{AppError, AppResult};
use domain::identity::{Caller, Permission};

pub fn require(caller: &Caller, permission: Permission) -> AppResult<()> {
    if caller.role.allows(permission) {
        Ok(())
    } else {
        Err(AppError::Forbidden("your role does not allow this action"))
    }
}
