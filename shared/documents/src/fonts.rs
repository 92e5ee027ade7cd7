//! The embedded DejaVu Sans (regular and bold): full Latin-1 and Latin
//! Extended coverage, so "Łódź Café Müller" prints as written. krilla
//! embeds only the glyphs a document uses.

use krilla::text::Font;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

pub struct Fonts {
    regular: Font,
    bold: Font,
    regular_face: rustybuzz::Face<'static>,
    bold_face: rustybuzz::Face<'static>,
}

#[derive(Debug, thiserror::Error)]
#[error("the embedded font could not be read")]
pub struct FontError;

impl Fonts {
    /// Parsed once per process.
    pub fn get() -> Result<&'static Fonts, FontError> {
        static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
        FONTS.get_or_init(Self::load).as_ref().ok_or(FontError)
    }

    fn load() -> Option<Fonts> {
        let regular = dejavu::sans::regular();
        let bold = dejavu::sans::bold();
        Some(Fonts {
            regular: Font::new(regular.into(), 0)?,
            bold: Font::new(bold.into(), 0)?,
            regular_face: rustybuzz::Face::from_slice(regular, 0)?,
            bold_face: rustybuzz::Face::from_slice(bold, 0)?,
        })
    }

    pub fn font(&self, weight: Weight) -> Font {
        match weight {
            Weight::Regular => self.regular.clone(),
            Weight::Bold => self.bold.clone(),
        }
    }

    /// The advance width of `text` in points, shaped as krilla shapes it.
    pub fn width(&self, weight: Weight, size: f32, text: &str) -> f32 {
        let face = match weight {
            Weight::Regular => &self.regular_face,
            Weight::Bold => &self.bold_face,
        };
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(face, &[], buffer);
        let units: i64 = shaped
            .glyph_positions()
            .iter()
            .map(|p| i64::from(p.x_advance))
            .sum();
        units as f32 * size / face.units_per_em() as f32
    }
}
