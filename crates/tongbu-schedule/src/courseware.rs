//! Courseware: the slides of a session, uploaded once as images and fetched by every classroom
//! over HTTP (cached, fetched ahead), so that a classroom whose video is paused still follows
//! each slide; the page turn itself is a signaling message.
//!
//! A page is stored once however many decks hold it, under the SHA-256 of its bytes (its
//! digest names it in URLs, so a page's URL never changes meaning and caches keep it forever).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::{FieldError, ScheduleError, SessionId};

/// Pages in one deck, at most.
pub const MAX_PAGES: usize = 300;
/// Bytes of one page, at most (a 1920×1080 PNG of a dense slide is under 2 MiB).
pub const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Bytes of one deck's pages together, at most (what one upload may carry).
pub const MAX_DECK_BYTES: usize = 64 * 1024 * 1024;
/// Characters of a deck's title, at most.
pub const MAX_TITLE_CHARS: usize = 200;

/// A deck's id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct DeckId(pub i64);

/// The image formats a page may be in (what every browser decodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageType {
    Png,
    Jpeg,
    Webp,
}

impl ImageType {
    /// The format the bytes are in, from their first bytes (not from what the sender claims).
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => Some(Self::Png),
            [0xff, 0xd8, 0xff, ..] => Some(Self::Jpeg),
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some(Self::Webp),
            _ => None,
        }
    }

    /// Its media type, for `Content-Type`.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "png" => Some(Self::Png),
            "jpeg" => Some(Self::Jpeg),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }
}

/// One page of a deck as a client fetches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PageRef {
    /// SHA-256 of the image, lower-case hex: `GET /api/courseware/pages/{digest}`.
    pub digest: String,
    pub image: ImageType,
    /// Its size in bytes (what a classroom fetches ahead).
    pub bytes: u64,
}

/// An uploaded deck of slides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Deck {
    pub id: DeckId,
    pub session: SessionId,
    pub title: String,
    /// Its pages, in order.
    pub pages: Vec<PageRef>,
    /// When it was uploaded, seconds since the epoch (UTC).
    pub created_utc: i64,
}

impl Deck {
    /// Page `page` of this deck to show, or what is wrong with asking for it.
    pub fn check_page(&self, page: u32) -> Result<(), String> {
        if (page as usize) < self.pages.len() {
            Ok(())
        } else {
            Err(format!(
                "deck {} has pages 0 to {}",
                self.id.0,
                self.pages.len().saturating_sub(1)
            ))
        }
    }
}

/// Page `page` of deck `deck` among a session's `decks`, or what to tell whoever asked for it.
pub fn find_page(decks: &[Deck], deck: DeckId, page: u32) -> Result<(DeckId, u32), String> {
    let d = decks.iter().find(|d| d.id == deck).ok_or_else(|| {
        format!(
            "deck {} is not one of this session's; upload it first",
            deck.0
        )
    })?;
    d.check_page(page).map(|()| (deck, page))
}

/// A page's image as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageImage {
    pub image: ImageType,
    pub bytes: Vec<u8>,
}

/// A page to store: its bytes, checked to be one of the [`ImageType`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPage {
    pub image: ImageType,
    pub digest: String,
    pub bytes: Vec<u8>,
}

impl NewPage {
    /// Checks one uploaded page (`index` from 0, named in errors as `pages[index]`) and names it
    /// by its digest.
    pub fn check(index: usize, bytes: Vec<u8>) -> Result<Self, FieldError> {
        let field = format!("pages[{index}]");
        if bytes.len() > MAX_PAGE_BYTES {
            return Err(FieldError {
                field,
                message: format!(
                    "this page is {} MiB; a page may be at most {} MiB (export the slides at 1920×1080 or smaller)",
                    bytes.len() / (1024 * 1024),
                    MAX_PAGE_BYTES / (1024 * 1024)
                ),
            });
        }
        let Some(image) = ImageType::sniff(&bytes) else {
            return Err(FieldError {
                field,
                message: "not a PNG, JPEG or WebP image, nor a PDF; export the slides as images \
                          or as a PDF"
                    .into(),
            });
        };
        Ok(Self {
            image,
            digest: digest(&bytes),
            bytes,
        })
    }
}

/// The SHA-256 of `bytes`, lower-case hex: a page's name.
pub fn digest(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let hash = Sha256::digest(bytes);
    hash.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Whether `s` is the form a digest takes (what a page URL must carry).
pub fn is_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A deck to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeck {
    pub session: SessionId,
    pub title: String,
    pub pages: Vec<NewPage>,
}

impl NewDeck {
    /// Checks the deck as a whole: a title, and between one and [`MAX_PAGES`] pages.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let mut errors = Vec::new();
        let title = self.title.trim();
        if title.is_empty() {
            errors.push(FieldError {
                field: "title".into(),
                message: "give the courseware a title".into(),
            });
        } else if title.chars().count() > MAX_TITLE_CHARS {
            errors.push(FieldError {
                field: "title".into(),
                message: format!("at most {MAX_TITLE_CHARS} characters"),
            });
        }
        if self.pages.is_empty() {
            errors.push(FieldError {
                field: "pages".into(),
                message: "upload at least one page".into(),
            });
        } else if self.pages.len() > MAX_PAGES {
            errors.push(FieldError {
                field: "pages".into(),
                message: format!(
                    "{} pages; a deck may have at most {MAX_PAGES} (split it)",
                    self.pages.len()
                ),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ScheduleError::Invalid(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_told_by_their_bytes() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0];
        assert_eq!(ImageType::sniff(&png), Some(ImageType::Png));
        assert_eq!(
            ImageType::sniff(&[0xff, 0xd8, 0xff, 0xe0]),
            Some(ImageType::Jpeg)
        );
        assert_eq!(
            ImageType::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(ImageType::Webp)
        );
        assert_eq!(ImageType::sniff(b"%PDF-1.7"), None);
        assert_eq!(ImageType::sniff(b"<svg"), None, "no scripts in slides");
        for t in [ImageType::Png, ImageType::Jpeg, ImageType::Webp] {
            assert_eq!(ImageType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn a_page_that_is_not_an_image_is_refused_by_its_index() {
        let e = NewPage::check(2, b"%PDF-1.7".to_vec()).unwrap_err();
        assert_eq!(e.field, "pages[2]");
        assert!(e.message.contains("PNG"), "{}", e.message);
        let big = vec![0u8; MAX_PAGE_BYTES + 1];
        assert!(NewPage::check(0, big)
            .unwrap_err()
            .message
            .contains("at most"));
    }

    #[test]
    fn a_page_is_named_by_its_sha256() {
        let page = NewPage::check(0, b"\x89PNG\r\n\x1a\n".to_vec()).unwrap();
        assert!(is_digest(&page.digest));
        // sha256 of the empty string, the well-known value.
        assert_eq!(
            digest(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(!is_digest("../../etc/passwd"));
        assert!(!is_digest(&"E".repeat(64)));
    }

    #[test]
    fn a_page_is_found_in_its_sessions_decks_or_refused_saying_why() {
        let page = PageRef {
            digest: "d".into(),
            image: ImageType::Png,
            bytes: 1,
        };
        let decks = [Deck {
            id: DeckId(7),
            session: SessionId(1),
            title: "t".into(),
            pages: vec![page.clone(), page],
            created_utc: 0,
        }];
        assert_eq!(find_page(&decks, DeckId(7), 1), Ok((DeckId(7), 1)));
        assert!(find_page(&decks, DeckId(7), 2)
            .unwrap_err()
            .contains("pages 0 to 1"));
        assert!(find_page(&decks, DeckId(8), 0)
            .unwrap_err()
            .contains("upload it first"));
    }

    #[test]
    fn a_deck_needs_a_title_and_pages() {
        let d = NewDeck {
            session: SessionId(1),
            title: " ".into(),
            pages: vec![],
        };
        let ScheduleError::Invalid(errors) = d.validate().unwrap_err() else {
            panic!("invalid");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "pages"]);
    }
}
