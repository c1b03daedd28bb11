//! What the terminal gets: the global `-q` / `-v`, progress bars, and colour. Colour goes only to
//! a terminal and follows `NO_COLOR` / `CLICOLOR` / `CLICOLOR_FORCE` (anstream strips it
//! otherwise), so pipes and files get plain text.

use std::sync::atomic::{AtomicBool, Ordering};

use anstyle::{AnsiColor, Style};
use indicatif::ProgressBar;

static QUIET: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Set once from the command line, before the command runs.
pub fn set(quiet: bool, verbose: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
    VERBOSE.store(verbose && !quiet, Ordering::Relaxed);
}

/// `-q`: results only (no progress, no warnings, no hints).
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// `-v`: the detail tables too (a run's folds, every trial of a study).
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// A progress bar on stderr, hidden with `--json` or `-q` (indicatif draws only on a terminal).
pub fn progress_bar(len: u64, json: bool) -> ProgressBar {
    if json || quiet() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    }
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const GOOD: Style = AnsiColor::Green.on_default().bold();

/// `error: ...` on stderr.
pub fn error(message: &str) {
    anstream::eprintln!("{ERROR}error:{ERROR:#} {message}");
}

/// `warning: ...` on stderr, unless `-q`.
pub fn warning(message: &str) {
    if !quiet() {
        anstream::eprintln!("{WARNING}warning:{WARNING:#} {message}");
    }
}

/// A headline on stdout: green when it is good news, yellow otherwise.
pub fn headline(text: &str, good: bool) {
    let style = if good { GOOD } else { WARNING };
    anstream::println!("{style}{text}{style:#}");
}
