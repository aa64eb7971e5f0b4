//! The Obsidian plugin (`clients/obsidian`) against a real `owp serve`: its Node tests drive the
//! plugin's controller as a maintainer's vault and a volunteer's vault would (register, go online,
//! receive and accept a lease, renew, open the task as a note, report a pull request, watch the
//! review budget gauge and the live event list change, see the server's error for a bad import),
//! and run the plugin itself in a stand-in for Obsidian (its commands, forms and notices), then
//! the status view is rendered in headless Chromium and screenshotted to
//! `target/tmp/obsidian-view.png` (the README's picture, `docs/images/obsidian.png`, is a copy).
//!
//! Skips, saying why, when `node` or `clients/obsidian/node_modules` is missing (`.ci/run` runs
//! `npm ci --prefix clients/obsidian`); the screenshot step skips without Chromium.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::*;

fn plugin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/obsidian")
}

fn node(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("node");
    cmd.args(args).current_dir(plugin_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run node")
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn plugin_drives_a_real_server_and_its_view_renders_in_chromium() {
    if let Some(why) = node_package_missing("clients/obsidian", "esbuild") {
        crate::services::missing(
            "node",
            "plugin_drives_a_real_server_and_its_view_renders_in_chromium",
            &format!("the Obsidian plugin's tests cannot run: {why}"),
        );
        return;
    }
    let mut server = Server::start().await;
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let model = tmp.join("obsidian-model.json");
    let png = tmp.join("obsidian-view.png");
    let _ = std::fs::remove_file(&model);
    let _ = std::fs::remove_file(&png);

    let out = node(
        &["scripts/test.mjs", "integration"],
        &[
            ("OWP_TEST_SERVER", &server.base),
            ("OWP_TEST_ADMIN_TOKEN", &server.admin_token),
            ("OWP_RENDER_MODEL_OUT", &model.to_string_lossy()),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the plugin's integration tests failed: {}\n--- server log\n{}",
        describe(&out),
        server.log_tail(40)
    );
    assert!(
        text.contains("pass 5") && text.contains("skipped 0"),
        "expected 5 passing tests and none skipped: {}",
        describe(&out)
    );
    assert!(model.is_file(), "the view model was not written");

    let out = node(
        &[
            ".test-build/render/render-page.mjs",
            &model.to_string_lossy(),
            &png.to_string_lossy(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "rendering the view failed: {}",
        describe(&out)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    if said.contains("SKIPPED") {
        crate::services::missing("chromium", "the Obsidian view's screenshot", said.trim());
    } else {
        let bytes = std::fs::read(&png).expect("the screenshot");
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    }
    server.stop();
}
