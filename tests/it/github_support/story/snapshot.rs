//! What a story leaves written, checked when it ends: every comment of the App asserted, and the
//! App's comments against the story's reviewed snapshot.

use super::Story;

impl Story {
    /// What the App left written on the story's issues and pull requests, in the order it wrote
    /// them: each comment's last text under its issue's number.
    fn transcript(&self) -> String {
        let numbers: Vec<u64> = self.numbers.lock().unwrap().iter().copied().collect();
        let mut out = String::new();
        for number in numbers {
            let mut comments = self.bot_comments(number);
            comments.sort_by_key(|c| c.id);
            for c in comments {
                out.push_str(&format!("── #{number} ──\n{}\n", c.body.trim_end()));
            }
        }
        out
    }

    /// Checks the App's comments against the story's reviewed snapshot (see `reviewed`).
    fn check_comments_snapshot(&self) {
        let transcript = self.transcript();
        if transcript.is_empty() {
            return;
        }
        let shared = self.snapshot.lock().unwrap().clone();
        if let Some(name) = shared.or_else(crate::reviewed::test_name) {
            crate::reviewed::check(
                "comments",
                &name,
                &transcript,
                "The App's comments at the end of the story.",
            );
        }
    }
}

impl Drop for Story {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.check_all_comments_asserted();
            self.check_comments_snapshot();
        }
    }
}
