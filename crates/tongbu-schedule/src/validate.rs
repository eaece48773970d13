//! Field-level validation: every problem of a submitted record at once, each naming its field,
//! so that a form or an import row can point at exactly what to fix.

use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path as written in the request, e.g. `classrooms[1]` or `repeat.until`.
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Whether a character shows on a page: not a space, not a control character and not one of
/// Unicode's default-ignorable code points (drawn as nothing).
pub fn visible(c: char) -> bool {
    let ignorable = matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}');
    !(c.is_whitespace() || c.is_control() || ignorable)
}

/// Collects field errors.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// A required, trimmed, length-limited text that shows something: one of only spaces or
    /// invisible characters (zero-width spaces, joiners, direction marks) counts as empty.
    pub fn text(&mut self, field: &str, value: &str, max_chars: usize) {
        if !value.chars().any(visible) {
            self.add(field, "must not be empty (write something that shows)");
        } else if value.chars().count() > max_chars {
            self.add(field, format!("must be at most {max_chars} characters"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was found, else the invalid-input error.
    pub fn into_result(self) -> Result<(), crate::ScheduleError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::ScheduleError::Invalid(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_of_invisible_characters_is_empty() {
        for blank in [
            "",
            "   ",
            "\u{200B}\u{200B}",
            "\u{3000}\u{FEFF}",
            "\u{200D}\t\u{2060}",
        ] {
            let mut p = Problems::default();
            p.text("title", blank, 200);
            assert_eq!(p.0.len(), 1, "{blank:?} passed");
            assert!(p.0[0].message.contains("must not be empty"));
        }
        for shown in ["数学", "\u{200B}数学", "a", "👩\u{200D}🏫"] {
            let mut p = Problems::default();
            p.text("title", shown, 200);
            assert!(p.is_empty(), "{shown:?} refused");
        }
    }
}
