//! Opaque list cursors: the last key of a page, encoded, and accepted back
//! only by the listing (index partition) it came from, so a forged cursor
//! cannot read another tenant's keys.

use crate::dynamo::Item;
use app::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::BTreeMap;

/// A cursor for the key that ends a page.
pub fn encode(last_key: &Item) -> Option<String> {
    let mut plain = BTreeMap::new();
    for (name, value) in last_key {
        plain.insert(name.clone(), value.as_s().ok()?.clone());
    }
    let json = serde_json::to_vec(&plain).ok()?;
    Some(URL_SAFE_NO_PAD.encode(json))
}

/// The start key a cursor stands for, if it belongs to the listing whose
/// partition attribute `attribute` is `value`.
pub fn decode(
    cursor: Option<&str>,
    (attribute, value): (&str, &str),
) -> Result<Option<Item>, StoreError> {
    let Some(raw) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let json = URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| StoreError::BadCursor)?;
    let plain: BTreeMap<String, String> =
        serde_json::from_slice(&json).map_err(|_| StoreError::BadCursor)?;
    if plain.get(attribute).map(String::as_str) != Some(value) || plain.len() > 6 {
        return Err(StoreError::BadCursor);
    }
    Ok(Some(
        plain
            .into_iter()
            .map(|(name, value)| (name, AttributeValue::S(value)))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_within_their_partition_only() {
        let key: Item = [
            ("PK".to_string(), AttributeValue::S("T#a".into())),
            ("SK".to_string(), AttributeValue::S("X#1".into())),
        ]
        .into();
        let cursor = encode(&key).unwrap();
        assert_eq!(decode(Some(&cursor), ("PK", "T#a")).unwrap(), Some(key));
        assert!(decode(Some(&cursor), ("PK", "T#b")).is_err());
        assert!(decode(Some("garbage!"), ("PK", "T#a")).is_err());
        assert_eq!(decode(None, ("PK", "T#a")).unwrap(), None);
        assert_eq!(decode(Some(""), ("PK", "T#a")).unwrap(), None);
    }
}
