//! Running the person's commands through the platform's shell (`sh -c` on Unix, `cmd /C` on
//! Windows): filling a command template with safely quoted values, teeing the output to a log
//! file, and stopping the whole process tree.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// The placeholders an agent command template may use.
pub const PLACEHOLDERS: [&str; 5] = ["brief", "workdir", "task_id", "title", "issue_url"];

/// Quotes one value so the platform's shell reads it back as one literal word.
pub fn quote(value: &str) -> String {
    if cfg!(windows) {
        quote_cmd(value)
    } else {
        quote_sh(value)
    }
}

/// POSIX `sh` quoting.
pub fn quote_sh(value: &str) -> String {
    let clean: String = value.chars().filter(|c| *c != '\0').collect();
    match shlex::try_quote(&clean) {
        Ok(q) => q.into_owned(),
        Err(_) => "''".to_string(),
    }
}

/// `cmd.exe` quoting: inside double quotes `&`, `|`, `<`, `>` and `^` are literal; a double quote
/// (which would end the quoting) and line breaks cannot be escaped there, so they are replaced.
pub fn quote_cmd(value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\r' | '\n' | '\0' => ' ',
            c => c,
        })
        .collect();
    format!("\"{clean}\"")
}

/// Fills the agent command template with a brief, a directory, a task id, a title and the issue
/// of a key (each value quoted).
pub fn agent_line(
    template: &str,
    brief: &std::path::Path,
    workdir: &std::path::Path,
    task_id: &str,
    title: &str,
    key: Option<&str>,
) -> String {
    let brief = brief.to_string_lossy().to_string();
    let workdir = workdir.to_string_lossy().to_string();
    let issue = key
        .and_then(crate::cli::client::present::issue_link)
        .unwrap_or_default();
    fill(
        template,
        &[
            ("brief", brief.as_str()),
            ("workdir", workdir.as_str()),
            ("task_id", task_id),
            ("title", title),
            ("issue_url", issue.as_str()),
        ],
        quote,
    )
}

/// Fills `{name}` placeholders of `template` with the quoted `values`; other text is kept.
pub fn fill(template: &str, values: &[(&str, &str)], quote: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let hit = values.iter().find(|(name, _)| {
            after
                .strip_prefix('{')
                .and_then(|a| a.strip_prefix(*name))
                .is_some_and(|a| a.starts_with('}'))
        });
        match hit {
            Some((name, value)) => {
                out.push_str(&quote(value));
                rest = &after[name.len() + 2..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The program a command line runs, as a bare lower-case name (`claude` for
/// `ANTHROPIC_API_KEY=… /usr/local/bin/claude -p {brief}`, `codex` for `"C:\\Tools\\Codex.exe" …`):
/// leading `NAME=value` assignments are skipped, so no value in them is ever named.
pub fn program_name(command: &str) -> String {
    let mut rest = command.trim_start();
    loop {
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        let assignment = word
            .split_once('=')
            .is_some_and(|(name, _)| is_variable_name(name));
        if !assignment {
            break;
        }
        // Skip the assignment, with a quoted value (`KEY="a b"`) taken whole.
        let eq = word.find('=').unwrap_or(0);
        let value = &rest[eq + 1..];
        let after = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].find(q).map(|i| &value[i + 2..]).unwrap_or(""),
            _ => &value[value.find(char::is_whitespace).unwrap_or(value.len())..],
        };
        rest = after.trim_start();
    }
    let program = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
        _ => rest.split_whitespace().next().unwrap_or(""),
    };
    let name = program
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .to_lowercase();
    let name = [".exe", ".cmd", ".bat"]
        .iter()
        .fold(name.as_str(), |n, ext| n.strip_suffix(ext).unwrap_or(n));
    name.chars().take(64).collect()
}

fn is_variable_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The placeholders of a template written inside the person's own quotes (`--title "{title}"`).
/// Every value is quoted for the shell already; inside a second pair of double quotes that
/// quoting is undone, and a title holding `$(…)` would run.
pub fn quoted_placeholders(template: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut quote: Option<char> = None;
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '\\') if cfg!(not(windows)) => {
                chars.next();
            }
            (Some(_), '{') => {
                if let Some(name) = PLACEHOLDERS.iter().find(|p| {
                    template[i + 1..]
                        .strip_prefix(**p)
                        .is_some_and(|r| r.starts_with('}'))
                }) {
                    found.push(format!("{{{name}}}"));
                }
            }
            _ => {}
        }
    }
    found
}

/// A command line run through the platform's shell.
pub fn shell(command_line: &str) -> tokio::process::Command {
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        let mut cmd = std::process::Command::new("cmd");
        // `/S /C "…"`: cmd takes everything between the outer quotes as the command line.
        cmd.raw_arg(format!("/S /C \"{command_line}\""));
        tokio::process::Command::from(cmd)
    }
    #[cfg(not(windows))]
    {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c").arg(command_line);
        cmd
    }
}

/// How a command run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It exited by itself (`None`: killed by a signal).
    Exited(Option<i32>),
    /// It was stopped for this reason.
    Stopped(String),
}

impl Ended {
    pub fn success(&self) -> bool {
        matches!(self, Ended::Exited(Some(0)))
    }

    pub fn describe(&self) -> String {
        match self {
            Ended::Exited(Some(code)) => format!("exited with status {code}"),
            Ended::Exited(None) => "was killed by a signal".to_string(),
            Ended::Stopped(why) => format!("was stopped: {why}"),
        }
    }
}

/// Starts `cmd` in `dir` as the leader of a process tree [`kill_tree`] stops, its stdout and
/// stderr piped.
pub(crate) fn spawn_tree(
    mut cmd: tokio::process::Command,
    dir: &Path,
    stdin: Stdio,
) -> anyhow::Result<tokio::process::Child> {
    cmd.current_dir(dir)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // A group of its own: a Ctrl-C at the terminal reaches `owp` alone, which stops the tree
    // its own way (`owp worker run`). On Windows, `CREATE_NEW_PROCESS_GROUP`: the console's
    // Ctrl-C is not passed to the group.
    #[cfg(unix)]
    cmd.process_group(0);
    #[cfg(windows)]
    cmd.creation_flags(0x0000_0200);
    cmd.spawn()
        .with_context(|| format!("cannot start the command in {}", dir.display()))
}

/// A log file opened for appending.
pub(crate) async fn open_log(log: &Path) -> anyhow::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .await
        .with_context(|| format!("cannot open the log {}", log.display()))
}

/// Runs `cmd` in `dir`, appending its output to `log` (and echoing it to our stderr when
/// `echo`), until it exits, `stop` carries a reason, or `limit` passes. Stopping kills the whole
/// process tree.
pub async fn run_logged(
    cmd: tokio::process::Command,
    dir: &Path,
    log: &Path,
    echo: bool,
    limit: Option<Duration>,
    mut stop: watch::Receiver<Option<String>>,
) -> anyhow::Result<Ended> {
    let mut child = spawn_tree(cmd, dir, Stdio::null())?;
    let pid = child.id();
    let file = std::sync::Arc::new(tokio::sync::Mutex::new(open_log(log).await?));
    let mut pumps = tokio::task::JoinSet::new();
    if let Some(out) = child.stdout.take() {
        pumps.spawn(pump(out, file.clone(), echo));
    }
    if let Some(err) = child.stderr.take() {
        pumps.spawn(pump(err, file.clone(), echo));
    }
    let timer = async {
        match limit {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let stopped = async {
        loop {
            if let Some(why) = stop.borrow_and_update().clone() {
                return why;
            }
            if stop.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    };
    let ended = tokio::select! {
        status = child.wait() => Ended::Exited(status?.code()),
        _ = timer => {
            kill_tree(pid, &mut child).await;
            Ended::Stopped(format!(
                "it ran past the limit of {} (--max-minutes)",
                crate::cli::client::present::span(
                    limit.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                )
            ))
        }
        why = stopped => {
            kill_tree(pid, &mut child).await;
            Ended::Stopped(why)
        }
    };
    // The output of a killed tree may stay open in a grandchild for a moment: do not wait long.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while pumps.join_next().await.is_some() {}
    })
    .await;
    pumps.abort_all();
    Ok(ended)
}

/// Copies `from` into `log` (and to our stderr when `echo`) until it ends.
pub(crate) async fn pump<R: AsyncRead + Unpin>(
    mut from: R,
    log: std::sync::Arc<tokio::sync::Mutex<tokio::fs::File>>,
    echo: bool,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        {
            let mut file = log.lock().await;
            let _ = file.write_all(&buf[..n]).await;
            let _ = file.flush().await;
        }
        if echo {
            let mut err = tokio::io::stderr();
            let _ = err.write_all(&buf[..n]).await;
        }
    }
}

/// Kills a process and everything it started.
pub(crate) async fn kill_tree(pid: Option<u32>, child: &mut tokio::process::Child) {
    if let Some(pid) = pid {
        #[cfg(unix)]
        {
            // The child leads its own process group (see `run_logged`).
            if let Ok(pgid) = i32::try_from(pid) {
                // SAFETY: kill(2) with a negative pid signals a process group; no memory involved.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
        }
        #[cfg(windows)]
        {
            let _ = tokio::process::Command::new("taskkill")
                .args(["/T", "/F", "/PID", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
        }
    }
    let _ = child.kill().await;
    let _ = child.wait().await;
}

/// The last `lines` lines of a log file (at most 4 KB of text).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(16 * 1024);
    let text = String::from_utf8_lossy(&text[start..]);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    let chars: Vec<char> = tail.chars().collect();
    chars[chars.len().saturating_sub(4000)..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_quote_every_value() {
        let values = [("title", "it's $HOME; rm -rf /"), ("task_id", "t-1")];
        let line = fill(
            "agent --id {task_id} -m {title} {unknown} {",
            &values,
            quote_sh,
        );
        assert_eq!(
            line,
            "agent --id t-1 -m \"it's \"'$HOME; rm -rf /' {unknown} {"
        );
        let line = fill("a {title}", &[("title", "x \"&\" y\n%z%")], quote_cmd);
        assert_eq!(line, "a \"x '&' y %z%\"");
    }

    #[test]
    fn program_names_skip_assignments() {
        for (command, name) in [
            ("claude -p {brief}", "claude"),
            ("ANTHROPIC_API_KEY=sk-ant-xyz claude -p < {brief}", "claude"),
            ("A=1 B=\"two words\" /usr/local/bin/aider --yes", "aider"),
            (r#""C:\Tools\Codex.exe" exec {brief}"#, "codex"),
            (r"C:\tools\goose.cmd run {brief}", "goose"),
            ("KEY=only", ""),
        ] {
            assert_eq!(program_name(command), name, "{command}");
        }
    }

    #[test]
    fn placeholders_inside_quotes_are_found() {
        assert_eq!(
            quoted_placeholders(r#"gh --title "{title}" --body '{issue_url}' {brief}"#),
            ["{title}", "{issue_url}"]
        );
        assert!(quoted_placeholders(r#"claude -p "Do it" < {brief} "{nope}""#).is_empty());
        assert!(quoted_placeholders("tool {title} {brief}").is_empty());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn quoted_values_come_back_literally() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let tricky = "it's \"$(touch pwned)\" `x` & | ; \\ *";
        let line = fill("printf %s {title}", &[("title", tricky)], quote_sh);
        let (_tx, rx) = watch::channel(None);
        let ended = run_logged(shell(&line), dir.path(), &log, false, None, rx)
            .await
            .unwrap();
        assert!(ended.success(), "{ended:?}");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), tricky);
        assert!(!dir.path().join("pwned").exists());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_limit_kills_the_whole_tree() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        // A grandchild that would write a file after the limit.
        let line = "(sleep 3; touch late) & sleep 30";
        let (_tx, rx) = watch::channel(None);
        let started = std::time::Instant::now();
        let ended = run_logged(
            shell(line),
            dir.path(),
            &log,
            false,
            Some(Duration::from_millis(300)),
            rx,
        )
        .await
        .unwrap();
        assert!(matches!(ended, Ended::Stopped(_)), "{ended:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!dir.path().join("late").exists(), "the grandchild survived");
    }
}
