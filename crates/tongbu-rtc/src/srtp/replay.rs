//! A sliding replay window (RFC 3711 §3.3.2) over 31-bit SRTCP indexes.

/// Remembers the highest index accepted and which of the 64 before it were seen.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayWindow {
    highest: Option<u32>,
    seen: u64,
}

impl ReplayWindow {
    /// Whether `index` is new: ahead of the window, or inside it and not yet seen.
    pub fn is_new(&self, index: u32) -> bool {
        let Some(h) = self.highest else {
            return true;
        };
        if index > h {
            return true;
        }
        let behind = h - index;
        behind < 64 && self.seen & (1 << behind) == 0
    }

    /// Marks `index` as seen (call only after the packet authenticated).
    pub fn accept(&mut self, index: u32) {
        match self.highest {
            Some(h) if index <= h => self.seen |= 1 << (h - index),
            Some(h) => {
                let ahead = index - h;
                self.seen = if ahead >= 64 { 0 } else { self.seen << ahead };
                self.seen |= 1;
                self.highest = Some(index);
            }
            None => {
                self.highest = Some(index);
                self.seen = 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_late_and_repeated_indexes() {
        let mut w = ReplayWindow::default();
        assert!(w.is_new(5));
        w.accept(5);
        assert!(!w.is_new(5), "a repeat");
        assert!(w.is_new(3), "late but unseen");
        w.accept(3);
        assert!(!w.is_new(3));
        w.accept(100);
        assert!(!w.is_new(5), "fell out of the window");
        assert!(w.is_new(99));
        assert!(!w.is_new(100));
        w.accept(300);
        assert!(w.is_new(299) && !w.is_new(100));
    }
}
