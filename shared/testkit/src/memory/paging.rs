//! Pages and cursors. A listing is its items in order, each with the sort
//! key that places it (the key the DynamoDB index sorts by). A cursor names
//! the listing it came from and the key of the last item shown, hex-encoded
//! so callers treat it as opaque; the next page starts strictly after it,
//! so items written meanwhile before it are skipped and after it are seen,
//! as with `ExclusiveStartKey`.

use app::ports::{Page, PageRequest, StoreError, StoreResult};

/// The order a listing is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Ascending,
    Descending,
}

const SEPARATOR: char = '\n';

fn encode(signature: &str, key: &str) -> String {
    format!("{signature}{SEPARATOR}{key}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The key a cursor continues after; any text that is not a cursor of this
/// listing is [`StoreError::BadCursor`].
fn decode(signature: &str, cursor: &str) -> StoreResult<String> {
    if !cursor.len().is_multiple_of(2) {
        return Err(StoreError::BadCursor);
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or(StoreError::BadCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::BadCursor)?;
    match text.split_once(SEPARATOR) {
        Some((from, key)) if from == signature => Ok(key.to_string()),
        _ => Err(StoreError::BadCursor),
    }
}

/// One page of `items` (already in listing order, keyed by sort key).
/// `signature` identifies the listing: tenant, what is listed and how it is
/// filtered, so a cursor is only accepted by the listing that made it.
pub(crate) fn page<T>(
    items: Vec<(String, T)>,
    order: Order,
    request: &PageRequest,
    signature: &str,
) -> StoreResult<Page<T>> {
    if request.limit == 0 {
        // DynamoDB refuses a Query limit below 1.
        return Err(StoreError::Rejected(
            "a page limit must be at least 1".into(),
        ));
    }
    // An empty cursor is no cursor, as the DynamoDB store reads it.
    let after = request
        .cursor
        .as_deref()
        .filter(|cursor| !cursor.is_empty())
        .map(|cursor| decode(signature, cursor))
        .transpose()?;
    let mut rest = items.into_iter().filter(|(key, _)| match (&after, order) {
        (None, _) => true,
        (Some(after), Order::Ascending) => key.as_str() > after.as_str(),
        (Some(after), Order::Descending) => key.as_str() < after.as_str(),
    });
    let mut taken: Vec<(String, T)> = rest.by_ref().take(request.limit).collect();
    let more = rest.next().is_some();
    let next_cursor = match (more, taken.last()) {
        (true, Some((key, _))) => Some(encode(signature, key)),
        _ => None,
    };
    Ok(Page {
        items: taken.drain(..).map(|(_, item)| item).collect(),
        next_cursor,
    })
}

/// Sorts a listing by its keys in `order`.
pub(crate) fn sorted<T>(mut items: Vec<(String, T)>, order: Order) -> Vec<(String, T)> {
    items.sort_by(|a, b| match order {
        Order::Ascending => a.0.cmp(&b.0),
        Order::Descending => b.0.cmp(&a.0),
    });
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> Vec<(String, u32)> {
        (1..=5).map(|i| (format!("k{i}"), i)).collect()
    }

    fn request(limit: usize, cursor: Option<String>) -> PageRequest {
        PageRequest { limit, cursor }
    }

    #[test]
    fn pages_walk_the_listing_once_and_the_last_has_no_cursor() {
        let first = page(listing(), Order::Ascending, &request(2, None), "s").unwrap();
        assert_eq!(first.items, [1, 2]);
        let second = page(
            listing(),
            Order::Ascending,
            &request(2, first.next_cursor),
            "s",
        )
        .unwrap();
        assert_eq!(second.items, [3, 4]);
        let third = page(
            listing(),
            Order::Ascending,
            &request(2, second.next_cursor),
            "s",
        )
        .unwrap();
        assert_eq!(third.items, [5]);
        assert_eq!(third.next_cursor, None);
        let exact = page(listing(), Order::Ascending, &request(5, None), "s").unwrap();
        assert_eq!(exact.next_cursor, None, "no empty page after a full one");
    }

    #[test]
    fn descending_listings_continue_below_the_cursor() {
        let items = sorted(listing(), Order::Descending);
        let first = page(items.clone(), Order::Descending, &request(3, None), "s").unwrap();
        assert_eq!(first.items, [5, 4, 3]);
        let second = page(
            items,
            Order::Descending,
            &request(3, first.next_cursor),
            "s",
        )
        .unwrap();
        assert_eq!(second.items, [2, 1]);
    }

    #[test]
    fn foreign_or_garbled_cursors_are_refused() {
        let first = page(listing(), Order::Ascending, &request(1, None), "s").unwrap();
        let foreign = page(
            listing(),
            Order::Ascending,
            &request(1, first.next_cursor),
            "other",
        );
        assert!(matches!(foreign, Err(StoreError::BadCursor)));
        for garbage in ["zz", "abc", "6b31", "ff"] {
            let result = page(
                listing(),
                Order::Ascending,
                &request(1, Some(garbage.into())),
                "s",
            );
            assert!(matches!(result, Err(StoreError::BadCursor)), "{garbage}");
        }
        assert!(matches!(
            page(listing(), Order::Ascending, &request(0, None), "s"),
            Err(StoreError::Rejected(_))
        ));
        let empty = page(
            listing(),
            Order::Ascending,
            &request(1, Some(String::new())),
            "s",
        )
        .unwrap();
        assert_eq!(empty.items, [1], "an empty cursor starts at the beginning");
    }
}
