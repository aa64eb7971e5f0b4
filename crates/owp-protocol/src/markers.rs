//! The hidden markers by which the App finds its own comments on GitHub again.
//!
//! - A task's living status comment starts with `<!-- owp:status task=TASK_ID -->`.
//! - Any other comment can end with `<!-- owp:comment id=ID -->`, so that a sender interrupted
//!   between GitHub's answer and its own commit sees that the comment exists instead of posting it
//!   twice.
//!
//! An id keeps only characters that can neither end the HTML comment nor confuse a search.

const STATUS_MARKER_START: &str = "<!-- owp:status task=";
const COMMENT_MARKER_START: &str = "<!-- owp:comment id=";
const MARKER_END: &str = " -->";

/// The hidden first line of a task's status comment.
pub fn status_marker(task_id: &str) -> String {
    format!("{STATUS_MARKER_START}{}{MARKER_END}", marker_safe(task_id))
}

/// The task id of a status comment, when `body` is one.
pub fn find_status_marker(body: &str) -> Option<&str> {
    find_marker(body, STATUS_MARKER_START)
}

/// The hidden line naming a comment by `id` (an outbox id, say).
pub fn comment_marker(id: &str) -> String {
    format!("{COMMENT_MARKER_START}{}{MARKER_END}", marker_safe(id))
}

/// The id of a comment that carries [`comment_marker`].
pub fn find_comment_marker(body: &str) -> Option<&str> {
    find_marker(body, COMMENT_MARKER_START)
}

fn find_marker<'a>(body: &'a str, start: &str) -> Option<&'a str> {
    let after = &body[body.find(start)? + start.len()..];
    let id = &after[..after.find(MARKER_END)?];
    (!id.is_empty() && id == marker_safe(id)).then_some(id)
}

/// Only characters that cannot end an HTML comment or confuse a search.
pub fn marker_safe(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '#'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_are_told_apart() {
        assert_eq!(
            status_marker("tsk_01JD"),
            "<!-- owp:status task=tsk_01JD -->"
        );
        assert_eq!(
            find_status_marker("hi\n<!-- owp:status task=t_1 -->"),
            Some("t_1")
        );
        assert_eq!(find_status_marker("plain comment"), None);
        assert_eq!(find_status_marker("<!-- owp:status task= -->"), None);
        let comment = comment_marker("outbox-42");
        assert_eq!(find_comment_marker(&comment), Some("outbox-42"));
        assert_eq!(find_status_marker(&comment), None);
    }

    #[test]
    fn marker_ids_cannot_break_out_of_the_comment() {
        let m = status_marker("x --> <b>hi</b>");
        assert_eq!(m, "<!-- owp:status task=x--bhi/b -->");
        assert_eq!(find_status_marker(&m), Some("x--bhi/b"));
    }
}
