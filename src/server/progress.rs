//! Showing how far a long load of the data files has got.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::LoadProgress;

/// What is left once the files are read, which the bytes read cannot time.
const FINISHING: &str = "the files are read; the store is building its indexes and aggregates";

/// Shows how far a long load has got: a bar with its rate and ETA on a terminal, a log line
/// every ten seconds otherwise; once the files are read, that the store is finishing (its
/// indexes and aggregates). Runs until aborted.
pub(super) async fn show(progress: Arc<LoadProgress>) {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        show_bar(&progress).await;
    } else {
        log_lines(&progress).await;
    }
}

async fn show_bar(progress: &LoadProgress) {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "loading {bar:40} {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .expect("a valid template"),
    );
    // The task is aborted when the load ends: the guard's drop clears the bar then.
    let _clear = Clear(bar.clone());
    while !progress.all_read() {
        bar.set_length(progress.total_bytes());
        bar.set_position(progress.bytes_read());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    bar.reset_elapsed();
    bar.set_message(FINISHING);
    bar.enable_steady_tick(Duration::from_millis(200));
    std::future::pending::<()>().await;
}

async fn log_lines(progress: &LoadProgress) {
    let started = Instant::now();
    let mut every = tokio::time::interval(Duration::from_secs(10));
    every.tick().await;
    loop {
        every.tick().await;
        if progress.all_read() {
            let seconds = started.elapsed().as_secs();
            tracing::info!(seconds, "loading: {FINISHING}");
            continue;
        }
        let (read, total) = (progress.bytes_read(), progress.total_bytes());
        let rate = read as f64 / started.elapsed().as_secs_f64();
        let eta_seconds = ((total.saturating_sub(read)) as f64 / rate.max(1.0)).round();
        let percent = (100 * read).checked_div(total).unwrap_or(0);
        tracing::info!(
            percent,
            mib_read = read >> 20,
            mib_per_second = (rate / 1048576.0 * 10.0).round() / 10.0,
            eta_seconds,
            "loading"
        );
    }
}

/// Clears the progress bar when dropped.
struct Clear(ProgressBar);

impl Drop for Clear {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
