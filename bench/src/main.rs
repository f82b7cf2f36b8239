//! convene-bench: load benchmarks for Convene.
//!
//! `cargo run --release -p convene-bench -- chat` runs the chat benchmark and
//! `cargo run --release -p convene-bench -- sfu` the SFU benchmark against Janus (see
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
mod sfu;
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
    /// SFU: the same synthetic video load through Janus's videoroom and Convene, in a
    /// network namespace of its own (needs root and Debian's `janus`).
    Sfu(sfu::SfuArgs),
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
        Command::Sfu(args) => sfu::main(args),
        Command::BareServer { listen } => bare::main(&listen),
    }
}
