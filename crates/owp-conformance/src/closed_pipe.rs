//! How a command ends when its reader goes away: a reader that closed its pipe early
//! (`owp-conformance --list | head -5`, `owp conformance --list | head -5`) ends the command
//! quietly, as `head` expects of the command before it. The `owp` command uses this too.

/// From here on, a write to a closed stdout or stderr ends the process quietly with status 0, as
/// `head` expects of the command before it, instead of the panic (status 101 and a backtrace) of
/// Rust's `print!`. Every other panic is reported as before.
pub fn quiet_on_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_closed_pipe_panic(message) {
            std::process::exit(0);
        }
        report(info);
    }));
}

/// `true` for the panic of `print!`/`eprint!` on a closed pipe: `failed printing to stdout: ` and
/// the text of this platform's broken-pipe error.
pub fn is_closed_pipe_panic(message: &str) -> bool {
    let Some(error) = message
        .strip_prefix("failed printing to stdout: ")
        .or_else(|| message.strip_prefix("failed printing to stderr: "))
    else {
        return false;
    };
    CLOSED_PIPE_CODES
        .iter()
        .map(|&code| std::io::Error::from_raw_os_error(code))
        .filter(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        .any(|e| e.to_string() == error)
}

/// The operating system's error codes for writing to a pipe whose reader has gone.
#[cfg(unix)]
pub const CLOSED_PIPE_CODES: &[i32] = &[libc::EPIPE];
/// The operating system's error codes for writing to a pipe whose reader has gone:
/// ERROR_BROKEN_PIPE and ERROR_NO_DATA ("The pipe is being closed.").
#[cfg(windows)]
pub const CLOSED_PIPE_CODES: &[i32] = &[109, 232];
#[cfg(not(any(unix, windows)))]
pub const CLOSED_PIPE_CODES: &[i32] = &[];
