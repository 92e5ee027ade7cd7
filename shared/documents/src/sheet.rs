//! A small page-layout layer over krilla: each page is planned as a list of
//! drawing operations first, so the total page count is known when the
//! "Page n of m" footers are drawn, then everything is written at once.

use crate::fonts::{Fonts, Weight};
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::text::KrillaGlyph;
use krilla::Document;

/// A4 portrait, in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
pub const MARGIN: f32 = 50.0;
pub const RIGHT: f32 = PAGE_WIDTH - MARGIN;
/// Content stops here; the footer sits below.
pub const BOTTOM: f32 = PAGE_HEIGHT - 70.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        weight: Weight,
        text: String,
        glyphs: Vec<KrillaGlyph>,
    },
    Rule {
        y: f32,
        width: f32,
    },
}

/// One planned page.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    ops: Vec<Op>,
}

impl Sheet {
    /// Text with its baseline at `y`; `x` is its left edge, or its right
    /// edge with [`Align::Right`]. Text wider than `max_width` is set
    /// smaller until it fits, so a long amount never runs into its neighbour.
    #[allow(clippy::too_many_arguments)]
    pub fn text(
        &mut self,
        fonts: &Fonts,
        x: f32,
        y: f32,
        size: f32,
        weight: Weight,
        align: Align,
        max_width: f32,
        text: &str,
    ) {
        let (glyphs, width) = fonts.shape(weight, size, text);
        // Glyph advances scale with the size, so the shaping stands.
        let (size, width) = if width > max_width && width > 0.0 {
            (size * max_width / width, max_width)
        } else {
            (size, width)
        };
        let x = match align {
            Align::Left => x,
            Align::Right => x - width,
        };
        self.ops.push(Op::Text {
            x,
            y,
            size,
            weight,
            text: text.to_string(),
            glyphs,
        });
    }

    /// A horizontal line across the text area.
    pub fn rule(&mut self, y: f32, width: f32) {
        self.ops.push(Op::Rule { y, width });
    }
}

/// Document properties that stay the same for the same data: the creation
/// date is the document's own date, never the clock.
pub struct Properties {
    pub title: String,
    pub language: &'static str,
    pub date: chrono::NaiveDate,
}

/// Writes the planned pages with "`page_label` n of m" footers.
pub fn write(
    fonts: &Fonts,
    sheets: &[Sheet],
    page_label: &dyn Fn(usize, usize) -> String,
    properties: Properties,
) -> Result<Vec<u8>, krilla::error::KrillaError> {
    use chrono::Datelike;
    let mut document = Document::new();
    let date = properties.date;
    document.set_metadata(
        Metadata::new()
            .title(properties.title)
            .language(properties.language.to_string())
            .creator("chaser".to_string())
            .creation_date(
                DateTime::new(u16::try_from(date.year()).unwrap_or(1900))
                    .month(u8::try_from(date.month()).unwrap_or(1))
                    .day(u8::try_from(date.day()).unwrap_or(1)),
            ),
    );
    let total = sheets.len();
    for (index, sheet) in sheets.iter().enumerate() {
        let mut footer = Sheet::default();
        let label = page_label(index + 1, total);
        footer.text(
            fonts,
            RIGHT,
            PAGE_HEIGHT - 40.0,
            8.0,
            Weight::Regular,
            Align::Right,
            RIGHT - MARGIN,
            &label,
        );
        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).unwrap_or_default();
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for op in sheet.ops.iter().chain(&footer.ops) {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    weight,
                    text,
                    glyphs,
                } => surface.draw_glyphs(
                    Point::from_xy(*x, *y),
                    glyphs,
                    fonts.font(*weight),
                    text,
                    *size,
                    false,
                ),
                Op::Rule { y, width } => {
                    let mut path = PathBuilder::new();
                    path.move_to(MARGIN, *y);
                    path.line_to(RIGHT, *y);
                    if let Some(path) = path.finish() {
                        surface.set_stroke(Some(Stroke {
                            width: *width,
                            ..Stroke::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    document.finish()
}

/// Splits `text` into lines no wider than `width`, keeping its own line
/// breaks (a blank line stays a blank line).
pub fn wrap(fonts: &Fonts, weight: Weight, size: f32, width: f32, text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && fonts.width(weight, size, &candidate) > width {
                lines.push(std::mem::take(&mut line));
                line = word.to_string();
            } else {
                line = candidate;
            }
        }
        lines.push(line);
    }
    lines
}
