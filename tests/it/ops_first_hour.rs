//! A maintainer's first hour in GitHub mode, run as the documents tell it: the App created on the
//! setup page, then `owp serve` restarted plainly from the same directory, and the container's
//! health check in the environment `owp serve` runs in.

#[allow(unused_imports)]
use crate::github_support;

use crate::ops_doctor::Serve;
use github_support::FakeGithub;
use github_support::story::ADMIN;

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_restart_after_the_setup_page_keeps_the_public_address() {
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env.local");
    let public = "https://pool.example.test";
    // Step 1 of the documents: `owp serve` with the public address on its command line.
    let mut config = owp::config::ServeConfig::for_tests(&dir.path().join("owp.db"), ADMIN);
    config.public_url = Some(public.into());
    config.github.github_api_url = fake.url().to_string();
    config.github.github_web_url = Some(fake.web_url().to_string());
    config.github.github_env_file = Some(env_file.clone());
    let running = owp::server::start(config, false).await.unwrap();
    let local = format!("http://{}", running.addr);
    // The page's own links name the public address; the test opens it on this machine.
    let setup_url = running.github.setup_url().unwrap().replace(public, &local);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = http
        .get(&setup_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let state = html
        .split("/settings/apps/new?state=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form that creates the App")
        .to_string();
    fake.add_manifest_code("code-first-hour");
    let done = http
        .get(format!(
            "{local}/github/setup/callback?code=code-first-hour&state={state}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let page = done.text().await.unwrap();
    assert!(
        page.contains("OWP_PUBLIC_URL"),
        "the page says what it kept: {page}"
    );
    running.stop().await;
    let saved = std::fs::read_to_string(&env_file).unwrap();
    assert!(saved.contains("GITHUB_CLIENT_ID="), "{saved}");
    assert!(
        saved.contains(&format!("OWP_PUBLIC_URL='{public}'")),
        "{saved}"
    );

    // Step 4: "restart `owp serve` from the same directory", with nothing on the command line
    // but the port. Sign-in sends people back to the public address, and GitHub is the same.
    let port = free_port().to_string();
    let mut serve = Serve::start(dir.path(), &["--port", &port], &[]);
    let banner = serve.until("  Next ");
    assert!(
        banner.contains(&format!("webhook {public}/github/webhook")),
        "{banner}"
    );
    assert!(banner.contains("sign-in with GitHub on"), "{banner}");
    assert!(!banner.contains("OWP_PUBLIC_URL is not set"), "{banner}");
    let start = http
        .get(format!("http://127.0.0.1:{port}/auth/github"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let location = start.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/login/oauth/authorize?", fake.web_url())),
        "{location}"
    );
    let to = url::Url::parse(&location).unwrap();
    let redirect = to
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        redirect.as_deref(),
        Some("https://pool.example.test/auth/github/callback")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_check_asks_the_port_serve_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut serve = Serve::start(
        dir.path(),
        &[],
        &[("OWP_PORT", &port), ("OWP_ADMIN_TOKEN", ADMIN)],
    );
    serve.until("  Next ");
    let check = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_owp"));
        cmd.arg("healthcheck").env_clear();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run owp healthcheck")
    };
    // The container's environment (`-e OWP_PORT=…`) is the health check's too.
    let healthy = check(&[("OWP_PORT", &port)]);
    assert!(healthy.status.success(), "{healthy:?}");
    let elsewhere = free_port().to_string();
    let unhealthy = check(&[("OWP_PORT", &elsewhere)]);
    assert!(!unhealthy.status.success());
    let said = String::from_utf8_lossy(&unhealthy.stderr);
    assert!(
        said.contains(&format!(
            "http://127.0.0.1:{elsewhere}/readyz is not answering"
        )),
        "{said}"
    );
    let url = format!("http://127.0.0.1:{port}/healthz");
    let explicit = check(&[("OWP_PORT", &elsewhere), ("OWP_HEALTHCHECK_URL", &url)]);
    assert!(explicit.status.success(), "--url wins: {explicit:?}");
}

#[test]
fn the_fly_configuration_counts_clients_apart_and_names_every_secret() {
    let root = env!("CARGO_MANIFEST_DIR");
    let fly = std::fs::read_to_string(format!("{root}/fly.toml")).unwrap();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let env: Vec<&str> = fly
        .split("\n[env]\n")
        .nth(1)
        .expect("an [env] section")
        .split("\n[")
        .next()
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(
        env.contains(&r#"OWP_CLIENT_IP_HEADER = "Fly-Client-IP""#),
        "behind Fly's proxy every client would share one rate limit: {env:?}"
    );
    for secret in [
        "OWP_ADMIN_TOKEN",
        "GITHUB_APP_ID",
        "GITHUB_PRIVATE_KEY",
        "GITHUB_WEBHOOK_SECRET",
        "GITHUB_CLIENT_ID",
        "GITHUB_CLIENT_SECRET",
    ] {
        let set_line = |text: &str| {
            text.lines()
                .any(|l| l.contains("fly secrets set") && l.contains(&format!("{secret}=")))
        };
        assert!(
            set_line(&fly),
            "fly.toml's `fly secrets set` lacks {secret}"
        );
        assert!(
            set_line(&readme),
            "the README's `fly secrets set` lacks {secret}"
        );
        assert!(
            readme.contains(&format!("`{secret}`")),
            "the README's secrets table lacks {secret}"
        );
    }
}

#[test]
fn every_option_a_maintainer_meets_has_its_help() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_owp"))
            .args(args)
            .arg("--help")
            .output()
            .expect("run owp --help");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // The text after an option's name, up to the next option.
    let of = |text: &str, option: &str| {
        let start = text
            .find(&format!("{option} "))
            .unwrap_or_else(|| panic!("{option} in:\n{text}"));
        let rest = &text[start + option.len()..];
        rest[..rest.find("\n  -").unwrap_or(rest.len())].to_string()
    };
    let serve = help(&["serve"]);
    assert!(
        of(&serve, "--github-app-id").contains("The GitHub App's id"),
        "{serve}"
    );
    let doctor = help(&["doctor"]);
    for option in ["--host", "--port"] {
        let text = of(&doctor, option);
        assert!(text.contains("`owp serve` listens on"), "{text}");
        assert!(!text.contains("to listen on"), "{text}");
    }
    let healthcheck = help(&["healthcheck"]);
    assert!(
        of(&healthcheck, "--url").contains("OWP_PORT"),
        "{healthcheck}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_join_page_links_the_download_the_operator_names() {
    let dir = tempfile::tempdir().unwrap();
    let releases = "https://github.com/acme/owp/releases/latest";
    let mut config = owp::config::ServeConfig::for_tests(&dir.path().join("owp.db"), ADMIN);
    config.download_url = Some(releases.into());
    let running = owp::server::start(config, false).await.unwrap();
    let page = reqwest::get(format!("http://{}/join", running.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("<a href=\"{releases}\">")), "{page}");
    running.stop().await;

    // A download address that is not a web address stops the start with one line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args([
            "serve",
            "--port",
            "0",
            "--download-url",
            "javascript:alert(1)",
        ])
        .current_dir(dir.path())
        .env("OWP_ADMIN_TOKEN", ADMIN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("give an http:// or https:// address"),
        "{said}"
    );
}

#[test]
fn the_readme_keeps_the_docker_admin_token_where_owp_admin_finds_it() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let docker = readme
        .split("**Docker.**")
        .nth(1)
        .and_then(|rest| rest.split("```bash\n").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("the README's Docker block");
    assert!(docker.contains(">> env.local"), "{docker}");
    for line in docker.lines().filter(|l| l.starts_with("docker run")) {
        assert!(line.contains("--env-file env.local"), "{line}");
    }
    // The install line needs no editing to find the releases.
    assert!(readme.contains("[releases page](../../releases/latest)"));
}

#[test]
fn the_guide_says_the_labels_must_exist_first() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/github-app.md"))
        .unwrap();
    let section = guide
        .split("## 2. Put an issue into the pool")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the guide's section on labels");
    assert!(
        section.contains("create the ones you use first")
            && section.contains("gh label create pool:ready"),
        "{section}"
    );
}
