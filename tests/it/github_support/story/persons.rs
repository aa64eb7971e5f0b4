//! A person's workers in a story: registered, and linked to the person's GitHub account by their
//! `/owp link CODE` comment, as a volunteer links a worker.

use serde_json::{Value, json};

use super::{REPO, Story};

impl Story {
    /// Registers a worker named `name` (no skills, 5 points) that speaks for the person whose
    /// GitHub login is `name` (they comment `/owp link CODE` on an issue of the story, or on one
    /// made for it), as a task of an installed repository needs; returns its token.
    pub async fn register_worker(&self, name: &str) -> String {
        let registration = json!({"name": name, "skills": [], "capacity_points": 5});
        self.person_worker(name, registration).await
    }

    /// A worker of `login` named `name` that may hold five tasks; its token.
    pub async fn worker_of(&self, login: &str, name: &str) -> String {
        self.person_worker(login, five_tasks(name, json!({}))).await
    }

    /// A worker of `login` named `name` that may hold five tasks, registered with the fields of
    /// `extra` too (its opt-ins), linked by `login`'s comment on issue `links`: its token and id.
    pub async fn worker_linked_on(
        &self,
        links: u64,
        login: &str,
        name: &str,
        extra: Value,
    ) -> (String, String) {
        let token = self
            .linked_worker(links, login, five_tasks(name, extra))
            .await;
        let (status, me) = self.get_json("/v1/workers/me", &token).await;
        assert_eq!(status, 200, "{me}");
        let id = me["worker"]["worker_id"].as_str().unwrap().to_string();
        (token, id)
    }

    /// An issue outside the pool where people link workers; its number.
    pub fn links_issue(&self) -> u64 {
        self.fake.create_issue(
            REPO,
            "maintainer",
            "Links",
            "Where people link workers.",
            &[],
        )
    }

    /// Registers a worker with `registration` that speaks for the person `login` (they comment
    /// `/owp link CODE` on an issue of the story, or on one made for it); returns its token.
    pub async fn person_worker(&self, login: &str, registration: Value) -> String {
        let number = self.numbers.lock().unwrap().iter().min().copied();
        let number = number.unwrap_or_else(|| self.links_issue());
        self.linked_worker(number, login, registration).await
    }

    /// Registers a worker with `registration` and links it to `login`, who comments `/owp link
    /// CODE` on issue `number` (the App reacts 👍); returns the worker's token.
    pub async fn linked_worker(&self, number: u64, login: &str, registration: Value) -> String {
        let (status, reg) = self
            .post_json("/v1/workers/register", None, registration)
            .await;
        assert_eq!(status, 201, "{reg}");
        let token = reg["token"].as_str().unwrap().to_string();
        self.link(number, login, &token).await;
        token
    }

    /// `login` links the worker of `token` (again, for a relink): a new code, and their
    /// `/owp link CODE` comment on issue `number`, which the App takes (it reacts 👍).
    pub async fn link(&self, number: u64, login: &str, token: &str) {
        let (status, code) = self
            .post_json("/v1/workers/link-code", Some(token), json!({}))
            .await;
        assert_eq!(status, 201, "{code}");
        let code = code["code"].as_str().unwrap();
        let link = self
            .comment(number, login, &format!("/owp link {code}"))
            .await;
        assert!(self.reacted(link, "+1"), "the link of {login} was taken");
    }
}

/// The registration of a worker named `name` that may hold five tasks, with the fields of
/// `extra`.
fn five_tasks(name: &str, extra: Value) -> Value {
    let mut registration = json!({
        "name": name, "skills": [], "capacity_points": 10, "max_concurrent_tasks": 5
    });
    for (k, v) in extra.as_object().unwrap() {
        registration[k] = v.clone();
    }
    registration
}
