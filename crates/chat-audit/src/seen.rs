//! The rooms a sweep has checked, so that it checks each room exactly once.
//!
//! ListRooms is ordered by update time, newest first, so a room changed mid-sweep jumps
//! to the head of the listing, behind the sweep's cursor. After the last page the sweep
//! goes back to the head for rooms changed or created since it started (a catch-up pass);
//! the seen set tells which of those it has already checked, and lets a sweep whose page
//! token expired list from the head again without counting anything twice.
//!
//! A room is recorded as a 64-bit FNV-1a hash of its ARN (stable across processes and
//! Rust versions; at 50,000 rooms the chance of any collision is about 1 in 10^10). Each
//! page's rooms are saved in the checkpoint store beside the checkpoint, one small record
//! a page (16 hex digits a room: 800 bytes for a page of 50).

use std::collections::HashSet;

/// The stable key of a room in the seen set: 64-bit FNV-1a of its ARN.
///
/// ```
/// assert_eq!(chat_audit::seen::room_key(""), 0xcbf29ce484222325);
/// assert_ne!(chat_audit::seen::room_key("a"), chat_audit::seen::room_key("b"));
/// ```
pub fn room_key(arn: &str) -> u64 {
    arn.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Rooms as text: 16 lower-case hex digits each, no separator.
pub fn encode(rooms: &[u64]) -> String {
    rooms.iter().map(|r| format!("{r:016x}")).collect()
}

/// The rooms of [`encode`]'s text; `None` if it is not such text.
pub fn decode(text: &str) -> Option<Vec<u64>> {
    if !text.len().is_multiple_of(16) || !text.is_ascii() {
        return None;
    }
    text.as_bytes()
        .chunks(16)
        .map(|c| {
            std::str::from_utf8(c)
                .ok()
                .and_then(|s| u64::from_str_radix(s, 16).ok())
        })
        .collect()
}

/// The rooms checked so far in this sweep, and those of the page under way.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    rooms: HashSet<u64>,
    page: Vec<u64>,
}

impl Seen {
    /// The rooms loaded from the store.
    pub(crate) fn from_rooms(rooms: Vec<u64>) -> Self {
        Self {
            rooms: rooms.into_iter().collect(),
            page: Vec::new(),
        }
    }

    /// Whether `key` was checked already.
    pub(crate) fn contains(&self, key: u64) -> bool {
        self.rooms.contains(&key)
    }

    /// Records `key` as checked on the page under way.
    pub(crate) fn insert(&mut self, key: u64) {
        if self.rooms.insert(key) {
            self.page.push(key);
        }
    }

    /// The rooms checked on the page under way, to be saved with it.
    pub(crate) fn page(&self) -> &[u64] {
        &self.page
    }

    /// Rooms checked in all.
    pub(crate) fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Starts the next page.
    pub(crate) fn next_page(&mut self) {
        self.page.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let rooms = vec![
            0,
            1,
            u64::MAX,
            room_key("arn:aws:ivschat:us-west-2:1:room/x"),
        ];
        assert_eq!(decode(&encode(&rooms)), Some(rooms));
        assert_eq!(decode(""), Some(vec![]));
        for bad in ["0", "zzzzzzzzzzzzzzzz", "ééééééééééééééée"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_page_holds_only_rooms_new_to_the_sweep() {
        let mut seen = Seen::from_rooms(vec![1, 2]);
        seen.insert(2);
        seen.insert(3);
        seen.insert(3);
        assert_eq!(seen.page(), [3]);
        seen.next_page();
        assert!(seen.page().is_empty() && seen.contains(3) && seen.contains(1));
    }
}
