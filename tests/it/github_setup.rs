//! Setting the GitHub App up: the manifest flow that creates the App and saves its credentials,
//! and a reconciliation schedule that stops the start when it is not a six-field cron line.

#[allow(unused_imports)]
use crate::github_support;

use std::time::Duration;

use github_support::story::{ADMIN, SECRET, fixture};

// --- setting up the App -------------------------------------------------------------------------

#[tokio::test]
async fn the_manifest_flow_creates_the_app_and_saves_its_credentials() {
    let fake = github_support::FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env.local");
    let mut config = owp::config::ServeConfig::for_tests(&dir.path().join("owp.db"), ADMIN);
    config.github.github_api_url = fake.url().to_string();
    config.github.github_env_file = Some(env_file.clone());
    let running = owp::server::start(config.clone(), false).await.unwrap();
    assert!(!running.github.is_enabled());
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();

    // Only whoever runs the service (it prints the link with its key) can start the setup.
    let locked = http
        .get(format!("{base}/github/setup"))
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 403);
    let setup_url = running.github.setup_url().unwrap();
    assert!(setup_url.starts_with(&format!("{base}/github/setup?key=")));
    let page = http.get(&setup_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let action = format!("{}/settings/apps/new?state=", fake.url());
    let state = html
        .split(&action)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form that creates the App on the person's account")
        .to_string();
    assert!(
        html.contains(&format!("{base}/github/webhook")),
        "the manifest points GitHub at this service"
    );
    assert!(
        html.contains("&quot;issues&quot;:&quot;write&quot;"),
        "least privilege: {html}"
    );
    // The page says everything the App will ask for, as the manifest asks it.
    let said = html.split("</form>").next().unwrap_or_default();
    for asked in [
        "issues: write",
        "checks: read",
        "statuses: read",
        "contents: read",
        "issue_comment",
        "check_run",
        "status",
        "repository",
        "issue_dependencies",
    ] {
        assert!(
            said.contains(asked),
            "the page does not say `{asked}`: {said}"
        );
    }
    let org_page = http
        .get(format!("{setup_url}&org=octo-org"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(org_page.contains(&format!(
        "{}/organizations/octo-org/settings/apps/new?state=",
        fake.url()
    )));

    // GitHub redirects back with a code; a state this service never issued is refused.
    fake.add_manifest_code("code-123");
    let forged = http
        .get(format!(
            "{base}/github/setup/callback?code=code-123&state=forged"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    assert!(!env_file.exists());
    let done = http
        .get(format!(
            "{base}/github/setup/callback?code=code-123&state={state}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let html = done.text().await.unwrap();
    assert!(
        html.contains("https://github.com/apps/owp-pool-test/installations/new"),
        "{html}"
    );
    assert_eq!(
        fake.count_calls("POST", "/app-manifests/code-123/conversions"),
        1
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "the credentials are readable only by their owner"
        );
    }
    running.stop().await;

    // Restarted with what was saved, the App runs and verifies webhooks with the new secret.
    let vars: Vec<(String, String)> = dotenvy::from_path_iter(&env_file)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    config.github.github_app_id = Some(get("GITHUB_APP_ID").parse().unwrap());
    config.github.github_private_key =
        Some(owp::domain::secret::Secret::new(get("GITHUB_PRIVATE_KEY")));
    config.github.github_webhook_secret = Some(owp::domain::secret::Secret::new(get(
        "GITHUB_WEBHOOK_SECRET",
    )));
    let running = owp::server::start(config, false).await.unwrap();
    assert!(running.github.is_enabled());
    fake.set_webhook_target(
        &format!("http://{}/github/webhook", running.addr),
        "test-webhook-secret",
    );
    assert_eq!(fake.send_webhook("ping", &fixture("ping")).await, 202);
    running
        .github
        .wait_idle(Duration::from_secs(30))
        .await
        .unwrap();
    running.stop().await;
}

// --- the start-up schedule --------------------------------------------------------------------

#[tokio::test]
async fn a_schedule_that_is_not_a_six_field_cron_expression_stops_the_start() {
    let fake = github_support::FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = owp::config::ServeConfig::for_tests(&dir.path().join("owp.db"), ADMIN);
    config.github.github_app_id = Some(fake.app_id());
    config.github.github_private_key =
        Some(owp::domain::secret::Secret::new(fake.private_key_pem()));
    config.github.github_webhook_secret = Some(owp::domain::secret::Secret::new(SECRET));
    config.github.github_api_url = fake.url().to_string();
    config.github.github_reconcile_cron = Some("*/15 * * * *".into());
    let err = match owp::server::start(config, false).await {
        Ok(_) => panic!("a 5-field crontab line must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("OWP_GITHUB_RECONCILE_CRON"), "{err}");
}
