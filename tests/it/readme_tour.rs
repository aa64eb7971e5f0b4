//! The README's tour, run as written, so it cannot drift from what `owp` does.
//!
//! The section "## A five-minute tour" of README.md (up to the next `##` or `###` heading) is read, and
//! every ` ```bash ` block in it is run, command by command, in order:
//!
//! - in one fresh temporary directory as the working directory (the tour's `demo/tasks.yaml` is
//!   copied there from the checkout, as the tour runs in the checkout's top directory);
//! - by `bash -o pipefail -c COMMAND`, with the built `owp` first on `PATH`, `HOME` inside the
//!   temporary directory and nothing else of the caller's environment;
//! - with every `8787` (the tour's port) replaced by a free port, and `OWP_SERVER` set to
//!   `http://127.0.0.1:PORT`, which moves the clients' default server (8787) with it.
//!
//! Marks in README.md, on the line right before a block (HTML comments, invisible on GitHub):
//!
//! - `<!-- tour: skip -->`: the block is not run (installing or building `owp`: the test has
//!   the binary already);
//! - `<!-- tour: background -->`: each command of the block is started and left running (a
//!   server, a worker that runs until Ctrl-C); the next command starts once it has printed its
//!   first line; all of them are stopped when the tour ends;
//! - `<!-- tour: expect WORD WORD … -->`: what the text around the block promises: some line of
//!   the output of the block's last command holds every WORD (several such marks may precede a
//!   block, and may follow a `skip` or `background` mark).
//!
//! A command is one line; a line ending in `\` goes on with the next, a `<<'EOF'` here-document
//! takes the lines up to its `EOF`, and lines starting with `#` are comments. `<task_id>` in a
//! command stands for what the reader copies from the output above it: the ID of the first task
//! in `pr_opened` in the latest `owp admin state` output.
//!
//! Every command's time is printed (`cargo test --test it readme_tour -- --nocapture`); a command
//! that fails stops the test with the command, its output and the background processes' output.

#![cfg(unix)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The heading of the tour's section.
const TOUR: &str = "## A five-minute tour";
/// The port the tour is written with.
const TOUR_PORT: &str = "8787";
/// How long a background command may take to print its first line.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one foreground command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Run,
    Background,
    Skip,
}

#[derive(Debug)]
struct Block {
    mode: Mode,
    commands: Vec<String>,
    /// Lines the last command's output must have, each as the words it holds.
    expect: Vec<Vec<String>>,
}

/// The bash blocks of the tour's section, with their marks.
fn tour_blocks(readme: &str) -> Vec<Block> {
    let start = readme
        .find(TOUR)
        .unwrap_or_else(|| panic!("README.md has no `{TOUR}` section"));
    let mut blocks = Vec::new();
    let mut mark: Option<Mode> = None;
    let mut expect: Vec<Vec<String>> = Vec::new();
    let mut lines = readme[start + TOUR.len()..].lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if line.starts_with("## ") || line.starts_with("### ") {
            break;
        }
        if let Some(rest) = trimmed.strip_prefix("<!-- tour:") {
            let rest = rest.trim_end_matches("-->").trim();
            if let Some(words) = rest.strip_prefix("expect ") {
                expect.push(words.split_whitespace().map(String::from).collect());
                continue;
            }
            mark = Some(match rest {
                "skip" => Mode::Skip,
                "background" => Mode::Background,
                other => panic!("unknown tour mark `{other}` in README.md"),
            });
            continue;
        }
        if trimmed.starts_with("```") {
            let lang = trimmed.trim_start_matches('`').trim();
            let mut text = Vec::new();
            for inner in lines.by_ref() {
                if inner.trim().starts_with("```") {
                    break;
                }
                text.push(inner);
            }
            if lang == "bash" {
                blocks.push(Block {
                    mode: mark.unwrap_or(Mode::Run),
                    commands: commands(&text),
                    expect: std::mem::take(&mut expect),
                });
            }
            mark = None;
            expect.clear();
            continue;
        }
        if !trimmed.is_empty() {
            // A mark belongs to the block right after it.
            mark = None;
            expect.clear();
        }
    }
    blocks
}

/// Splits a block into commands: continued lines joined, here-documents kept whole.
fn commands(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut command = line.to_string();
        while command.ends_with('\\') && i < lines.len() {
            command.push('\n');
            command.push_str(lines[i]);
            i += 1;
        }
        if let Some(word) = here_document_end(&command) {
            while i < lines.len() {
                command.push('\n');
                command.push_str(lines[i]);
                i += 1;
                if lines[i - 1].trim() == word {
                    break;
                }
            }
        }
        out.push(command);
    }
    out
}

/// `EOF` for a command with `<<'EOF'`, `<<"EOF"` or `<<EOF`.
fn here_document_end(command: &str) -> Option<String> {
    let rest = &command[command.find("<<")? + 2..];
    let word: String = rest
        .trim_start_matches('-')
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace())
        .filter(|c| *c != '\'' && *c != '"')
        .collect();
    (!word.is_empty()).then_some(word)
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command left running, its output going to a file.
struct Background {
    command: String,
    child: Child,
    log: PathBuf,
}

/// Stops the background commands when the tour ends, however it ends.
struct Tour {
    dir: tempfile::TempDir,
    path: std::ffi::OsString,
    port: u16,
    background: Vec<Background>,
    /// The output of the latest `owp admin state`.
    last_state: String,
}

impl Drop for Tour {
    fn drop(&mut self) {
        for b in &mut self.background {
            // The whole process group: bash and whatever it started.
            if let Ok(pid) = i32::try_from(b.child.id()) {
                // SAFETY: `kill` only sends a signal to the group this test started.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = b.child.kill();
            let _ = b.child.wait();
        }
    }
}

impl Tour {
    fn new() -> Tour {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir(dir.path().join("demo")).unwrap();
        std::fs::copy(
            root.join("demo/tasks.yaml"),
            dir.path().join("demo/tasks.yaml"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        let bin = Path::new(env!("CARGO_BIN_EXE_owp")).parent().unwrap();
        let mut paths = vec![bin.to_path_buf()];
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        Tour {
            dir,
            path: std::env::join_paths(paths).unwrap(),
            port: free_port(),
            background: Vec::new(),
            last_state: String::new(),
        }
    }

    fn shell(&self, command: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.args(["-o", "pipefail", "-c", command])
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", self.dir.path().join("home"))
            .env("OWP_SERVER", format!("http://127.0.0.1:{}", self.port))
            .stdin(Stdio::null());
        cmd
    }

    /// The command as it is run: the free port, and `<task_id>` filled in.
    fn prepare(&self, written: &str) -> String {
        let mut command = written.replace(TOUR_PORT, &self.port.to_string());
        if command.contains("<task_id>") {
            let id = self
                .last_state
                .lines()
                .find_map(|l| {
                    let mut words = l.split_whitespace();
                    (words.next() == Some("pr_opened")).then(|| words.next())?
                })
                .unwrap_or_else(|| {
                    panic!(
                        "`{written}`: no task in pr_opened in the latest `owp admin state`:\n{}",
                        self.last_state
                    )
                });
            command = command.replace("<task_id>", id);
        }
        command
    }

    fn background_output(&self) -> String {
        self.background
            .iter()
            .map(|b| {
                format!(
                    "--- background `{}`:\n{}",
                    b.command,
                    std::fs::read_to_string(&b.log).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn fail(&self, command: &str, what: &str, output: &str) -> ! {
        panic!(
            "the README's tour fails at\n  $ {command}\n{what}\n--- output:\n{output}\n{}",
            self.background_output()
        )
    }

    fn run(&mut self, written: &str) -> (Duration, String) {
        let command = self.prepare(written);
        let started = Instant::now();
        let mut child = self
            .shell(&command)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn bash");
        // Read both pipes while waiting, so a chatty command cannot fill one and stall.
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
            s
        });
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > COMMAND_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                self.fail(&command, "did not finish within a minute", "");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = started.elapsed();
        let output = format!("{}{}", out.join().unwrap(), err.join().unwrap());
        if !status.success() {
            self.fail(&command, &format!("exit status {status}"), &output);
        }
        if command.trim_start().starts_with("owp admin state") {
            self.last_state = output.clone();
        }
        (took, output)
    }

    fn start(&mut self, written: &str) -> Duration {
        let command = self.prepare(written);
        let started = Instant::now();
        let log = self
            .dir
            .path()
            .join(format!("background-{}.log", self.background.len()));
        let file = std::fs::File::create(&log).unwrap();
        let child = self
            .shell(&command)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("spawn bash");
        self.background.push(Background {
            command: command.clone(),
            child,
            log: log.clone(),
        });
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains('\n') {
                break;
            }
            let b = self.background.last_mut().unwrap();
            if let Some(status) = b.child.try_wait().unwrap() {
                self.fail(&command, &format!("ended at once ({status})"), &text);
            }
            if started.elapsed() > READY_TIMEOUT {
                self.fail(&command, "printed nothing within 20 s", &text);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        started.elapsed()
    }
}

#[test]
fn the_tour_runs_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks = tour_blocks(&readme);
    assert!(
        blocks.iter().any(|b| b.mode == Mode::Background),
        "the tour starts a server: {blocks:?}"
    );
    let mut tour = Tour::new();
    let total = Instant::now();
    let mut ran = 0;
    // What the reader sees, command by command, for the reviewed snapshot.
    let mut transcript = String::new();
    println!("the README's tour on port {}:", tour.port);
    for block in &blocks {
        let mut last = String::new();
        for command in &block.commands {
            // A here-document shows as its first line.
            let shown = match command.split_once('\n') {
                Some((first, _)) if here_document_end(command).is_some() => format!("{first} …"),
                _ => command.clone(),
            };
            let (took, how) = match block.mode {
                Mode::Skip => {
                    println!("   skipped  $ {shown}");
                    continue;
                }
                Mode::Run => {
                    let (took, output) = tour.run(command);
                    transcript.push_str(&format!("$ {shown}\n{output}"));
                    last = output;
                    (took, "")
                }
                Mode::Background => (tour.start(command), " (background, until its first line)"),
            };
            ran += 1;
            println!("  {:>6.2} s  $ {shown}{how}", took.as_secs_f64());
        }
        for words in &block.expect {
            let found = last.lines().any(|line| {
                words
                    .iter()
                    .all(|w| line.split_whitespace().any(|x| x == w))
            });
            if !found {
                let command = block.commands.last().map_or("", String::as_str);
                tour.fail(
                    command,
                    &format!("the README promises a line with {words:?} here"),
                    &last,
                );
            }
        }
    }
    let total = total.elapsed();
    println!(
        "  {:>6.2} s  the whole tour ({ran} commands)",
        total.as_secs_f64()
    );
    assert!(ran >= 10, "the tour runs its commands: {blocks:?}");
    let port = format!(":{}", tour.port);
    crate::reviewed::check(
        "cli",
        "readme_tour",
        &transcript.replace(&port, ":8787"),
        "What the README's tour prints, command by command.",
    );
    assert!(
        total < Duration::from_secs(30),
        "the tour took {total:?}: keep it under 30 s"
    );
}

#[test]
fn tour_commands_are_split_as_bash_reads_them() {
    let readme = "intro\n## A five-minute tour\n\n<!-- tour: skip -->\n```bash\ncargo build\n```\n\
        text\n<!-- tour: expect demo THROTTLED -->\n```bash\n# a comment\nowp a \\\n  --b 1\ncat > f.yaml <<'EOF'\nx: 1\n\nEOF\nowp c\n```\n\
        <!-- tour: background -->\n```bash\nowp serve\n```\n```text\nnot run\n```\n### More\n```bash\nno\n```\n";
    let blocks = tour_blocks(readme);
    assert_eq!(blocks.len(), 3, "{blocks:?}");
    assert_eq!(blocks[0].mode, Mode::Skip);
    assert_eq!(
        blocks[1].commands,
        vec![
            "owp a \\\n  --b 1".to_string(),
            "cat > f.yaml <<'EOF'\nx: 1\n\nEOF".to_string(),
            "owp c".to_string()
        ]
    );
    assert_eq!(blocks[1].mode, Mode::Run);
    assert_eq!(
        blocks[1].expect,
        vec![vec!["demo".to_string(), "THROTTLED".to_string()]]
    );
    assert!(blocks[0].expect.is_empty() && blocks[2].expect.is_empty());
    assert_eq!(blocks[2].mode, Mode::Background);
}

/// The Obsidian plugin's install steps name the folder Obsidian loads it from (its manifest's
/// id) and the settings its page really has.
#[test]
fn the_obsidian_install_steps_match_the_plugin() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/obsidian");
    let steps = std::fs::read_to_string(root.join("README.md")).unwrap();
    let install = &steps[steps.find("## Install").expect("an Install section")..];
    let install = &install[..install[3..].find("\n## ").map_or(install.len(), |i| i + 3)];
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap())
            .unwrap();
    let id = manifest["id"].as_str().unwrap();
    let folder = format!("<vault>/.obsidian/plugins/{id}/");
    assert!(install.contains(&folder), "names {folder}:\n{install}");
    assert!(
        install.contains(&format!("mkdir -p \"$VAULT/.obsidian/plugins/{id}\"")),
        "{install}"
    );
    assert!(install.contains("Restricted mode"), "{install}");
    let main = std::fs::read_to_string(root.join("main.ts")).unwrap();
    for setting in ["Server URL", "Admin token", "Worker token", "Register here"] {
        assert!(
            install.contains(&format!("**{setting}**"))
                || install.contains(&format!("*{setting}*")),
            "the steps say what goes into {setting}:\n{install}"
        );
        assert!(
            main.contains(&format!("\"{setting}\"")),
            "the settings page has {setting}"
        );
    }
    for file in ["main.js", "manifest.json", "styles.css"] {
        assert!(install.contains(file), "{file}");
    }
}
