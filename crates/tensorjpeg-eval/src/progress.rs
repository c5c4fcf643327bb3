//! How an experiment reports progress to its front end (a progress bar in the CLI, nothing
//! in a library call).

/// Progress of a long experiment: phases of a known number of steps. Every method has a
/// do-nothing default, so a front end implements only what it shows.
pub trait Progress: Sync {
    /// A new phase of `len` steps named `what`.
    fn phase(&self, _what: &str, _len: usize) {}
    /// What the current step is working on.
    fn message(&self, _msg: &str) {}
    /// `n` more steps done.
    fn advance(&self, _n: usize) {}
    /// A note for the user (a skipped point), shown without breaking the bar.
    fn note(&self, _msg: &str) {}
    /// The current phase is over.
    fn finish(&self) {}
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}
