//! Phone and ID numbers written as numerals, recognised by their shapes.

use std::sync::LazyLock;

use regex::Regex;

use super::{Kind, Span};

/// Shapes, most specific first (the leftmost match wins, then the first alternative). `D` is a
/// digit; full-width digits are read as ASCII ones.
const SHAPES: &[(Kind, &str)] = &[
    // Chinese resident ID: 18 characters, the last a check digit or X; as one block or 6-8-4.
    (Kind::Id, r"D{6}[ ]?D{8}[ ]?D{3}[DXx]"),
    // US social security number.
    (Kind::Id, r"D{3}-D{2}-D{4}|D{3} D{2} D{4}"),
    // Chinese mobile, with +86 / 86 or not: 1[3-9]x xxxx xxxx.
    (Kind::Phone, r"(?:\+?86[ \-]?)?1[3-9]D[ \-]?D{4}[ \-]?D{4}"),
    // Chinese landline with its area code: 010-12345678, (0755) 8888 6666, +86 10 12345678.
    (
        Kind::Phone,
        r"(?:\(0D{2,3}\)[ ]?|0D{2,3}[ \-]|\+86[ \-]?[1-9]D{1,2}[ \-]?)D{3,4}[ \-]?D{4}",
    ),
    // US (NANP) with its area code: (555) 123-4567, 555.123.4567, +1 555 123 4567.
    (
        Kind::Phone,
        r"(?:\+?1[ \-.]?)?(?:\([2-9]D{2}\)[ ]?|[2-9]D{2}[ \-.]?)D{3}[ \-.]?D{4}",
    ),
];

static PATTERN: LazyLock<(Regex, Vec<Kind>)> = LazyLock::new(|| {
    let alternatives: Vec<String> = SHAPES
        .iter()
        .map(|(_, shape)| format!("({})", shape.replace('D', "[0-9]")))
        .collect();
    let regex = Regex::new(&alternatives.join("|")).expect("the shapes are valid regexes");
    (regex, SHAPES.iter().map(|(kind, _)| *kind).collect())
});

/// `text` with full-width digits as ASCII, and for each of its bytes (and its end) the byte
/// offset in `text`.
fn ascii_digits(text: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len() + 1);
    for (i, c) in text.char_indices() {
        let c = match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '＋' => '+',
            _ => c,
        };
        out.push(c);
        origin.extend(std::iter::repeat_n(i, c.len_utf8()));
    }
    origin.push(text.len());
    (out, origin)
}

pub(super) fn find(text: &str) -> Vec<Span> {
    let (regex, kinds) = &*PATTERN;
    let (text, origin) = ascii_digits(text);
    // A number continues through letters and digits: "A13812345678" is a part number, and the
    // first 11 digits of a 20-digit string are not a phone.
    let joins = |c: char| c.is_ascii_alphanumeric();
    regex
        .captures_iter(&text)
        .filter_map(|caps| {
            let whole = caps.get(0)?;
            let before = text[..whole.start()].chars().next_back();
            let after = text[whole.end()..].chars().next();
            if before.is_some_and(joins) || after.is_some_and(joins) {
                return None;
            }
            let kind = (1..caps.len()).find(|&i| caps.get(i).is_some())?;
            Some(Span {
                start: origin[whole.start()],
                end: origin[whole.end()],
                kind: kinds[kind - 1],
            })
        })
        .collect()
}
