//! Documents kept with a customer: letters the chase worker printed, and
//! files the team uploaded (API.md "Statements and documents").

use super::validation::{bounded_text, FieldErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Largest upload accepted.
pub const MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;
/// What may be uploaded: documents a debtor can open anywhere.
pub const UPLOAD_TYPES: [&str; 3] = ["application/pdf", "image/png", "image/jpeg"];
pub const MAX_FILENAME_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DocumentKind {
    /// A chase letter (letter text and statement), ready to print.
    Letter,
    Upload,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub customer_id: String,
    pub kind: DocumentKind,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// A user id, or `system` for letters.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A validated upload request: the file is sent to storage afterwards,
/// with exactly this type and size (the upload link is signed for them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub filename: String,
    pub content_type: &'static str,
    pub size: u64,
}

impl NewUpload {
    pub fn validate(filename: &str, content_type: &str, size: u64) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let filename = bounded_text(&mut errors, "filename", filename, MAX_FILENAME_CHARS);
        if filename
            .as_deref()
            .is_some_and(|name| name.contains(['/', '\\', '"']))
        {
            errors.add("filename", "must not contain / \\ or \"");
        }
        let content_type = UPLOAD_TYPES
            .iter()
            .find(|allowed| content_type.eq_ignore_ascii_case(allowed))
            .copied();
        if content_type.is_none() {
            errors.add(
                "content_type",
                format!("must be one of {}", UPLOAD_TYPES.join(", ")),
            );
        }
        if size == 0 || size > MAX_UPLOAD_BYTES {
            errors.add(
                "size",
                format!("must be between 1 and {MAX_UPLOAD_BYTES} bytes (10 MB)"),
            );
        }
        match (filename, content_type) {
            (Some(filename), Some(content_type)) if errors.is_empty() => Ok(Self {
                filename,
                content_type,
                size,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_pdf_png_or_jpeg_up_to_ten_megabytes() {
        assert!(NewUpload::validate("contract.pdf", "application/pdf", 1).is_ok());
        assert!(NewUpload::validate("scan.JPG", "IMAGE/JPEG", MAX_UPLOAD_BYTES).is_ok());
        for (name, kind, size, field) in [
            ("big.pdf", "application/pdf", MAX_UPLOAD_BYTES + 1, "size"),
            ("empty.pdf", "application/pdf", 0, "size"),
            ("macro.docm", "application/vnd.ms-word", 10, "content_type"),
            ("page.html", "text/html", 10, "content_type"),
            ("../etc/passwd", "application/pdf", 10, "filename"),
            ("  ", "application/pdf", 10, "filename"),
        ] {
            let errors = NewUpload::validate(name, kind, size).unwrap_err();
            assert!(errors.iter().any(|(f, _)| f == field), "{name}: {errors:?}");
        }
    }
}
