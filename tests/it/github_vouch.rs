//! Vouch lists (contract section 12, rule 12, `denounced` / `not_vouched`): the App reads
//! `VOUCHED.td` (else `.github/VOUCHED.td`) from the default branch, again when a push changes
//! it; a vouched login counts as trust `vouch.trust` in the repository, a denounced one cannot
//! claim (and is answered at most once per issue, without the file's details), and with
//! `vouch.required` only vouched logins and maintainers claim. Maintainers vouch and denounce by
//! comment too; `GET /v1/admin/vouched` and `owp admin vouched` show the merged list.

use serde_json::{Value, json};

use crate::github_support::model::{FailWhen, Failure};
use crate::github_support::story::{ADMIN, INSTALLATION, REPO, Story};
use owp::domain::TaskStatus;

/// A push to the default branch of `repo` by `login` that changes `path` (`after` names the new
/// commit: GitHub never sends the same push twice).
fn push_payload(repo: &str, login: &str, path: &str, after: &str) -> Value {
    let user = json!({"login": login, "id": 9_000_001, "type": "User"});
    json!({
        "ref": "refs/heads/main",
        "before": "0".repeat(40),
        "after": after,
        "repository": {"id": 4711, "name": repo.split('/').nth(1), "full_name": repo,
                       "private": false, "default_branch": "main"},
        "commits": [{"id": "1".repeat(40), "message": "Vouch for people",
                     "added": [], "removed": [], "modified": [path]}],
        "head_commit": {"id": "1".repeat(40), "message": "Vouch for people",
                        "added": [], "removed": [], "modified": [path]},
        "pusher": {"name": login, "email": null},
        "sender": user,
        "installation": {"id": INSTALLATION},
    })
}

/// Writes `VOUCHED.td` of the story's repository and pushes it.
pub(crate) async fn push_list(story: &Story, text: &str) {
    push_file(story, "VOUCHED.td", text).await;
}

/// Writes the file at `path` of the story's repository and pushes it, as a new commit each time,
/// and waits for its effects.
pub(crate) async fn push_file(story: &Story, path: &str, text: &str) {
    story.send("push", &commit_file(story, path, text)).await;
}

/// [`push_file`], waiting only until the push is applied, not for the comments it asks for.
pub(crate) async fn push_file_applied(story: &Story, path: &str, text: &str) {
    story.deliver("push", &commit_file(story, path, text)).await;
}

/// Writes the file at `path` of the story's repository: the push that tells of it.
fn commit_file(story: &Story, path: &str, text: &str) -> Value {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PUSHES: AtomicUsize = AtomicUsize::new(0);
    story.fake.set_file(REPO, path, text);
    let n = PUSHES.fetch_add(1, Ordering::Relaxed);
    let after = format!(
        "{:040x}",
        (text.len() * 7919 + text.lines().count()) * 1_000_003 + n
    );
    push_payload(REPO, "octo-org", path, &after)
}

async fn vouched(story: &Story) -> Value {
    let (status, body) = story
        .admin(
            reqwest::Method::GET,
            &format!("/v1/admin/vouched?repo={REPO}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn vouch_story(postgres: bool) {
    let story = Story::on(postgres, Some("max_open_prs: 10\n"), |_| {}).await;
    push_list(
        &story,
        "# People we know\ngithub:vera\n-mallory opened forty bot pull requests\ngitlab:eve\n",
    )
    .await;
    let list = vouched(&story).await;
    assert_eq!(
        list,
        json!({"repo": REPO, "errors": [], "entries": [
            {"login": "mallory", "vouched": false, "denounced": true,
             "details": "opened forty bot pull requests", "source": "file"},
            {"login": "vera", "vouched": true, "denounced": false, "source": "file"},
        ]})
    );

    // The denounced person is refused once, without the file's details; again, silence.
    let n = story.label_issue("Fix the parser", &[]).await;
    story.comment(n, "mallory", "/owp claim").await;
    let reply = story.expect_comment(
        n,
        "@mallory, you can't claim this issue right now: this repository's maintainers do not \
         take contributions from you here.",
    );
    assert!(!reply.body.contains("forty"), "{}", reply.body);
    story.comment(n, "mallory", "/owp claim").await;
    story.comment(n, "mallory", "/owp renew").await;
    story.expect_status(n, &["**Ready**"]);
    story.expect_no_new_comments(n);
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);

    // A vouched person gets a tier-1 task (trust 1 here); a stranger does not.
    let hard = story.label_issue("Rework the cache", &["tier:1"]).await;
    story.comment(hard, "stranger", "/owp claim").await;
    story.expect_comment(hard, "this task is tier 1");
    story.comment(hard, "vera", "/owp claim").await;
    story.expect_status(hard, &["claimed by @vera"]);

    // A denounced author's pull request is recorded and does not act on the task.
    let pr = story.open_pr("mallory", &format!("Fixes #{n}")).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    assert_eq!(story.policy().await.open_prs, 0);
    // Merged anyway by a maintainer: the task is done and nobody is credited.
    story.merge_pr(pr).await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Merged);
    let credit = &task.artifact.as_ref().unwrap()["credit"];
    assert_eq!(credit["worker_id"], Value::Null, "{credit}");
    assert_eq!(credit["github_login"], Value::Null, "{credit}");
    story.expect_status(n, &[]);

    // A maintainer denounces by comment (the reason is kept, not repeated); a non-maintainer
    // cannot.
    story.fake.set_permission(REPO, "maint", "write");
    let m = story.label_issue("Document the flag", &[]).await;
    story.comment(m, "vera", "/owp denounce @stranger").await;
    story.expect_comment(m, "only maintainers");
    let denounce = story
        .comment(m, "maint", "/owp denounce @Stranger drive-by spam")
        .await;
    assert!(story.reacted(denounce, "+1"));
    story.comment(m, "stranger", "/owp claim").await;
    story.expect_comment(m, "do not take contributions from you here");
    let entries = vouched(&story).await["entries"].clone();
    assert!(
        entries
            .as_array()
            .unwrap()
            .contains(&json!({"login": "stranger", "vouched": false,
            "denounced": true, "details": "drive-by spam", "source": "command"})),
        "{entries}"
    );
    // Unvouched by command: the denouncement is gone.
    let unvouch = story.comment(m, "maint", "/owp unvouch @stranger").await;
    assert!(story.reacted(unvouch, "+1"));
    let malformed = story.comment(m, "maint", "/owp vouch").await;
    assert!(!story.reacted(malformed, "+1"));
    story.expect_comment(m, "needs one GitHub login");

    // Only vouched people and maintainers, from now on; the push re-reads the settings and the
    // list.
    story.fake.set_file(
        REPO,
        ".github/owp.yml",
        "max_open_prs: 10\nvouch:\n  required: true\n",
    );
    push_list(&story, "github:vera\ngithub:newbie\n-mallory\n").await;
    story.comment(m, "stranger", "/owp claim").await;
    story.expect_comment(
        m,
        "this repository takes claims only from people its vouch list (`VOUCHED.td`) vouches for",
    );
    story.comment(m, "newbie", "/owp claim").await;
    story.expect_status(m, &["claimed by @newbie"]);
    let k = story.label_issue("Tidy the docs", &[]).await;
    story.comment(k, "maint", "/owp claim").await;
    story.expect_status(k, &["claimed by @maint"]);

    // `owp admin vouched` prints the merged list in the file's format.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["admin", "vouched", REPO, "--server", &story.url()])
        .args(["--admin-token", ADMIN])
        .env_remove("OWP_ADMIN_TOKEN")
        .env_remove("OWP_SERVER")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        ["-github:mallory", "github:newbie", "github:vera"],
        "{text}"
    );
}

#[tokio::test]
async fn a_vouch_list_gates_claims_and_pull_requests_sqlite() {
    vouch_story(false).await;
}

#[tokio::test]
async fn a_vouch_list_gates_claims_and_pull_requests_postgres() {
    vouch_story(true).await;
}

/// An imported list GitHub does not give closes a repository with `vouch.required` to all but
/// maintainers (the rule fails closed and says it will read it again); once read, its
/// denouncements apply here and its vouches do not.
async fn fail_closed_story(postgres: bool) {
    let story = Story::on(postgres, Some("max_open_prs: 10\n"), |_| {}).await;
    let lists = "octo-org/lists";
    story.fake.add_repo(INSTALLATION, lists);
    story
        .fake
        .set_file(lists, "VOUCHED.td", "-github:mallory\ngithub:outsider\n");
    story.fake.set_file(
        REPO,
        ".github/owp.yml",
        "max_open_prs: 10\nvouch:\n  required: true\n  import: [octo-org/lists]\n",
    );
    story.fake.fail(
        FailWhen::on("GET", "/repos/octo-org/lists/contents"),
        20,
        Failure::ServerError,
    );
    push_list(&story, "github:vera\ngithub:mallory\n").await;
    let n = story.label_issue("Fix the parser", &[]).await;
    story.comment(n, "vera", "/owp claim").await;
    story.expect_comment(n, "the list could not be read yet");
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);

    story.github_recovers();
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    story.comment(n, "outsider", "/owp claim").await;
    story.expect_comment(n, "vouches for — ask a maintainer to vouch for you");
    story.comment(n, "mallory", "/owp claim").await;
    story.expect_comment(n, "do not take contributions from you here");
    story.comment(n, "vera", "/owp claim").await;
    story.expect_status(n, &["claimed by @vera"]);
    assert_eq!(vouched(&story).await["errors"], json!([]));

    // An import the App cannot read is shown to maintainers, and closes the repository again.
    story.fake.set_file(
        REPO,
        ".github/owp.yml",
        "max_open_prs: 10
vouch:
  required: true
  import: [octo-org/lists, ghost/none]
",
    );
    push_list(
        &story,
        "github:vera
github:mallory
github:newbie
",
    )
    .await;
    let errors = vouched(&story).await["errors"].clone();
    assert_eq!(
        errors,
        json!([
            "vouch.import: ghost/none has no VOUCHED.td, or the App cannot read it (a \
                public repository, or one where the App is installed)"
        ])
    );
    let m = story.label_issue("Document the flag", &[]).await;
    story.comment(m, "newbie", "/owp claim").await;
    story.expect_comment(m, "the list could not be read yet");
    story.expect_status(m, &["**Ready**"]);
}

#[tokio::test]
async fn an_unread_list_fails_closed_and_imports_denounce_sqlite() {
    fail_closed_story(false).await;
}

#[tokio::test]
async fn an_unread_list_fails_closed_and_imports_denounce_postgres() {
    fail_closed_story(true).await;
}

/// A linked worker's REST claims follow the same rules, and the preview names rule 12.
#[tokio::test]
async fn the_preview_names_the_vouch_rules() {
    let story = Story::on(false, Some("max_open_prs: 10\n"), |_| {}).await;
    push_list(&story, "-mallory\n").await;
    let n = story.label_issue("Fix the parser", &[]).await;
    let registration = json!({"name": "mal-bot", "skills": [], "capacity_points": 5});
    let token = story.linked_worker(n, "mallory", registration).await;
    let (status, answer) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 204, "{answer}");
    let preview = story.preview(&token).await;
    let reasons = &preview["refused"][0]["reasons"];
    assert_eq!(reasons[0]["rule"], 12, "{preview}");
    assert_eq!(reasons[0]["code"], "denounced", "{preview}");

    // `vouch.trust: 2` lifts a vouched worker to tier 2 tasks.
    story.fake.set_file(
        REPO,
        ".github/owp.yml",
        "max_open_prs: 10\nvouch:\n  trust: 2\n  required: true\n",
    );
    push_list(&story, "-mallory\nvera\n").await;
    let hard = story.label_issue("Rework the cache", &["tier:2"]).await;
    let registration = json!({"name": "vera-bot", "skills": [], "capacity_points": 5,
                              "max_concurrent_tasks": 2});
    let vera = story.linked_worker(hard, "vera", registration).await;
    let registration = json!({"name": "other-bot", "skills": [], "capacity_points": 5});
    let other = story.linked_worker(hard, "other", registration).await;
    let (status, answer) = story.post_json("/v1/work", Some(&other), json!({})).await;
    assert_eq!(status, 204, "{answer}");
    let preview = story.preview(&other).await;
    let codes: Vec<&str> = preview["refused"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["reasons"].as_array())
        .flatten()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes.contains(&"not_vouched"), "{preview}");
    for key in [n, hard] {
        let (status, answer) = story.post_json("/v1/work", Some(&vera), json!({})).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["lease"]["task"]["key"], format!("{REPO}#{key}"));
        story.expect_status(key, &["vera-bot"]);
    }

    // Bad input to the admin route is a problem, never a 500.
    let (status, body) = story
        .admin(reqwest::Method::GET, "/v1/admin/vouched?repo=nope", None)
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_repo")));
    let (status, _) = story
        .admin(reqwest::Method::GET, "/v1/admin/vouched?repo=o/none", None)
        .await;
    assert_eq!(status, 404);
}

/// A list's logins are resolved to account ids when the App reads it (contract section 14): a
/// denounced account that renames itself stays denounced, even after the list changes, and a new
/// account that takes its login is not. A list saved with a byte-order mark denounces its first
/// entry; lines that are not valid entries are shown to maintainers, the others apply.
async fn denouncements_follow_the_account(postgres: bool) {
    let story = Story::on(postgres, Some("max_open_prs: 10\n"), |_| {}).await;
    let mallory = story.fake.user_id("mallory");
    push_list(
        &story,
        "\u{feff}-mallory spam\ngithub:vera\n- zed spam\ngithb:dave\nfrank, grace\n",
    )
    .await;
    assert!(story.fake.count_calls("GET", "/users/mallory") >= 1);
    let list = vouched(&story).await;
    assert_eq!(
        list["errors"],
        json!([format!(
            "{REPO}/VOUCHED.td: 3 line(s) are not valid entries and are not applied (line 3: \
             `-` must be followed by a handle, with no space between; line 4: `githb` is not a \
             platform (a handle is `login` or `github:login`); line 5: `frank,` is not a GitHub \
             login (one handle a line))"
        )]),
        "{list}"
    );
    let logins: Vec<&str> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["mallory", "vera"]);

    let n = story.label_issue("Fix the parser", &[]).await;
    story.comment(n, "mallory", "/owp claim").await;
    story.expect_comment(n, "do not take contributions from you here");
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);

    // mallory renames; a new account takes the login.
    story.fake.rename_account("mallory", "mallory-two");
    story
        .fake
        .new_account("mallory", story.now() - chrono::TimeDelta::days(400));
    assert_ne!(story.fake.user_id("mallory"), mallory);
    let m = story.label_issue("Document the flag", &[]).await;
    story.comment(m, "mallory-two", "/owp claim").await;
    story.expect_comment(m, "do not take contributions from you here");
    assert_eq!(story.task(m).await.status, TaskStatus::Ready);
    story.expect_status(m, &["**Ready**"]);

    // The list changes (its old login still names the account it was resolved to).
    push_list(&story, "-mallory spam\ngithub:vera\ngithub:walt\n").await;
    let k = story.label_issue("Tidy the docs", &[]).await;
    story.comment(k, "mallory-two", "/owp claim").await;
    story.expect_comment(k, "do not take contributions from you here");
    assert_eq!(story.task(k).await.status, TaskStatus::Ready);

    // The newcomer on the freed login is nobody the list denounced.
    story.comment(k, "mallory", "/owp claim").await;
    story.expect_status(k, &["claimed by @mallory"]);
}

#[tokio::test]
async fn denouncements_follow_the_account_sqlite() {
    denouncements_follow_the_account(false).await;
}

#[tokio::test]
async fn denouncements_follow_the_account_postgres() {
    denouncements_follow_the_account(true).await;
}

/// How many logins of the list GitHub does not know.
const DEAD: usize = 130;

/// How often the App asked GitHub about each of the dead logins (`GET /users/{login}`).
fn dead_asks(story: &Story) -> Vec<usize> {
    let calls = story.fake.calls();
    (0..DEAD)
        .map(|i| {
            let path = format!("/users/gone-{i}");
            calls
                .iter()
                .filter(|c| c.method == "GET" && c.path == path)
                .count()
        })
        .collect()
}

/// A list of 130 logins GitHub does not know, then vera's: the first read asks about as many as
/// one read may (vera, listed last, is not asked), a second read of the unchanged list asks only
/// the logins not asked yet, a third asks nothing; vera, proven by the device flow, is matched by
/// account id at once and claims in a repository that takes vouched people only.
async fn dead_logins_story(postgres: bool) {
    use crate::github_device_link::{poll_until_done, register, start};
    use owp::github::vouch::MAX_RESOLVED_PER_READ;
    let settings = "max_open_prs: 10\nvouch:\n  required: true\n";
    let story = crate::signin::story_with_settings(postgres, Some(settings), |_| {}).await;
    story.fake.user_id("vera");
    let mut list: String = (0..DEAD).map(|i| format!("gone-{i}\n")).collect();
    list.push_str("vera\n");
    push_list(&story, &list).await;
    let asked = dead_asks(&story);
    assert_eq!(asked.iter().sum::<usize>(), MAX_RESOLVED_PER_READ);
    assert!(asked.iter().all(|n| *n <= 1), "{asked:?}");
    assert_eq!(story.fake.count_calls("GET", "/users/vera"), 0);

    // vera proves her account with the device flow: her entry matches her, with no lookup.
    let (_, token) = register(&story, "vera-bot", None).await;
    let (device_code, user_code) = start(&story, &token).await;
    story.fake.approve_device(&user_code, "vera").unwrap();
    let (status, body) = poll_until_done(&story, &token, &device_code).await;
    assert_eq!(status, 200, "{body}");
    let n = story.label_issue("Fix the parser", &[]).await;
    let (status, lease) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{lease}");
    assert_eq!(lease["lease"]["task"]["key"], format!("{REPO}#{n}"));
    assert_eq!(story.fake.count_calls("GET", "/users/vera"), 0);

    // The unchanged list pushed again: only the logins never asked are asked.
    push_list(&story, &list).await;
    assert_eq!(dead_asks(&story), vec![1; DEAD]);
    push_list(&story, &list).await;
    assert_eq!(
        dead_asks(&story),
        vec![1; DEAD],
        "a dead login is remembered"
    );
    story.stop_checking_comments();
}

#[tokio::test]
async fn dead_logins_are_asked_once_and_a_linked_person_is_matched_at_once_sqlite() {
    dead_logins_story(false).await;
}

#[tokio::test]
async fn dead_logins_are_asked_once_and_a_linked_person_is_matched_at_once_postgres() {
    dead_logins_story(true).await;
}
