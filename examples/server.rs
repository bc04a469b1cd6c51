//! The icash server: the HTTP contract over PostgreSQL, or over the in-memory store.
//!
//! ```text
//! cargo run --example server                                   # in memory, nothing kept
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/icash cargo run --example server
//! cargo run --example server -- --help                         # every setting
//! ```
//!
//! At start it migrates the database, loads the data directory's CSV files into an empty store,
//! and serves until Ctrl-C or SIGTERM, letting the requests in flight finish. The start-up is
//! the library's [`icash::server`]; this program adds only its allocator.

use std::process::ExitCode;

use clap::Parser;
use icash::server::Config;

// Loading the data files parses, encodes and frees batches on several threads. glibc's
// allocator keeps much of that memory in its arenas for the rest of the process's life;
// jemalloc returns it to the system soon after the load (how soon is set in
// .cargo/config.toml), so a server that loaded a large file does not keep its peak.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    icash::server::main(Config::parse()).await
}
