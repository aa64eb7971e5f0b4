//! Where people find the project: the MCP Registry's `server.json` and the Obsidian plugin
//! directory's release. Each listing is checked against what its directory requires and against
//! the release workflow that publishes what it points at.

use serde_json::Value;
use std::path::Path;

fn root_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&root_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn release_workflow() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&root_file(".github/workflows/release.yml")).unwrap()
}

/// The text of every `run:` and `with:` of one job of the release workflow.
fn job_text(workflow: &serde_yaml_ng::Value, job: &str) -> String {
    let steps = workflow["jobs"][job]["steps"]
        .as_sequence()
        .unwrap_or_else(|| panic!("the release workflow has a job {job}"));
    serde_yaml_ng::to_string(steps).unwrap()
}

/// The fields the registry's schema (2025-12-11) knows; a package refuses any other.
const SERVER_FIELDS: &[&str] = &[
    "$schema",
    "_meta",
    "description",
    "icons",
    "name",
    "packages",
    "remotes",
    "repository",
    "title",
    "version",
    "websiteUrl",
];
const PACKAGE_FIELDS: &[&str] = &[
    "environmentVariables",
    "fileSha256",
    "identifier",
    "packageArguments",
    "registryBaseUrl",
    "registryType",
    "runtimeArguments",
    "runtimeHint",
    "transport",
    "version",
];

/// Every argument of the schema: named (`--flag`, with a value) or positional (a value or a
/// hint), each `{placeholder}` of a value declared in its `variables`.
fn check_arguments(args: &Value, what: &str) {
    for arg in args
        .as_array()
        .unwrap_or_else(|| panic!("{what} is a list"))
    {
        match arg["type"].as_str() {
            Some("named") => assert!(
                arg["name"].as_str().is_some_and(|n| n.starts_with('-')),
                "{what}: a named argument has a flag name: {arg}"
            ),
            Some("positional") => assert!(
                arg["value"].is_string() || arg["valueHint"].is_string(),
                "{what}: a positional argument has a value or a hint: {arg}"
            ),
            _ => panic!("{what}: an argument is named or positional: {arg}"),
        }
        let value = arg["value"].as_str().unwrap_or("");
        for placeholder in value.split('{').skip(1) {
            let name = placeholder.split('}').next().unwrap();
            assert!(
                arg["variables"][name].is_object(),
                "{what}: {{{name}}} of {value} is declared in `variables`"
            );
        }
    }
}

#[test]
fn server_json_is_what_the_mcp_registry_accepts() {
    let server = json("server.json");
    let object = server.as_object().unwrap();
    for key in object.keys() {
        assert!(SERVER_FIELDS.contains(&key.as_str()), "unknown field {key}");
    }
    assert!(
        server["$schema"]
            .as_str()
            .unwrap()
            .starts_with("https://static.modelcontextprotocol.io/schemas/")
    );

    // The name: `io.github.OWNER/REPO`, the namespace of a GitHub repository.
    let name = server["name"].as_str().unwrap();
    let (namespace, repo_name) = name.split_once('/').expect("one slash");
    let owner = namespace
        .strip_prefix("io.github.")
        .expect("an io.github. namespace");
    let allowed = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    assert!(allowed(owner, "-"), "{name}");
    assert!(allowed(repo_name, "._-"), "{name}");
    assert!((3..=200).contains(&name.len()));

    let description = server["description"].as_str().unwrap();
    assert!(
        (1..=100).contains(&description.chars().count()),
        "the registry takes at most 100 characters: {} in {description:?}",
        description.chars().count()
    );
    assert!(server["title"].as_str().unwrap().chars().count() <= 100);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(server["version"], version, "server.json follows Cargo.toml");
    assert_eq!(
        server["repository"]["url"],
        format!("https://github.com/{owner}/{repo_name}")
    );
    assert_eq!(server["repository"]["source"], "github");

    // One package: the release's image, as the release workflow tags it (lower case).
    let packages = server["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1);
    let package = &packages[0];
    for key in package.as_object().unwrap().keys() {
        assert!(
            PACKAGE_FIELDS.contains(&key.as_str()),
            "unknown field {key}"
        );
    }
    assert_eq!(package["registryType"], "oci");
    assert_eq!(package["transport"]["type"], "stdio");
    let image = package["identifier"].as_str().unwrap();
    assert!(
        image.eq_ignore_ascii_case(&format!("ghcr.io/{owner}/{repo_name}:{version}")),
        "the image of this version: {image}"
    );
    let workflow = release_workflow();
    let image_job = job_text(&workflow, "image");
    assert!(
        image_job.contains("image=\"ghcr.io/${REPOSITORY,,}\"")
            && image_job.contains("echo \"$image:${TAG#v}\""),
        "the release pushes ghcr.io/OWNER/REPO:X.Y.Z: {image_job}"
    );
    // The registry accepts the image only with a label naming this server.
    assert!(
        image_job.contains("MCP_SERVER_NAME=io.github.${{ github.repository }}"),
        "{image_job}"
    );
    let dockerfile = root_file("Dockerfile");
    assert!(dockerfile.contains(&format!("ARG MCP_SERVER_NAME={name}")));
    assert!(
        dockerfile.contains("LABEL io.modelcontextprotocol.server.name=\"${MCP_SERVER_NAME}\"")
    );

    // `docker run` with these arguments runs `owp mcp`, not the image's `owp serve`.
    assert_eq!(package["runtimeHint"], "docker");
    check_arguments(&package["runtimeArguments"], "runtimeArguments");
    check_arguments(&package["packageArguments"], "packageArguments");
    let runtime = package["runtimeArguments"].as_array().unwrap();
    let flag = |f: &str| {
        runtime
            .iter()
            .find(|a| a["name"] == f)
            .and_then(|a| a["value"].as_str())
            .unwrap_or_else(|| panic!("a runtime argument {f}"))
    };
    let entrypoint = flag("--entrypoint");
    assert!(
        dockerfile.contains(&format!("install -m 0755 target/release/owp {entrypoint}")),
        "the image holds owp at {entrypoint}"
    );
    let mount = flag("--volume");
    let env = |n: &str| {
        package["environmentVariables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .unwrap_or_else(|| panic!("an environment variable {n}"))
            .clone()
    };
    let config_dir = env("OWP_CONFIG_DIR");
    assert_eq!(
        Some(mount.split(':').nth(1).unwrap()),
        config_dir["value"].as_str(),
        "the worker's folder is mounted where OWP_CONFIG_DIR says"
    );
    env("OWP_PROFILE");
    env("OWP_SERVER");
    let args: Vec<&str> = package["packageArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["value"].as_str().unwrap())
        .collect();
    assert_eq!(args, ["mcp"]);
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success(), "{help:?}");
    for variable in ["OWP_CONFIG_DIR", "OWP_PROFILE", "OWP_SERVER"] {
        assert!(said.contains(variable), "owp mcp reads {variable}: {said}");
    }
}

#[test]
fn the_obsidian_plugin_release_agrees_with_its_manifest() {
    let manifest = json("clients/obsidian/manifest.json");
    let version = manifest["version"].as_str().unwrap();
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "Obsidian takes x.y.z versions: {version}"
    );
    // Obsidian reads the version from the repository's root, and the files from the release.
    assert_eq!(json("manifest.json"), manifest, "the root copy is the same");
    assert_eq!(json("clients/obsidian/package.json")["version"], version);
    let lock = json("clients/obsidian/package-lock.json");
    assert_eq!(lock["version"], version);
    assert_eq!(lock["packages"][""]["version"], version);
    let versions = json("clients/obsidian/versions.json");
    assert_eq!(
        versions[version], manifest["minAppVersion"],
        "versions.json names the oldest Obsidian of {version}"
    );
    for file in ["styles.css", "main.ts"] {
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("clients/obsidian")
                .join(file)
                .exists()
        );
    }
    // The directory's rules on the manifest's words.
    let id = manifest["id"].as_str().unwrap();
    assert!(!id.to_lowercase().contains("obsidian"), "{id}");
    let description = manifest["description"].as_str().unwrap();
    assert!(!description.to_lowercase().contains("obsidian"));
    assert!(description.chars().count() <= 250 && description.ends_with('.'));

    // The release workflow publishes under the bare tag, with the three files.
    let workflow = release_workflow();
    let tags: Vec<&str> = workflow["on"]["push"]["tags"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"[0-9]+.[0-9]+.[0-9]+"), "{tags:?}");
    let job = job_text(&workflow, "obsidian");
    assert!(job.contains("require(\"./clients/obsidian/manifest.json\").version"));
    assert!(job.contains("if [ \"$version\" != \"${TAG#v}\" ]"), "{job}");
    assert!(
        job.contains(
            "clients/obsidian/main.js clients/obsidian/manifest.json clients/obsidian/styles.css"
        ),
        "{job}"
    );

    // The README's entry for community-plugins.json is the manifest's.
    let readme = root_file("clients/obsidian/README.md");
    let entry = readme
        .split("```json\n")
        .find_map(|block| {
            let text = block.split("```").next()?;
            let value: Value = serde_json::from_str(text).ok()?;
            value.get("repo").is_some().then_some(value)
        })
        .expect("the README gives the directory's entry");
    for field in ["id", "name", "author", "description"] {
        assert_eq!(entry[field], manifest[field], "{field}");
    }
    assert!(readme.contains(&format!("git tag {version} && git push origin {version}")));
}
