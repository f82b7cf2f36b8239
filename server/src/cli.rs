//! The command line: `serve`, `migrate`, `config`, and `admin` subcommands so scripts
//! can provision accounts without the web client.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::accounts::auth_routes::SignUp;
use crate::accounts::{lifecycle, users};
use crate::auth::password::{Passwords, check_new_password};
use crate::config::{Config, Overrides};
use crate::orgs::{Role, members, workspaces};
use crate::store::Store;
use crate::{App, db};

/// Convene: self-hosted team chat and video meetings.
#[derive(Debug, Parser)]
#[command(name = "convene", version, about)]
pub struct Cli {
    /// TOML configuration file [env: CONVENE_CONFIG]
    #[arg(long, global = true, env = "CONVENE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration (secrets redacted).
    Config,
    /// Check the configuration against what it points at (database, data directory,
    /// media port, TURN, public URL, clock); exits non-zero when something is wrong.
    Doctor,
    /// Manage accounts from the command line.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account, optionally adding it to a workspace (created if missing).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Username (default: the part of the email before @).
        #[arg(long)]
        username: Option<String>,
        /// Workspace name or slug to join (created, with this user as owner, if none matches).
        #[arg(long)]
        workspace: Option<String>,
        /// Role in the workspace: owner, admin, member or guest.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Set a new password for an account (ends its sessions).
    ResetPassword {
        /// Email or username.
        #[arg(long)]
        user: String,
        #[arg(long)]
        password: String,
    },
    /// Deactivate an account: it cannot sign in and its sessions end.
    Deactivate {
        /// Email or username.
        #[arg(long)]
        user: String,
    },
    /// Reactivate a deactivated account.
    Reactivate {
        /// Email or username.
        #[arg(long)]
        user: String,
    },
    /// Backup, restore and workspace export.
    #[command(flatten)]
    Data(crate::ops::DataCommand),
}

/// Run an admin command against the configured database.
pub async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    if let AdminCommand::Data(command) = command {
        // These work on the data directory directly, without starting the app.
        return crate::ops::run(&config, command).await;
    }
    let app = App::build(config, "http://127.0.0.1").await?;
    let state = app.state;
    let fail = |e: crate::error::AppError| anyhow::anyhow!("{e}");
    match command {
        AdminCommand::CreateUser {
            email,
            password,
            name,
            username,
            workspace,
            role,
        } => {
            let role = Role::parse(&role).map_err(fail)?;
            let username =
                username.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
            let sign_up =
                SignUp::parse(&email, &username, &name, &password, None, None).map_err(fail)?;
            let hash = state.passwords.hash(password).await.map_err(fail)?;
            let mut tx = state.store.begin().await?;
            let user = users::create(&mut tx, sign_up.into_new_user(hash))
                .await
                .map_err(fail)?;
            if let Some(ws_name) = workspace {
                match find_workspace(&state.store, &ws_name).await? {
                    Some(ws) => members::add_in(&mut tx, ws, user.id, role)
                        .await
                        .map_err(fail)?,
                    None => {
                        let name = workspaces::parse_name(&ws_name).map_err(fail)?;
                        let ws = workspaces::create_in(&mut tx, &name, user.id)
                            .await
                            .map_err(fail)?;
                        println!("created workspace {} ({})", ws.name, ws.id);
                    }
                }
            }
            tx.commit().await?;
            // Setup is done once an account exists.
            db!(state.store.write(), c => sqlx::query("DELETE FROM setup_tokens").execute(c).await.map(|r| r.rows_affected()))?;
            println!("created user {} ({})", user.username, user.id);
        }
        AdminCommand::ResetPassword { user, password } => {
            let (row, _) = users::find_for_login(&state.store, &user)
                .await
                .map_err(fail)?
                .context("no such user")?;
            check_new_password(&password, &[&row.email, &row.username, &row.display_name])
                .map_err(fail)?;
            let hash = Passwords::new().await?.hash(password).await.map_err(fail)?;
            users::set_password_hash(&state.store, row.id, &hash)
                .await
                .map_err(fail)?;
            lifecycle::end_sessions(&state, row.id, None)
                .await
                .map_err(fail)?;
            println!(
                "password reset for {}; their sessions have ended",
                row.username
            );
        }
        AdminCommand::Deactivate { user } => {
            let (row, _) = users::find_for_login(&state.store, &user)
                .await
                .map_err(fail)?
                .context("no such user")?;
            lifecycle::set_active(&state, row.id, false)
                .await
                .map_err(fail)?;
            println!("deactivated {}", row.username);
        }
        AdminCommand::Reactivate { user } => {
            let (row, _) = users::find_for_login(&state.store, &user)
                .await
                .map_err(fail)?
                .context("no such user")?;
            lifecycle::set_active(&state, row.id, true)
                .await
                .map_err(fail)?;
            println!("reactivated {}", row.username);
        }
        // Handled before the app was built.
        AdminCommand::Data(_) => {}
    }
    state.store.close().await;
    Ok(())
}

async fn find_workspace(
    store: &Store,
    name_or_slug: &str,
) -> anyhow::Result<Option<crate::store::ids::WorkspaceId>> {
    Ok(
        db!(store.read(), c => sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = $1 OR name = $1 ORDER BY created_at LIMIT 1")
        .bind(name_or_slug)
        .fetch_optional(c)
        .await)?,
    )
}
