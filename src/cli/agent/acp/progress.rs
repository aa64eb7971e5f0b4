//! What an ACP agent is doing, from its `session/update` notifications: said on the terminal when
//! it changes, and kept in a small file beside the lease's log that `owp worker status` reads.
//! The pool is told a summary with the lease's renewals ([`Told`], the lease's `progress`): the
//! latest tool call's title and status, the plan's steps done, or that the agent writes a message
//! or thinks. The agent's words never go to the pool: what it says may hold the volunteer's code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::domain::limits::MAX_PROGRESS_CHARS;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cli::client::present::now_clock;
use crate::cli::client::say;

/// The file beside a lease's log.
pub fn file_for(log: &Path) -> PathBuf {
    log.with_extension("activity.json")
}

/// What the activity file holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Activity {
    pub lease_id: String,
    /// The latest thing the agent said it does (control characters removed, clipped).
    pub doing: String,
    /// The same without the agent's words, as the pool is told it.
    #[serde(default)]
    pub summary: String,
    /// `session/update` notifications so far.
    pub updates: u64,
    /// Tool calls started so far.
    pub tool_calls: u64,
    /// When the latest update came (RFC 3339).
    pub at: String,
    /// The session ended (`end_turn`, `cancelled`, …), once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

/// Reads the activity file of a lease's log, if there is one.
pub fn read(log: &Path) -> Option<Activity> {
    let text = std::fs::read_to_string(file_for(log)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Follows the updates of one session.
pub struct Progress {
    file: PathBuf,
    now: Activity,
    titles: HashMap<String, String>,
    written: Option<Instant>,
    /// An update came since the file was written.
    dirty: bool,
    /// The latest update was a chunk of the agent's message, which `message` holds (its start).
    in_message: bool,
    message: String,
    said: String,
}

/// How often the file is rewritten while updates stream.
pub const WRITE_EVERY: Duration = Duration::from_secs(1);

impl Progress {
    pub fn new(log: &Path, lease_id: &str) -> Progress {
        let mut p = Progress {
            file: file_for(log),
            now: Activity {
                lease_id: lease_id.to_string(),
                doing: "starting".into(),
                summary: "starting".into(),
                at: chrono::Utc::now().to_rfc3339(),
                ..Activity::default()
            },
            titles: HashMap::new(),
            written: None,
            dirty: false,
            in_message: false,
            message: String::new(),
            said: String::new(),
        };
        p.write();
        p
    }

    /// One `session/update`'s `update`.
    pub fn update(&mut self, update: &Value) {
        self.now.updates += 1;
        self.now.at = chrono::Utc::now().to_rfc3339();
        let kind = update["sessionUpdate"].as_str().unwrap_or("");
        let id = update["toolCallId"].as_str().unwrap_or("").to_string();
        // A message streams in chunks: one line says it began, the file shows its start.
        let continued = kind == "agent_message_chunk" && self.in_message;
        self.in_message = kind == "agent_message_chunk";
        if !continued {
            self.message.clear();
        }
        let mut summary = None;
        let doing = match kind {
            "agent_message_chunk" => {
                summary = Some("writing a message".to_string());
                if let Some(text) = update["content"]["text"].as_str()
                    && self.message.len() < 1_000
                {
                    self.message.push_str(text);
                }
                format!("says: {}", self.message)
            }
            "agent_thought_chunk" => {
                summary = Some("thinking".to_string());
                "thinking".into()
            }
            "tool_call" => {
                self.now.tool_calls += 1;
                let title = update["title"]
                    .as_str()
                    .unwrap_or("a tool call")
                    .to_string();
                if self.titles.len() < 1_000 {
                    self.titles.insert(id.clone(), clean(&title));
                }
                format!(
                    "{title} ({})",
                    update["status"].as_str().unwrap_or("pending")
                )
            }
            "tool_call_update" => {
                let title = update["title"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| self.titles.get(&id).cloned())
                    .unwrap_or_else(|| "a tool call".into());
                match update["status"].as_str() {
                    Some(status) => format!("{title} ({status})"),
                    None => title,
                }
            }
            "plan" => {
                let entries = update["entries"].as_array().map(Vec::len).unwrap_or(0);
                let done = update["entries"]
                    .as_array()
                    .map(|e| e.iter().filter(|x| x["status"] == "completed").count())
                    .unwrap_or(0);
                format!("plan: {done} of {entries} steps done")
            }
            _ => return,
        };
        self.now.doing = clean(&doing);
        self.now.summary = summary.unwrap_or_else(|| self.now.doing.clone());
        if !continued {
            self.say();
        }
        self.dirty = true;
        if self.written.is_none_or(|w| w.elapsed() >= WRITE_EVERY) {
            self.write();
        }
    }

    /// Whether updates wait to be written ([`Progress::flush`]).
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    /// Writes what the updates since the last write said.
    pub fn flush(&mut self) {
        if self.dirty {
            self.write();
        }
    }

    /// The session ended this way.
    pub fn ended(&mut self, how: &str) {
        self.now.ended = Some(clean(how));
        self.now.at = chrono::Utc::now().to_rfc3339();
        self.write();
    }

    fn say(&mut self) {
        if self.now.doing != self.said {
            self.said = self.now.doing.clone();
            say!("{}  agent: {}", now_clock(), self.said);
        }
    }

    fn write(&mut self) {
        self.written = Some(Instant::now());
        self.dirty = false;
        if let Ok(text) = serde_json::to_string(&self.now) {
            let _ = std::fs::write(&self.file, text);
        }
    }
}

impl Activity {
    /// The lease's progress as the pool is told it: one line, at most [`MAX_PROGRESS_CHARS`].
    pub fn pool_line(&self) -> String {
        let line = match &self.ended {
            Some(how) => format!("agent session ended ({how})"),
            None if self.summary.is_empty() => "agent: working".to_string(),
            None => format!("agent: {}", self.summary),
        };
        line.chars().take(MAX_PROGRESS_CHARS).collect()
    }
}

/// How often at most the pool is told of a lease's agent.
pub const TELL_EVERY: Duration = Duration::from_secs(60);

/// What the pool was last told of the agent on one lease: its keeper sends each new
/// [`Activity::pool_line`] with a renewal, at most once per period.
pub struct Told {
    log: PathBuf,
    lease_id: String,
    last: Option<(String, Instant)>,
}

impl Told {
    pub fn new(log: &Path, lease_id: &str) -> Told {
        Told {
            log: log.to_path_buf(),
            lease_id: lease_id.to_string(),
            last: None,
        }
    }

    /// The line to send now: the agent's activity changed and `every` passed since the last.
    pub fn news(&self, every: Duration) -> Option<String> {
        if self
            .last
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() < every)
        {
            return None;
        }
        let line = read(&self.log)
            .filter(|a| a.lease_id == self.lease_id)?
            .pool_line();
        (self.last.as_ref().map(|(l, _)| l) != Some(&line)).then_some(line)
    }

    /// `line` was sent.
    pub fn sent(&mut self, line: Option<String>) {
        if let Some(line) = line {
            self.last = Some((line, Instant::now()));
        }
    }
}

/// `text` on one line without control characters (a terminal escape from the agent does not
/// reach the volunteer's terminal), at most 120 characters.
pub fn clean(text: &str) -> String {
    let one: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut out: String = one.chars().take(120).collect();
    if out.len() < one.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn updates_become_one_line_of_activity() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("t.log");
        let mut p = Progress::new(&log, "l-1");
        for chunk in ["Look", "ing at ", "it"] {
            p.update(&json!({"sessionUpdate": "agent_message_chunk",
                             "content": {"type": "text", "text": chunk}}));
        }
        assert_eq!(p.now.doing, "says: Looking at it");
        assert_eq!(p.said, "says: Look", "one line for the message");
        assert_eq!(
            p.now.pool_line(),
            "agent: writing a message",
            "never its words"
        );
        let told = Told::new(&log, "l-1");
        p.flush();
        assert_eq!(
            told.news(Duration::ZERO).as_deref(),
            Some("agent: writing a message")
        );
        assert_eq!(
            Told::new(&log, "l-2").news(Duration::ZERO),
            None,
            "another lease's"
        );
        p.update(&json!({"sessionUpdate": "tool_call", "toolCallId": "c1",
                         "title": "Edit src/a.rs\u{1b}[2J", "kind": "edit", "status": "pending"}));
        assert_eq!(p.now.doing, "Edit src/a.rs [2J (pending)");
        p.update(
            &json!({"sessionUpdate": "tool_call_update", "toolCallId": "c1",
                         "status": "completed"}),
        );
        assert_eq!(p.now.doing, "Edit src/a.rs [2J (completed)");
        p.update(&json!({"sessionUpdate": "plan", "entries": [
            {"status": "completed"}, {"status": "pending"}]}));
        p.ended("end_turn");
        let read = read(&log).unwrap();
        assert_eq!(read.doing, "plan: 1 of 2 steps done");
        assert_eq!((read.updates, read.tool_calls), (6, 1));
        assert_eq!(read.ended.as_deref(), Some("end_turn"));
        assert_eq!(read.pool_line(), "agent session ended (end_turn)");
        assert_eq!(clean(&"x".repeat(200)).chars().count(), 121);
    }
}
