//! Identifiers for tests that need many distinct ones.

/// `count` distinct phone number ids (at most 100 000): `1065403522` and a five-digit index,
/// 15 digits each, valid `PhoneNumberId`s that the emulator accepts. Parse them where the type
/// is needed: `phone_number_ids(500).iter().map(|n| n.parse().unwrap())`.
pub fn phone_number_ids(count: usize) -> Vec<String> {
    assert!(count <= 100_000, "at most 100 000 ids of this form");
    (0..count).map(|i| format!("1065403522{i:05}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ids_are_distinct_15_digit_numbers() {
        let ids = super::phone_number_ids(500);
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), 500);
        assert!(ids
            .iter()
            .all(|n| n.len() == 15 && n.bytes().all(|b| b.is_ascii_digit())));
    }
}
