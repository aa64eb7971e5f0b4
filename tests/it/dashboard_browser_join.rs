//! The `/join` page in headless Chromium, as a volunteer reads it: step "1. Get owp" links the
//! download the operator names (`OWP_DOWNLOAD_URL`), else the releases of the repository this
//! `owp` was built from, and no link on the page leads nowhere. Skips when Chromium is not
//! installed (see `dashboard_browser`).

#![cfg(unix)]

use std::time::Duration;

use serde_json::Value;

use crate::dashboard_browser::Browser;

const TOKEN: &str = "join-browser-admin-token-0123456789";

/// Every link of the page as the browser resolved it: `[text, href, raw href attribute]`.
const LINKS: &str = "[...document.querySelectorAll('a')].map(a => [a.textContent.trim(), a.href, \
                     a.getAttribute('href')])";

/// The `/join` page of a service started with `download_url`, read in Chromium: its links and
/// the text of step 1.
async fn join_page(browser: &Browser, download_url: Option<&str>) -> (Vec<Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = owp::config::ServeConfig::for_tests(&dir.path().join("owp.db"), TOKEN);
    config.download_url = download_url.map(str::to_string);
    let server = owp::server::start(config, false).await.unwrap();
    let mut page = browser.new_page().await;
    page.goto(&format!("http://{}/join", server.addr)).await;
    page.wait_for(
        "the join page",
        "document.readyState === 'complete' && !!document.querySelector('h2')",
        Duration::from_secs(15),
    )
    .await;
    let links = page.eval(LINKS).await.as_array().unwrap().clone();
    let step = page
        .eval(
            "(() => { const h = [...document.querySelectorAll('h2')]\
               .find(h => h.textContent.includes('Get')); \
               return h.nextElementSibling.textContent; })()",
        )
        .await;
    server.stop().await;
    (links, step.as_str().unwrap().to_string())
}

/// No link of the page is empty, a bare `#`, or a script.
fn no_dead_links(links: &[Value]) {
    for link in links {
        let raw = link[2].as_str().unwrap_or_default();
        assert!(
            !raw.is_empty() && raw != "#" && !raw.starts_with("javascript:"),
            "a link to nowhere: {link}"
        );
    }
}

fn href_of(links: &[Value], text: &str) -> Option<String> {
    links
        .iter()
        .find(|l| l[0] == text)
        .map(|l| l[1].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_join_page_links_a_download_or_says_who_to_ask() {
    let Some(browser) = Browser::launch("dashboard_browser_join").await else {
        return;
    };
    // The operator names the download: step 1 links it.
    let releases = "https://downloads.example.org/owp/latest";
    let (links, step) = join_page(&browser, Some(releases)).await;
    no_dead_links(&links);
    assert_eq!(href_of(&links, "download it").as_deref(), Some(releases));
    assert!(step.contains("SHA-256"), "{step}");

    // Nothing named: the releases of the repository this owp was built from, when the build
    // knew it; otherwise no link at all, and who to ask.
    let (links, step) = join_page(&browser, None).await;
    no_dead_links(&links);
    match owp::config::built_from() {
        Some(repo) => {
            assert_eq!(
                href_of(&links, "download it"),
                Some(format!("{repo}/releases/latest"))
            );
            assert_eq!(href_of(&links, "its source"), Some(repo));
        }
        None => {
            assert_eq!(href_of(&links, "download it"), None, "{links:?}");
            assert!(step.contains("ask its operator"), "{step}");
            assert!(step.contains("OWP_DOWNLOAD_URL"), "{step}");
        }
    }
    assert!(step.contains("cargo build --release"), "{step}");
}
