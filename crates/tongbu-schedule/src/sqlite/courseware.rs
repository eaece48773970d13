//! The courseware tables: each page's image once by digest, decks listing them in order.

use rusqlite::{params, OptionalExtension};

use super::Db;
use crate::courseware::{Deck, DeckId, ImageType, NewDeck, PageImage, PageRef};
use crate::{ScheduleError, SessionId};

impl Db<'_> {
    pub(super) fn insert_deck(&self, d: &NewDeck, created_utc: i64) -> Result<Deck, ScheduleError> {
        d.validate()?;
        self.state_of(d.session)?;
        let title = d.title.trim();
        self.0
            .prepare_cached(
                "INSERT INTO courseware_decks (session_id, title, created_utc) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![d.session.0, title, created_utc])?;
        let id = DeckId(self.0.last_insert_rowid());
        let mut page = self.0.prepare_cached(
            "INSERT INTO courseware_pages (digest, image, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT(digest) DO NOTHING",
        )?;
        let mut entry = self.0.prepare_cached(
            "INSERT INTO courseware_deck_pages (deck_id, position, digest) VALUES (?1, ?2, ?3)",
        )?;
        for (i, p) in d.pages.iter().enumerate() {
            page.execute(params![p.digest, p.image.as_str(), p.bytes])?;
            entry.execute(params![id.0, i as i64, p.digest])?;
        }
        Ok(Deck {
            id,
            session: d.session,
            title: title.to_string(),
            pages: d
                .pages
                .iter()
                .map(|p| PageRef {
                    digest: p.digest.clone(),
                    image: p.image,
                    bytes: p.bytes.len() as u64,
                })
                .collect(),
            created_utc,
        })
    }

    pub(super) fn session_decks(&self, session: SessionId) -> Result<Vec<Deck>, ScheduleError> {
        self.state_of(session)?;
        let mut decks: Vec<Deck> = self
            .0
            .prepare_cached(
                "SELECT id, title, created_utc FROM courseware_decks WHERE session_id = ?1
                 ORDER BY id",
            )?
            .query_map(params![session.0], |r| {
                Ok(Deck {
                    id: DeckId(r.get(0)?),
                    session,
                    title: r.get(1)?,
                    pages: Vec::new(),
                    created_utc: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut pages = self.0.prepare_cached(
            "SELECT e.digest, p.image, length(p.bytes) FROM courseware_deck_pages e
             JOIN courseware_pages p ON p.digest = e.digest
             WHERE e.deck_id = ?1 ORDER BY e.position",
        )?;
        for d in &mut decks {
            let rows = pages.query_map(params![d.id.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (digest, image, bytes) = row?;
                d.pages.push(PageRef {
                    digest,
                    image: image_type(&image)?,
                    bytes: bytes as u64,
                });
            }
        }
        Ok(decks)
    }

    pub(super) fn page(&self, digest: &str) -> Result<Option<PageImage>, ScheduleError> {
        let row = self
            .0
            .prepare_cached("SELECT image, bytes FROM courseware_pages WHERE digest = ?1")?
            .query_row(params![digest], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .optional()?;
        row.map(|(image, bytes)| {
            Ok(PageImage {
                image: image_type(&image)?,
                bytes,
            })
        })
        .transpose()
    }
}

fn image_type(s: &str) -> Result<ImageType, ScheduleError> {
    ImageType::parse(s).ok_or_else(|| ScheduleError::Corrupt {
        what: "courseware image type",
        value: s.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use crate::courseware::{NewDeck, NewPage};
    use crate::sqlite::tests::{lesson, sample};
    use crate::{ScheduleError, SessionId, SqliteStore, Store};

    fn png(n: u8) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.extend([n; 32]);
        b
    }

    fn deck(session: SessionId, title: &str, pages: &[Vec<u8>]) -> NewDeck {
        NewDeck {
            session,
            title: title.into(),
            pages: pages
                .iter()
                .enumerate()
                .map(|(i, b)| NewPage::check(i, b.clone()).unwrap())
                .collect(),
        }
    }

    #[test]
    fn a_deck_keeps_its_pages_in_order_across_reopen() {
        let dir = std::env::temp_dir().join(format!("tongbu-decks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.sqlite");
        let _ = std::fs::remove_file(&path);
        let (session, first) = {
            let store = SqliteStore::open(&path).unwrap();
            let (host, remote, _) = sample(&store);
            let s = store.add_session(&lesson(host, remote, 0)).unwrap()[0].id;
            let d = store
                .add_deck(&deck(s, " 勾股定理 ", &[png(1), png(2), png(1)]), 100)
                .unwrap();
            (s, d)
        };
        let store = SqliteStore::open(&path).unwrap();
        let decks = store.decks(session).unwrap();
        assert_eq!(decks, vec![first.clone()]);
        assert_eq!(first.title, "勾股定理");
        let digests: Vec<_> = first.pages.iter().map(|p| p.digest.as_str()).collect();
        assert_eq!(digests.len(), 3);
        assert_eq!(digests[0], digests[2], "the same image is the same page");
        assert_ne!(digests[0], digests[1]);
        // A second deck sharing a page stores it once, and both read it.
        let second = store
            .add_deck(&deck(session, "练习", &[png(2)]), 200)
            .unwrap();
        assert_eq!(second.pages[0].digest, first.pages[1].digest);
        assert_eq!(store.decks(session).unwrap().len(), 2);
        let image = store.page_image(digests[1]).unwrap().unwrap();
        assert_eq!(image.bytes, png(2));
        assert!(store.page_image(&"0".repeat(64)).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_deck_for_no_session_or_without_pages_is_refused_and_leaves_nothing() {
        let store = SqliteStore::open_in_memory().unwrap();
        assert!(matches!(
            store.add_deck(&deck(SessionId(99), "x", &[png(1)]), 0),
            Err(ScheduleError::NotFound { .. })
        ));
        let (host, remote, _) = sample(&store);
        let s = store.add_session(&lesson(host, remote, 0)).unwrap()[0].id;
        assert!(matches!(
            store.add_deck(&deck(s, "x", &[]), 0),
            Err(ScheduleError::Invalid(_))
        ));
        assert!(store.decks(s).unwrap().is_empty());
    }
}
