//! The service's own source, as the tests that read it see it: the code of each `.rs` file,
//! without its tests and comments. The route scan (`server::document_tests`) and the proofs that
//! each rule is written once (`store::rule_texts`) both walk the source through here. It knows no
//! other module.

#![cfg(test)]

use std::path::Path;

/// The code of every crate of the workspace (`src/`, and `crates/*/src/`), as (path, code).
pub(crate) fn workspace_code() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    code_below(&root.join("src"), &[], &mut files);
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        let krate_src = krate.unwrap().path().join("src");
        if krate_src.is_dir() {
            code_below(&krate_src, &[], &mut files);
        }
    }
    files
}

/// Every `.rs` file below `dir` whose path (or a folder's) does not end in one of `skip`, as
/// (path, code): no file of tests, no test module, no comments.
pub(crate) fn code_below(dir: &Path, skip: &[&str], out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let shown = path.display().to_string();
        if skip.iter().any(|s| shown.ends_with(s)) {
            continue;
        }
        if path.is_dir() {
            code_below(&path, skip, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            // A file of tests, this one among them (`tests.rs`: a module's tests, declared by
            // its parent under `#[cfg(test)]`).
            if text.contains("#![cfg(test)]") || path.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            // What the service runs: no test module, no comments.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            out.push((shown, code));
        }
    }
}
