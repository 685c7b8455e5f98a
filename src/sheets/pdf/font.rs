//! The sheets' two faces, DejaVu Sans and DejaVu Sans Bold, built into the binary (no system
//! font at run time; licence in `fonts/LICENSE`): text measured, encoded as glyph IDs of a
//! subset, and the subset embedded with a ToUnicode map so the text can be found and copied.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

use super::deflate;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

struct Embedded {
    data: &'static [u8],
    face: Face<'static>,
    /// The subset's PostScript name (a subset carries a six-letter tag before it).
    name: &'static str,
    stem_v: f32,
}

fn load(data: &'static [u8], name: &'static str, stem_v: f32) -> Embedded {
    let face = Face::parse(data, 0).expect("the built-in font parses");
    Embedded {
        data,
        face,
        name,
        stem_v,
    }
}

static FACES: LazyLock<[Embedded; 2]> = LazyLock::new(|| {
    [
        load(
            include_bytes!("fonts/DejaVuSans.ttf"),
            "ACCSHR+DejaVuSans",
            80.0,
        ),
        load(
            include_bytes!("fonts/DejaVuSans-Bold.ttf"),
            "ACCSHB+DejaVuSans-Bold",
            140.0,
        ),
    ]
});

fn face(weight: Weight) -> &'static Embedded {
    &FACES[weight as usize]
}

/// The glyph a character is drawn with: its own, else `?` (never an invisible .notdef).
fn glyph(e: &Embedded, c: char) -> GlyphId {
    e.face
        .glyph_index(c)
        .or_else(|| e.face.glyph_index('?'))
        .unwrap_or(GlyphId(0))
}

/// The width of `text` at `size` points, in points.
pub fn width(weight: Weight, text: &str, size: f32) -> f32 {
    let e = face(weight);
    let units: u32 = text
        .chars()
        .map(|c| u32::from(e.face.glyph_hor_advance(glyph(e, c)).unwrap_or(0)))
        .sum();
    units as f32 * size / f32::from(e.face.units_per_em())
}

/// The height above the baseline of capitals, per point of size.
pub fn cap_height(weight: Weight) -> f32 {
    let e = face(weight);
    f32::from(e.face.capital_height().unwrap_or(1493)) / f32::from(e.face.units_per_em())
}

/// The glyphs one document uses of one face, numbered as its subset will number them.
pub struct Subset {
    weight: Weight,
    remapper: GlyphRemapper,
    /// What each subset glyph stands for, for the ToUnicode map.
    text: BTreeMap<u16, char>,
}

impl Subset {
    pub fn new(weight: Weight) -> Subset {
        Subset {
            weight,
            remapper: GlyphRemapper::new(),
            text: BTreeMap::new(),
        }
    }

    /// `text` as the 2-byte glyph IDs of the subset (Identity-H).
    pub fn encode(&mut self, text: &str) -> Vec<u8> {
        let e = face(self.weight);
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let id = self.remapper.remap(glyph(e, c).0);
            self.text.entry(id).or_insert(c);
            out.extend_from_slice(&id.to_be_bytes());
        }
        out
    }

    /// Writes the font as a Type 0 font at `font`, using refs from `next` on.
    pub fn write(&self, pdf: &mut Pdf, font: Ref, next: &mut Ref) -> Result<()> {
        let e = face(self.weight);
        let mut id = || next.bump();
        let (cid, descriptor, file, cmap) = (id(), id(), id(), id());
        let scale = 1000.0 / f32::from(e.face.units_per_em());
        let name = Name(e.name.as_bytes());

        pdf.type0_font(font)
            .base_font(name)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);

        let widths: Vec<f32> = self
            .remapper
            .remapped_gids()
            .map(|g| f32::from(e.face.glyph_hor_advance(GlyphId(g)).unwrap_or(0)) * scale)
            .collect();
        let mut c = pdf.cid_font(cid);
        c.subtype(CidFontType::Type2)
            .base_font(name)
            .system_info(SYSTEM_INFO)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        c.widths().consecutive(0, widths);
        c.finish();

        let b = e.face.global_bounding_box();
        let s = |v: i16| f32::from(v) * scale;
        pdf.font_descriptor(descriptor)
            .name(name)
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(s(b.x_min), s(b.y_min), s(b.x_max), s(b.y_max)))
            .italic_angle(0.0)
            .ascent(s(e.face.ascender()))
            .descent(s(e.face.descender()))
            .cap_height(s(e.face.capital_height().unwrap_or(e.face.ascender())))
            .stem_v(e.stem_v)
            .font_file2(file);

        let subset = subsetter::subset(e.data, 0, &self.remapper)
            .map_err(|why| Error::internal(format!("cannot subset the sheet font: {why}")))?;
        let packed = deflate(&subset);
        pdf.stream(file, &packed)
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), subset.len() as i32);

        let mut map = UnicodeCmap::new(Name(b"Custom"), SYSTEM_INFO);
        for (&g, &ch) in &self.text {
            map.pair(g, ch);
        }
        pdf.cmap(cmap, &map.finish());
        Ok(())
    }
}

const SYSTEM_INFO: SystemInfo = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"Identity"),
    supplement: 0,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_faces_cover_the_names_agencies_have() {
        for w in [Weight::Regular, Weight::Bold] {
            let e = face(w);
            for c in "ZoëNgāŁukaszÉlodieFrançoisçàâêîôûœæ«»’–⚠".chars() {
                assert!(e.face.glyph_index(c).is_some(), "{c} in {:?}", w);
            }
        }
    }

    #[test]
    fn bold_is_wider_and_width_grows_with_size() {
        let r = width(Weight::Regular, "Clock in", 10.0);
        assert!(width(Weight::Bold, "Clock in", 10.0) > r);
        assert!((width(Weight::Regular, "Clock in", 20.0) - 2.0 * r).abs() < 0.01);
    }

    #[test]
    fn a_glyph_keeps_one_number_in_a_subset() {
        let mut s = Subset::new(Weight::Regular);
        let a = s.encode("Zoë");
        let b = s.encode("ëoZ");
        assert_eq!(a.len(), 6);
        assert_eq!(&a[0..2], &b[4..6]);
        assert_eq!(s.text.values().collect::<String>(), "Zoë");
    }
}
