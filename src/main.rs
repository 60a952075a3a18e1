//! The `sticky-guard` binary: parses the command line and hands off to [`sticky_guard::cli`].

use clap::Parser;

/// mimalloc rather than the system allocator: a review is many small short-lived allocations
/// (decoded strings, findings, the answer), where glibc's malloc/free took about a sixth of the
/// server's CPU (bench/README.md); and glibc kept the memory of a burst of large requests for
/// good (RSS 422 MiB a minute after eight 7 MB reviews).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mimalloc.h` (the `mi_option_e` enum; the Rust
/// binding does not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    let cli = sticky_guard::cli::Cli::parse();
    // A server returns freed memory to the OS at once: mimalloc's default (10 ms) only purges
    // when the freeing thread allocates again, so an idle server kept the memory of its last
    // large request (63 MiB after eight 7 MB reviews; 22 MiB with this). The one-shot commands
    // keep the default: purging at once made `check` of 4,000 Ingresses spend 40% of its time
    // faulting pages back in.
    if matches!(cli.command, sticky_guard::cli::Command::Serve(_)) {
        // SAFETY: sets a process-wide option before any thread is started (parsing starts none).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    sticky_guard::cli::run(cli)
}
