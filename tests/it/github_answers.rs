//! Every command gets an answer (issue 42, item 6): a command whose reply is collapsed into an
//! identical one just written gets an `eyes` reaction, and one whose reply is throttled a
//! `confused` reaction — each on the person's own comment, queued with the decision.

use crate::github_support::story::Story;

/// The App's reactions on a comment.
fn reactions(story: &Story, comment: u64) -> Vec<String> {
    story
        .fake
        .reactions()
        .iter()
        .filter(|r| r.comment_id == comment)
        .map(|r| r.content.clone())
        .collect()
}

#[tokio::test]
async fn six_people_without_write_access_each_get_an_answer() {
    let story = Story::start().await;
    let n = story.label_issue("Fix the flaky test", &[]).await;
    story.expect_status(n, &["**Ready**"]);
    let people = ["ana", "ben", "cai", "dee", "eli", "fay"];

    // Each tries to block the issue: each is told why not.
    for login in people {
        let c = story.comment(n, login, "/owp block it is spam").await;
        story.expect_comment(
            n,
            &format!("@{login}, only maintainers (people with write access or above) can use `/owp block`"),
        );
        assert!(
            reactions(&story, c).is_empty(),
            "{login}: a reply, no reaction"
        );
    }
    // Each tries again at once: the same reply is not written twice, and each comment gets 👀.
    for login in people {
        let c = story
            .comment(n, login, "/owp block really, it is spam")
            .await;
        assert_eq!(reactions(&story, c), ["eyes"], "{login}'s repeat");
    }
    story.expect_no_new_comments(n);

    // One of them keeps going: replies until the limit of 3 on one issue, then 😕.
    let c = story.comment(n, "ana", "/owp unblock").await;
    story.expect_comment(
        n,
        "@ana, only maintainers (people with write access or above) can use `/owp unblock`",
    );
    assert!(reactions(&story, c).is_empty());
    story.comment(n, "ana", "/owp release").await;
    story.expect_comment(
        n,
        "@ana, you don't hold this issue, so there is nothing to release.",
    );
    let c = story.comment(n, "ana", "/owp renew").await;
    assert_eq!(reactions(&story, c), ["confused"]);
    // A comment with two unanswered commands gets one reaction.
    let c = story.comment(n, "ana", "/owp renew\n/owp release").await;
    assert_eq!(reactions(&story, c), ["confused"]);
    story.expect_no_new_comments(n);
    assert_eq!(
        story.task(n).await.status,
        owp::domain::TaskStatus::Ready,
        "nobody blocked it"
    );
}
