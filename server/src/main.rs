//! `convene`: parse the command line, set up logging, load the config, run.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use convene::cli::{Cli, Command};
use convene::config::Config;
use convene::store::Store;
use convene::{App, cli};
use tracing_subscriber::EnvFilter;

fn init_tracing(format: &str) {
    let filter =
        EnvFilter::try_from_env("CONVENE_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), &cli.overrides) {
        Ok(config) => config,
        // The doctor reports a configuration that does not load like any other finding.
        Err(e) if matches!(cli.command, Command::Doctor) => {
            print!("{}", convene::doctor::config_error(&e).render());
            std::process::exit(1);
        }
        Err(e) => return Err(e),
    };
    init_tracing(&config.log_format);
    match cli.command {
        Command::Serve => {
            let addr: SocketAddr = config.listen.parse()?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = listener.local_addr()?;
            let app = App::build(config, &format!("http://{local}")).await?;
            println!("convene: listening on http://{local}");
            if let Some(link) = app.setup_link() {
                println!("convene: first run: open this link to create the owner account: {link}");
            }
            tracing::info!(%local, backend = app.state.store.backend(), "serving");
            app.serve(listener, shutdown_signal()).await
        }
        Command::Migrate => {
            std::fs::create_dir_all(&config.data_dir)?;
            let store = Store::connect(&config.database_url(), 2).await?;
            store.migrate().await?;
            println!("convene: migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Config => {
            print!("{}", config.redacted_toml()?);
            Ok(())
        }
        Command::Doctor => {
            let report = convene::doctor::run(&config).await;
            print!("{}", report.render());
            if report.failed() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Admin(cmd) => cli::admin(config, cmd).await,
    }
}
