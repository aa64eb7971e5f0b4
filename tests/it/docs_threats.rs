//! `docs/security.md`'s threat table names, for each surface, the test that shows its bound
//! (`MODULE::function`): every test it names exists, so the table cannot cite a test that is
//! gone or never was.

#[test]
fn every_test_the_threat_table_names_exists() {
    let root = env!("CARGO_MANIFEST_DIR");
    let doc = std::fs::read_to_string(format!("{root}/docs/security.md")).unwrap();
    let mut named = 0;
    let mut missing = Vec::new();
    for span in doc.split('`').skip(1).step_by(2) {
        let Some((module, function)) = span.split_once("::") else {
            continue;
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !plain(module) || !plain(function) {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(format!("{root}/tests/it/{module}.rs")) else {
            continue;
        };
        named += 1;
        if !source.contains(&format!("fn {function}(")) {
            missing.push(format!("{module}::{function}"));
        }
    }
    assert!(named > 50, "the table names {named} tests");
    assert!(
        missing.is_empty(),
        "docs/security.md names tests that do not exist: {missing:?}"
    );
}
