//! Path locks (rule 10, contract section 11): the patterns a task may carry, their bases, and
//! when two of them overlap.
//!
//! A pattern's *base* is its leading segments up to the first one holding `*`, `?` or `[`
//! (`src/auth/**` → `src/auth`, `docs/*.md` → `docs`, `**` → the empty base, which is the whole
//! repository); a plain file path is its own base. Two patterns overlap when one base equals the
//! other or contains it by whole segments (`src` contains `src/auth`, not `srcx`).
//!
//! The database tests overlap by equality alone: each pattern is stored once per *prefix* of its
//! base (every leading run of segments, from the empty one to the base itself, the last marked
//! `exact`). Two bases overlap exactly when they share a prefix row of which at least one side is
//! exact ([`prefixes`]; the claim's condition is `store::leases::claim_rules`).

use super::limits::{self, OutOfBounds};

/// Patterns of one task (`paths`).
pub const MAX_PATHS: usize = 20;
/// One pattern.
pub const MAX_PATH_CHARS: usize = 200;
/// Files of a pull request a task holds: more are folded into their directories
/// ([`from_changed_files`]), so one pull request of 3,000 files stays a bounded lock.
pub const MAX_PR_PATHS: usize = 100;

/// What the changed files of a pull request lock for the tasks it acts on
/// ([`from_changed_files`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrLock {
    /// These patterns (at most [`MAX_PR_PATHS`]).
    Paths(Vec<String>),
    /// More than a lock may hold even folded to top-level folders (or more files than GitHub
    /// lists): the task holds only its declared paths, and maintainers are told.
    TooBroad,
}

/// Where a task's patterns came from: `declared` by its import or its issue's `Paths:` line, or
/// read from the changed files of its linked pull request (`pr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathSource {
    Declared,
    PullRequest,
}

impl PathSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PathSource::Declared => "declared",
            PathSource::PullRequest => "pr",
        }
    }
}

fn is_glob(segment: &str) -> bool {
    segment.contains(['*', '?', '['])
}

/// One pattern in its stored form: surrounding spaces, a leading `./` or `/`, empty segments and a
/// trailing `/` dropped (`./src//auth/` → `src/auth`); `\` is read as `/`. Refused: an empty
/// pattern, one longer than [`MAX_PATH_CHARS`], control characters, and `.` or `..` segments.
pub fn normalize(field: &str, pattern: &str) -> Result<String, OutOfBounds> {
    limits::text(field, pattern, MAX_PATH_CHARS)?;
    let unified = pattern.trim().replace('\\', "/");
    let mut segments = Vec::new();
    for segment in unified.split('/') {
        match segment {
            "" => {}
            "." if segments.is_empty() => {}
            "." | ".." => {
                return Err(OutOfBounds {
                    code: "invalid_paths",
                    detail: format!("`{field}` must not hold a `.` or `..` segment"),
                });
            }
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        return Err(OutOfBounds {
            code: "invalid_paths",
            detail: format!("`{field}` is empty (use `**` for the whole repository)"),
        });
    }
    Ok(segments.join("/"))
}

/// A task's `paths`: at most [`MAX_PATHS`], each [`normalize`]d; duplicates are dropped, the
/// order kept.
pub fn check(field: &str, paths: &[String]) -> Result<Vec<String>, OutOfBounds> {
    if paths.len() > MAX_PATHS {
        return Err(OutOfBounds {
            code: "too_many_items",
            detail: format!("`{field}` has more than {MAX_PATHS} patterns"),
        });
    }
    let mut out: Vec<String> = Vec::with_capacity(paths.len());
    for (i, p) in paths.iter().enumerate() {
        let p = normalize(&format!("{field}[{i}]"), p)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// The base of a stored pattern (see the module docs).
pub fn base(pattern: &str) -> String {
    pattern
        .split('/')
        .take_while(|s| !is_glob(s))
        .collect::<Vec<_>>()
        .join("/")
}

/// Every prefix of the base of `pattern`, from the empty one to the base itself, with whether it
/// is the base (`exact`): the rows the database stores for the pattern.
pub fn prefixes(pattern: &str) -> Vec<(String, bool)> {
    let base = base(pattern);
    let mut out = vec![(String::new(), base.is_empty())];
    if base.is_empty() {
        return out;
    }
    for (i, _) in base.match_indices('/') {
        out.push((base[..i].to_string(), false));
    }
    out.push((base, true));
    out
}

/// Whether two stored patterns overlap (see the module docs).
pub fn overlap(a: &str, b: &str) -> bool {
    let (a, b) = (base(a), base(b));
    let contains = |outer: &str, inner: &str| {
        outer.is_empty()
            || inner == outer
            || inner.len() > outer.len()
                && inner.starts_with(outer)
                && inner.as_bytes()[outer.len()] == b'/'
    };
    contains(&a, &b) || contains(&b, &a)
}

/// The patterns of an issue body's `Paths:` line (`Paths: src/auth/**, docs/*.md`), the first such
/// line; `None` without one. Each pattern is checked as an import's are (an issue body is a
/// stranger's text): the error names `Paths`.
pub fn from_issue_body(body: &str) -> Option<Result<Vec<String>, OutOfBounds>> {
    let line = body.lines().find_map(|line| {
        let line = line.trim();
        let (name, rest) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("paths").then_some(rest)
    })?;
    let patterns: Vec<String> = line
        .split(',')
        .map(|p| p.trim().trim_matches('`').to_string())
        .filter(|p| !p.is_empty())
        .collect();
    Some(check("Paths", &patterns))
}

/// The patterns a pull request's changed files hold: each file itself, or, past
/// [`MAX_PR_PATHS`], the deepest ones folded into their directories (`src/a/x.rs`, `src/a/y.rs` →
/// `src/a/**`) until at most that many remain, never past a file's top-level folder: a pull
/// request locks what it changes, never the repository's root (`**`). `None` when even its
/// top-level folders and root files are more than [`MAX_PR_PATHS`]: the pull request is too broad
/// to lock (contract section 13: its task then holds only its declared paths). Files that do not
/// [`normalize`] are left out, and so are names whose first segment reads as a glob (`*`,
/// `[x]/y`), which would lock the whole repository.
pub fn from_changed_files(files: &[String]) -> Option<Vec<String>> {
    let mut paths = distinct(
        files
            .iter()
            .filter_map(|f| normalize("file", f).ok())
            .filter(|p| !base(p).is_empty()),
    );
    let depth = |p: &str| base(p).matches('/').count() + 1;
    while paths.len() > MAX_PR_PATHS {
        let deepest = paths.iter().map(|p| depth(p)).max().unwrap_or(1);
        let folded = distinct(paths.iter().map(|p| {
            if depth(p) < deepest {
                return p.clone();
            }
            match base(p).rsplit_once('/') {
                Some((parent, _)) => format!("{parent}/**"),
                // A top-level folder or a root file stays itself.
                None => p.clone(),
            }
        }));
        // Files in as many directories as there are files fold into those directories first
        // (same count, other patterns), then into their parents; at the top level nothing folds
        // any more, and what is still too many is too broad.
        if folded == paths {
            return None;
        }
        paths = folded;
    }
    Some(paths)
}

/// The items of `items` in their order, each once (a set keeps it linear in a pull request's
/// thousands of files).
fn distinct(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.filter(|p| seen.insert(p.clone())).collect()
}

/// How [`shown`] words a pattern whose base is empty (`**`, `*.md`).
pub const WHOLE_REPOSITORY: &str = "the whole repository";

/// The directory a person reads for a pattern, for messages: its base with a trailing `/` when
/// the pattern is a glob (`src/auth/**` → `src/auth/`), the pattern itself otherwise.
pub fn shown(pattern: &str) -> String {
    let b = base(pattern);
    if b == pattern {
        pattern.to_string()
    } else if b.is_empty() {
        WHOLE_REPOSITORY.to_string()
    } else {
        format!("{b}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_stop_at_the_first_glob_segment() {
        assert_eq!(base("src/auth/**"), "src/auth");
        assert_eq!(base("docs/*.md"), "docs");
        assert_eq!(base("src/a.rs"), "src/a.rs");
        assert_eq!(base("**"), "");
        assert_eq!(base("src/[ab]/x"), "src");
        assert_eq!(base("a?/b"), "");
    }

    #[test]
    fn overlap_is_by_whole_segments() {
        assert!(overlap("src/auth/**", "src/auth/login.rs"));
        assert!(overlap("src/**", "src/auth/**"));
        assert!(overlap("src/auth/login.rs", "src/auth/login.rs"));
        assert!(overlap("**", "anything/at/all"));
        assert!(!overlap("src/auth/**", "src/authz/x.rs"));
        assert!(!overlap("src/a.rs", "src/b.rs"));
        assert!(!overlap("docs/*.md", "src/docs/x.md"));
        // A glob after the base is not read: `docs/*.md` holds `docs`.
        assert!(overlap("docs/*.md", "docs/api/x.rs"));
    }

    #[test]
    fn shared_prefix_rows_with_one_exact_side_are_exactly_the_overlaps() {
        let patterns = [
            "**",
            "src/**",
            "src/auth/**",
            "src/auth/login.rs",
            "src/authz/x.rs",
            "src/b.rs",
            "docs/*.md",
            "docs/api/x.rs",
            "srcx/y",
        ];
        for a in patterns {
            for b in patterns {
                let rows_say = prefixes(a)
                    .iter()
                    .any(|(pa, ea)| prefixes(b).iter().any(|(pb, eb)| pa == pb && (*ea || *eb)));
                assert_eq!(rows_say, overlap(a, b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn patterns_are_normalized_and_bounded() {
        assert_eq!(normalize("p", " ./src//auth/ ").unwrap(), "src/auth");
        assert_eq!(normalize("p", "src\\win\\x.rs").unwrap(), "src/win/x.rs");
        assert_eq!(normalize("p", "/etc").unwrap(), "etc");
        assert_eq!(normalize("p", "a/../b").unwrap_err().code, "invalid_paths");
        assert_eq!(normalize("p", " / ").unwrap_err().code, "invalid_paths");
        assert_eq!(
            normalize("p", &"a".repeat(201)).unwrap_err().code,
            "field_too_long"
        );
        assert_eq!(
            normalize("p", "a\u{1b}[31m").unwrap_err().code,
            "invalid_characters"
        );
        let many: Vec<String> = (0..21).map(|i| format!("f{i}")).collect();
        assert_eq!(check("paths", &many).unwrap_err().code, "too_many_items");
        assert_eq!(
            check("paths", &["a".into(), "./a".into()]).unwrap(),
            vec!["a"]
        );
    }

    #[test]
    fn an_issue_body_line_sets_paths() {
        let body = "Fix the login.\n\nPaths: `src/auth/**`, docs/*.md\nPaths: other";
        assert_eq!(
            from_issue_body(body).unwrap().unwrap(),
            vec!["src/auth/**", "docs/*.md"]
        );
        assert!(from_issue_body("no line here").is_none());
        assert!(from_issue_body("paths: a/../b").unwrap().is_err());
    }

    #[test]
    fn many_changed_files_fold_into_their_directories() {
        let files: Vec<String> = (0..150)
            .map(|i| format!("src/m{}/f{i}.rs", i % 7))
            .chain(["README.md".to_string()])
            .collect();
        let paths = from_changed_files(&files).unwrap();
        assert!(paths.len() <= MAX_PR_PATHS);
        assert!(paths.contains(&"src/m3/**".to_string()));
        assert!(paths.contains(&"README.md".to_string()));
        for f in &files {
            assert!(paths.iter().any(|p| overlap(p, f)), "{f} is held");
        }
        let few = from_changed_files(&["a/b.rs".into(), "a/b.rs".into()]);
        assert_eq!(few, Some(vec!["a/b.rs".to_string()]));
    }

    #[test]
    fn files_each_in_a_directory_of_its_own_fold_past_those_directories() {
        // As many directories as files: folding into them keeps the count, so their parents
        // come next; the lock stays bounded and still holds every file.
        let files: Vec<String> = (0..3_000).map(|i| format!("pkg/d{i}/x.rs")).collect();
        assert_eq!(from_changed_files(&files), Some(vec!["pkg/**".to_string()]));
        let mixed: Vec<String> = (0..120)
            .map(|i| format!("a/d{i}/x.rs"))
            .chain((0..5).map(|i| format!("b/f{i}.rs")))
            .collect();
        let paths = from_changed_files(&mixed).unwrap();
        assert!(paths.len() <= MAX_PR_PATHS, "{paths:?}");
        for f in &mixed {
            assert!(paths.iter().any(|p| overlap(p, f)), "{f} is held");
        }
    }

    #[test]
    fn a_pull_request_never_locks_the_root() {
        // 150 top-level folders, or 101 files at the root: more than a lock may hold, and never
        // `**`: too broad.
        let flat: Vec<String> = (0..150).map(|i| format!("d{i}/x.rs")).collect();
        assert_eq!(from_changed_files(&flat), None);
        let root: Vec<String> = (0..101).map(|i| format!("f{i}.txt")).collect();
        assert_eq!(from_changed_files(&root), None);
        // 100 root files and thousands under two folders: those folders and the root files.
        let files: Vec<String> = (0..98)
            .map(|i| format!("f{i}.txt"))
            .chain((0..3_000).map(|i| format!("src/m{}/f{i}.rs", i % 40)))
            .chain(["docs/a.md".to_string()])
            .collect();
        let paths = from_changed_files(&files).unwrap();
        assert_eq!(paths.len(), 100, "{paths:?}");
        assert!(paths.contains(&"src/**".to_string()), "{paths:?}");
        assert!(paths.contains(&"docs/**".to_string()), "{paths:?}");
        assert!(paths.contains(&"f0.txt".to_string()), "{paths:?}");
        // A name that reads as a glob at the top is left out, not read as the whole repository.
        let globs = [
            "*".to_string(),
            "**".to_string(),
            "[a]/b".to_string(),
            "ok.rs".into(),
        ];
        assert_eq!(from_changed_files(&globs), Some(vec!["ok.rs".to_string()]));
        for files in [&flat, &root, &files, &globs.to_vec()] {
            for p in from_changed_files(files).unwrap_or_default() {
                assert!(!base(&p).is_empty(), "{p} locks the root");
            }
        }
    }

    #[test]
    fn shown_reads_as_a_directory() {
        assert_eq!(shown("src/auth/**"), "src/auth/");
        assert_eq!(shown("src/a.rs"), "src/a.rs");
        assert_eq!(shown("**"), "the whole repository");
    }
}
