//! Ctrl-C (SIGINT) and SIGTERM as a request to finish cleanly: `produce` sends what it has
//! read, `consume --group` commits what it printed and leaves its group. Commands poll
//! [`interrupted`] between requests; no request is cut in half.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the signal handler.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the handler for SIGINT and SIGTERM (a second Ctrl-C still only sets the flag; the
/// commands that install it never block for long).
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe; signal(2) is
    // called with valid signal numbers.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Whether SIGINT or SIGTERM arrived since [`install`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
