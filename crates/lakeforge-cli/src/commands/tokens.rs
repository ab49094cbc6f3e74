//! `lakeforge tokens create|list|revoke`: API tokens of `lakeforge serve` and `lakeforge ui`,
//! kept in the metadata store as hashes; a token is printed once, when created.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets};

use super::runs::time;
use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub command: TokensCommand,
}

#[derive(Subcommand, Clone, Debug)]
pub enum TokensCommand {
    /// Create a token and print it (it is not shown again).
    Create {
        #[command(flatten)]
        project: ProjectArgs,
        /// A name to recognise it by (and revoke it with).
        name: String,
        /// predict (call the prediction routes) or admin; repeatable.
        #[arg(long = "scope", default_values_t = vec!["predict".to_string()])]
        scopes: Vec<String>,
    },
    /// Every token: id, name, scopes, when created, whether revoked.
    List {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Revoke tokens by id or name.
    Revoke {
        #[command(flatten)]
        project: ProjectArgs,
        which: String,
    },
}

/// Whether the store holds a token that is not revoked (servers that require tokens refuse
/// to start without one).
pub(crate) async fn has_live_token(store: &lakeforge_meta::MetaStore) -> anyhow::Result<bool> {
    Ok(store.tokens().await?.iter().any(|t| t.revoked_at.is_none()))
}

pub async fn run(args: TokensArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TokensCommand::Create {
            project,
            name,
            scopes,
        } => {
            let store = store(&project).await?;
            let (id, token) = store.create_token(&name, &scopes).await?;
            eprintln!(
                "Created token {id} `{name}` ({}); it is shown only now:",
                scopes.join(", ")
            );
            println!("{token}");
        }
        TokensCommand::List { project } => {
            let store = store(&project).await?;
            let mut t = Table::new();
            t.load_preset(presets::ASCII_FULL_CONDENSED);
            t.set_header(vec![
                "id",
                "name",
                "scopes",
                "created (UTC)",
                "revoked (UTC)",
            ]);
            for tok in store.tokens().await? {
                t.add_row(vec![
                    tok.id,
                    tok.name,
                    tok.scopes.join(", "),
                    time(&tok.created_at),
                    tok.revoked_at.as_deref().map(time).unwrap_or_default(),
                ]);
            }
            println!("{t}");
        }
        TokensCommand::Revoke { project, which } => {
            let store = store(&project).await?;
            match store.revoke_token(&which).await? {
                0 => anyhow::bail!(
                    "no live token with id or name `{which}`\nhint: `lakeforge tokens list`"
                ),
                n => println!("Revoked {n} token{}.", if n == 1 { "" } else { "s" }),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn store(project: &ProjectArgs) -> anyhow::Result<lakeforge_meta::MetaStore> {
    let target =
        lakeforge_project::settings::read_target(&project.project_dir, &project.profile_flags())?;
    lakeforge_meta::MetaStore::open(&target.metadata)
        .await
        .with_context(|| "opening the metadata store".to_string())
}
