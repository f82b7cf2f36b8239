//! convene-bench: load benchmarks for Convene.
//!
//! `cargo run --release -p convene-bench -- chat` runs the chat benchmark (see
//! `bench/README.md` and `docs/BENCHMARKS.md`).

use clap::{Parser, Subcommand};

mod bare;
mod chat;
mod client;
mod convene;
mod fleet;
mod hist;
mod http;
mod servers;
mod sys;

#[derive(Parser)]
#[command(name = "convene-bench", about = "Load benchmarks for Convene")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Chat: the same load against a bare tokio-tungstenite broadcaster and Convene.
    Chat(chat::ChatArgs),
    /// The bare broadcast server (started by `chat`, pinned to a core).
    #[command(hide = true)]
    BareServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Chat(args) => chat::main(args),
        Command::BareServer { listen } => bare::main(&listen),
    }
}
