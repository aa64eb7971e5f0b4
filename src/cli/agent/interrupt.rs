//! The volunteer's Ctrl-C while `owp worker run --agent` or `--acp` works on a lease. The first
//! asks the run to stop: the stop reaches the running command by the channel a lost lease takes
//! (an ACP agent's session is cancelled, and its processes stopped after the grace period; a
//! plain command's process tree is stopped at once), and the task is then given back. A second
//! stops the agent's processes at once.
//!
//! The terminal's side ([`Presses`]) is held by `owp worker run`; the run's side ([`Interrupt`])
//! travels with the agent options into the flow and the ACP session.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::watch;

/// How far the volunteer has asked the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Running,
    /// Ctrl-C once: stop as on a lost lease, then give the task back.
    Stop,
    /// Ctrl-C twice: stop the agent's processes at once.
    Now,
}

/// What the run is doing, for the line a Ctrl-C prints and for how long it is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    /// Waiting for work: no lease is held, and the run can end at once.
    Waiting,
    /// A lease is held: its set-up, its agent or its checks run.
    Lease,
    /// The branch is pushed and the pull request opened and reported: that goes on to its end.
    Finishing,
}

/// The reason the running command is stopped with (the ACP cancel line says it).
pub const REASON: &str = "you pressed Ctrl-C";

/// The run's side: how far the volunteer asked it to stop.
#[derive(Debug, Clone)]
pub struct Interrupt {
    level: watch::Receiver<Level>,
    doing: Arc<AtomicU8>,
}

/// The terminal's side: each Ctrl-C, and what the run says it is doing.
#[derive(Debug)]
pub struct Presses {
    level: watch::Sender<Level>,
    doing: Arc<AtomicU8>,
}

/// A pair that belongs together.
pub fn channel() -> (Presses, Interrupt) {
    let (tx, rx) = watch::channel(Level::Running);
    let doing = Arc::new(AtomicU8::new(Doing::Waiting as u8));
    (
        Presses {
            level: tx,
            doing: doing.clone(),
        },
        Interrupt { level: rx, doing },
    )
}

impl Interrupt {
    /// One nobody presses: a run with no terminal behind it.
    pub fn never() -> Interrupt {
        channel().1
    }

    pub fn level(&self) -> Level {
        *self.level.borrow()
    }

    /// Waits until the volunteer has asked for `level`; for ever when nobody can.
    pub async fn reached(&mut self, level: Level) {
        if self.level.wait_for(|l| *l >= level).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Says what the run does now.
    pub fn doing(&self, doing: Doing) {
        self.doing.store(doing as u8, Ordering::Relaxed);
    }
}

impl Presses {
    /// What the run said it does.
    pub fn doing(&self) -> Doing {
        match self.doing.load(Ordering::Relaxed) {
            x if x == Doing::Lease as u8 => Doing::Lease,
            x if x == Doing::Finishing as u8 => Doing::Finishing,
            _ => Doing::Waiting,
        }
    }

    /// Takes one more Ctrl-C: the level now asked for, and the line that says what happens.
    pub fn press(&self, acp: bool) -> (Level, &'static str) {
        let first = *self.level.borrow() == Level::Running;
        let level = if first { Level::Stop } else { Level::Now };
        self.level.send_replace(level);
        let line = match (first, self.doing(), acp) {
            (_, Doing::Waiting, _) => "stopped; no lease is held",
            (true, Doing::Lease, true) => {
                "stopping: cancelling the agent's session… (Ctrl-C again stops it at once)"
            }
            (true, Doing::Lease, false) => {
                "stopping: stopping the agent's processes… (Ctrl-C again stops at once)"
            }
            (true, Doing::Finishing, _) => {
                "stopping once the pull request is opened and reported… (Ctrl-C again stops at \
                 once)"
            }
            (false, Doing::Lease, _) => "stopping at once: the agent's processes are stopped",
            (false, Doing::Finishing, _) => {
                "stopping at once, before the pull request is reported: the lease stays this \
                 worker's until it expires"
            }
        };
        (level, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn presses_stop_then_stop_at_once() {
        let (presses, mut interrupt) = channel();
        assert_eq!(interrupt.level(), Level::Running);
        assert_eq!(presses.press(true).1, "stopped; no lease is held");
        interrupt.doing(Doing::Lease);
        let (level, line) = presses.press(true);
        assert_eq!(level, Level::Now);
        assert_eq!(line, "stopping at once: the agent's processes are stopped");
        interrupt.reached(Level::Now).await;
        assert_eq!(interrupt.level(), Level::Now);
    }

    #[tokio::test]
    async fn nobody_presses_a_never() {
        let mut interrupt = Interrupt::never();
        let waited = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            interrupt.reached(Level::Stop),
        )
        .await;
        assert!(waited.is_err());
    }
}
