//! The embedded DejaVu Sans (regular and bold): full Latin-1 and Latin
//! Extended coverage, so "Łódź Café Müller" prints as written. krilla
//! embeds only the glyphs a document uses.

use krilla::text::{Font, GlyphId, KrillaGlyph};
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

    /// `text` shaped left to right with the parsed face (krilla's own
    /// `draw_text` would parse the whole font again for every call), with
    /// its width in points at `size`.
    pub fn shape(&self, weight: Weight, size: f32, text: &str) -> (Vec<KrillaGlyph>, f32) {
        let face = match weight {
            Weight::Regular => &self.regular_face,
            Weight::Bold => &self.bold_face,
        };
        let units_per_em = face.units_per_em() as f32;
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.set_direction(rustybuzz::Direction::LeftToRight);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(face, &[], buffer);
        let infos = shaped.glyph_infos();
        let mut width = 0.0;
        let glyphs = shaped
            .glyph_positions()
            .iter()
            .zip(infos)
            .enumerate()
            .map(|(index, (position, info))| {
                let start = info.cluster as usize;
                // The text a glyph stands for runs to the next cluster.
                let end = infos[index..]
                    .iter()
                    .map(|next| next.cluster as usize)
                    .find(|&cluster| cluster != start)
                    .unwrap_or(text.len());
                let advance = position.x_advance as f32 / units_per_em;
                width += advance * size;
                KrillaGlyph::new(
                    GlyphId::new(info.glyph_id),
                    advance,
                    position.x_offset as f32 / units_per_em,
                    position.y_offset as f32 / units_per_em,
                    position.y_advance as f32 / units_per_em,
                    start..end,
                    None,
                )
            })
            .collect();
        (glyphs, width)
    }

    /// The advance width of `text` in points.
    pub fn width(&self, weight: Weight, size: f32, text: &str) -> f32 {
        self.shape(weight, size, text).1
    }
}
