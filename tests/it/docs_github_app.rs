//! `docs/github-app.md`, run as a maintainer follows it, against the fake GitHub: from a fresh
//! directory, the App created on the setup page, installed, `owp serve` restarted plainly, the
//! labels made, an issue labelled, claimed by a volunteer and fixed by their pull request, the
//! maintainer signed in on the dashboard and in the terminal, and the pull request merged and
//! credited.
//!
//! Every ` ```bash ` block of the document is run as written, by `bash -c` in the fresh directory
//! with the built `owp` first on `PATH`, `HOME` inside the test's directory, and only these
//! changes: the port is a free one (`OWP_PORT`), GitHub is the fake (`GITHUB_API_URL`,
//! `GITHUB_WEB_URL`, as for GitHub Enterprise Server), and `https://YOUR-HOST` is the address the
//! test reaches the service at. The public address the document uses (`https://pool.example.org`)
//! stays: it is what the service writes into links and gives GitHub, and the test's browser opens
//! those links on the service's local address. What people do on GitHub's pages (create the App
//! from the manifest, install it, create labels, comment, open and merge a pull request, approve a
//! sign-in) is done to the fake, with the webhooks GitHub would send.
//!
//! The times from the fresh directory to the first status comment, the first linked pull request
//! and the first signed-in dashboard are printed (`cargo test --test it docs_github_app --
//! --nocapture`).

#![cfg(unix)]

#[allow(unused_imports)]
use crate::github_support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use github_support::FakeGithub;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// The public address the document is written with.
const PUBLIC: &str = "https://pool.example.org";
/// The repository and the people of the document's section 8.
const REPO: &str = "acme/web";
const INSTALLATION: u64 = 31;
const MAINTAINER: &str = "mona";
const VOLUNTEER: &str = "alice";
/// The webhook secret the fake's manifest conversion hands out.
const WEBHOOK_SECRET: &str = "test-webhook-secret";
/// How long one step may take.
const STEP: Duration = Duration::from_secs(60);

/// The recipe that `docs_plans_first` follows on its own: its blocks are left out here.
pub(crate) const PLANS_FIRST_RECIPE: &str = "#### Recipe: plans first, end to end\n";

/// The document without [`PLANS_FIRST_RECIPE`] (up to the next heading).
fn without_recipe(doc: &str) -> String {
    match doc.split_once(PLANS_FIRST_RECIPE) {
        Some((before, after)) => {
            let rest = after.find("\n#").map_or("", |at| &after[at + 1..]);
            format!("{before}{rest}")
        }
        None => doc.to_string(),
    }
}

/// The commands of every ` ```bash ` block of the document, block by block.
pub(crate) fn bash_blocks(doc: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in doc.lines() {
        let trimmed = line.trim();
        match &mut current {
            None if trimmed == "```bash" => current = Some(Vec::new()),
            None => {}
            Some(block) if trimmed == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) if !trimmed.is_empty() && !trimmed.starts_with('#') => {
                block.push(trimmed.to_string())
            }
            Some(_) => {}
        }
    }
    blocks
}

/// A command of the document running in the background (a server, `owp login` waiting).
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

struct Shell {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Shell {
    fn command(&self, line: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.args(["-o", "pipefail", "-c", line])
            .current_dir(&self.dir)
            .env_clear()
            .stdin(Stdio::null())
            .process_group(0);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn start(&self, line: &str) -> Running {
        use std::io::BufRead;
        let mut child = self
            .command(line)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs");
        let (tx, lines) = channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                if tx2.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Runs a command to its end; whether it succeeded, and what it printed (both streams).
    fn output(&self, line: &str) -> (bool, String) {
        let out = self.command(line).output().expect("bash runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Runs a command to its end; what it printed. Fails the test when it fails.
    fn run(&self, line: &str) -> String {
        let (ok, text) = self.output(line);
        assert!(ok, "`{line}` failed: {text}");
        text
    }
}

impl Running {
    /// Everything printed up to the first line containing `needle`; fails after [`STEP`].
    fn until(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        return self.seen.join("\n");
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("never printed {needle:?}:\n{}", self.seen.join("\n"));
    }

    /// Ctrl-C, as a person stops it; waits for it to end.
    fn interrupt(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-INT", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let group = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The bot's comments on an issue, once one of them holds every text.
async fn wait_for_status(fake: &FakeGithub, number: u64, texts: &[&str]) -> String {
    let deadline = Instant::now() + STEP;
    loop {
        let comments = fake.bot_comments(REPO, number);
        if let Some(c) = comments
            .iter()
            .find(|c| texts.iter().all(|t| c.body.contains(t)))
        {
            return c.body.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no comment of the App on #{number} says {texts:?}: {comments:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn deliver(fake: &FakeGithub, event: &str, payload: &serde_json::Value) {
    let status = fake.send_webhook(event, payload).await;
    assert!((200..300).contains(&status), "{event} answered {status}");
}

fn cookie_named(answer: &reqwest::Response, name: &str) -> String {
    let set = answer
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("a cookie {name}"));
    set.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_github_app_guide_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/github-app.md")).unwrap();
    let blocks = bash_blocks(&without_recipe(&doc));
    let [first_serve, restart, terminal] = blocks.as_slice() else {
        panic!("the guide's bash blocks: the first serve, the restart, the terminal: {blocks:?}");
    };
    assert_eq!(first_serve.len(), 1);
    assert_eq!(restart.len(), 1);

    let fake = FakeGithub::start().await;
    fake.set_device_interval(1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pool");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let port = free_port();
    let local = format!("http://127.0.0.1:{port}");
    let bin = Path::new(env!("CARGO_BIN_EXE_owp")).parent().unwrap();
    let shell = Shell {
        dir: dir.clone(),
        env: vec![
            ("PATH".into(), format!("{}:/usr/bin:/bin", bin.display())),
            ("HOME".into(), home.display().to_string()),
            ("OWP_PORT".into(), port.to_string()),
            ("GITHUB_API_URL".into(), fake.url().to_string()),
            ("GITHUB_WEB_URL".into(), fake.web_url().to_string()),
            ("OWP_LOG".into(), "warn".into()),
        ],
    };
    let http = browser();
    let fresh = Instant::now();

    // §1 step 1–2: start without App credentials; open the setup link it prints.
    let mut serve = shell.start(&first_serve[0]);
    let banner = serve.until("/github/setup?key=");
    let setup = banner
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{PUBLIC}/github/setup?key=")))
        .unwrap_or_else(|| panic!("a setup link on {PUBLIC}: {banner}"))
        .replace(PUBLIC, &local);
    let page = http.get(&setup).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let state = page
        .split("/settings/apps/new?state=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a button that creates the App")
        .to_string();
    // §1 step 3: GitHub creates the App and sends the browser back with a one-time code.
    fake.add_manifest_code("code-guide");
    let back = http
        .get(format!(
            "{local}/github/setup/callback?code=code-guide&state={state}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 200, "{:?}", back.text().await);
    let saved = std::fs::read_to_string(dir.join("env.local")).unwrap();
    for key in [
        "GITHUB_APP_ID=",
        "GITHUB_WEBHOOK_SECRET=",
        "GITHUB_CLIENT_ID=",
        "OWP_PUBLIC_URL=",
    ] {
        assert!(saved.contains(key), "env.local holds {key}");
    }
    // §8 step 1: the manifest registered the sign-in callback with GitHub.
    fake.set_callback_urls(&[&format!("{PUBLIC}/auth/github/callback")]);

    // §1 step 4: install the App, restart plainly from the same directory.
    fake.install(INSTALLATION, "acme", &[REPO]);
    serve.interrupt();
    let mut serve = shell.start(&restart[0]);
    let banner = serve.until("  Next ");
    assert!(
        banner.contains(&format!("webhook {PUBLIC}/github/webhook")),
        "{banner}"
    );
    assert!(banner.contains("sign-in with GitHub on"), "{banner}");
    fake.set_webhook_target(&format!("{local}/github/webhook"), WEBHOOK_SECRET);
    let installed = fake.installation_payload(INSTALLATION, "created");
    deliver(&fake, "installation", &installed).await;

    // §8 step 5: `owp doctor` in the folder holding env.local says sign-in is on. (It also
    // fails, rightly, on the public address, which no DNS knows here.)
    let (_, doctor) = shell.output("owp doctor");
    let signin = doctor
        .lines()
        .find(|l| l.contains("Sign-in with GitHub"))
        .unwrap_or_else(|| panic!("{doctor}"));
    assert!(
        signin.contains(&format!("on: client {}", github_support::TEST_CLIENT_ID)),
        "{signin}"
    );
    // §1 step 4: the App says which labels the repository lacks (the operator's view).
    let admin_token = saved
        .lines()
        .find_map(|l| l.strip_prefix("OWP_ADMIN_TOKEN="))
        .map(|t| t.trim_matches('\'').to_string())
        .expect("the first run saved its admin token");
    // The installation's delivery (settings, labels, vouch list read) may still be applying.
    let mut state = serde_json::Value::Null;
    for _ in 0..100 {
        state = http
            .get(format!("{local}/v1/admin/state"))
            .header("x-admin-token", &admin_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !state["repos"][0]["x_github_labels_missing"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        state["repos"][0]["x_github_labels_missing"][0], "pool:ready",
        "{state}"
    );

    // §2: the labels exist first, then an issue is labelled.
    for label in ["pool:ready", "estimate:2", "priority:high", "skills:rust"] {
        fake.create_label(REPO, label);
    }
    fake.set_permission(REPO, MAINTAINER, "write");
    let issue = fake.create_issue(
        REPO,
        MAINTAINER,
        "Parse dates in the export",
        "The export writes dates as text.",
        &["estimate:2", "priority:high", "skills:rust"],
    );
    fake.add_label(REPO, issue, "pool:ready");
    let labelled = fake.issue_payload(REPO, issue, "labeled", MAINTAINER, Some("pool:ready"));
    deliver(&fake, "issues", &labelled).await;
    wait_for_status(&fake, issue, &["**Ready**", "Estimate: 2 points"]).await;
    let first_status = fresh.elapsed();

    // §3: a volunteer claims it.
    let claim = fake.add_comment(REPO, issue, VOLUNTEER, "/owp claim");
    let claimed = fake.comment_payload(claim, "created", None);
    deliver(&fake, "issue_comment", &claimed).await;
    wait_for_status(&fake, issue, &["claimed by @alice"]).await;

    // §4: their pull request closes the issue.
    let pr = fake.open_pr(REPO, VOLUNTEER, "Parse dates", &format!("Fixes #{issue}"));
    let opened = fake.pr_payload(REPO, pr, "opened", VOLUNTEER, None);
    deliver(&fake, "pull_request", &opened).await;
    wait_for_status(&fake, issue, &["**Pull request open**", "by @alice"]).await;
    let first_pr = fresh.elapsed();

    // §8 step 6: the maintainer signs in on the dashboard.
    let start = http
        .get(format!("{local}/auth/github"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let authorize = start.headers()[LOCATION].to_str().unwrap().to_string();
    let flow = cookie_named(&start, "owp_signin");
    fake.sign_in_browser(MAINTAINER);
    let callback = fake
        .visit_authorize(&authorize)
        .await
        .expect("GitHub sends the browser back");
    assert!(
        callback.starts_with(&format!("{PUBLIC}/auth/github/callback?")),
        "{callback}"
    );
    let back = http
        .get(callback.replace(PUBLIC, &local))
        .header(COOKIE, &flow)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302, "{:?}", back.text().await);
    let session = cookie_named(&back, "owp_session");
    let dashboard = http
        .get(format!("{local}/"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        dashboard.contains(&format!("Signed in as {MAINTAINER} (GitHub)")),
        "{dashboard}"
    );
    let first_dashboard = fresh.elapsed();

    // §8 step 6, in a terminal: the block as written, with this service's address, on the
    // maintainer's own machine (a folder of their own, not the pool's, whose `env.local` holds
    // the operator's admin token).
    let desk = home.join("desk");
    std::fs::create_dir_all(&desk).unwrap();
    let maintainer = Shell {
        dir: desk,
        env: shell
            .env
            .iter()
            .filter(|(k, _)| k != "OWP_PORT")
            .cloned()
            .collect(),
    };
    let shell = maintainer;
    let line = |n: usize| terminal[n].replace("https://YOUR-HOST", &local);
    assert!(line(0).starts_with("owp login "), "{terminal:?}");
    let mut login = shell.start(&line(0));
    let prompt = login.until("enter the code");
    let code = prompt
        .split("enter the code ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a code")
        .to_string();
    fake.approve_device(&code, MAINTAINER).unwrap();
    login.until("Signed in to");
    let state = shell.run(&line(1));
    assert!(state.contains(REPO), "{state}");
    let init = shell.run(&line(2));
    assert!(init.contains(REPO), "{init}");
    let out = shell.run(&line(3));
    assert!(out.contains("Signed out"), "{out}");
    assert_eq!(terminal.len(), 4);

    // §4: the maintainer merges the pull request; the volunteer is credited.
    fake.merge_pr(REPO, pr);
    let merged = fake.pr_payload(REPO, pr, "closed", MAINTAINER, None);
    deliver(&fake, "pull_request", &merged).await;
    let done = wait_for_status(&fake, issue, &["**Done**", "Credited to @alice"]).await;
    let all = fresh.elapsed();
    assert!(fake.take_violations().is_empty());

    eprintln!(
        "docs/github-app.md from a fresh directory: first status comment {:.2} s, first linked \
         pull request {:.2} s, first signed-in dashboard {:.2} s, merged and credited {:.2} s\n{done}",
        first_status.as_secs_f64(),
        first_pr.as_secs_f64(),
        first_dashboard.as_secs_f64(),
        all.as_secs_f64()
    );
    serve.interrupt();
}
