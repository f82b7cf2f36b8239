//! Team channels: their membership follows a team and all its sub-teams. Whenever
//! teams or their members change, [`sync_workspace`] brings every team channel of the
//! workspace in line.

use std::collections::{HashMap, HashSet};

use crate::chat::Chat;
use crate::chat::channels::{add_members_in, announce_membership};
use crate::db;
use crate::error::AppResult;
use crate::store::Store;
use crate::store::ids::{ChannelId, TeamId, UserId, WorkspaceId};

/// Members of `team` and its sub-teams; `None` when the team is not in `ws`.
pub async fn team_member_ids(
    store: &Store,
    ws: WorkspaceId,
    team: TeamId,
) -> AppResult<Option<Vec<UserId>>> {
    let tree: Vec<(TeamId, Option<TeamId>)> = db!(store.read(), c => sqlx::query_as("SELECT id, parent_id FROM teams WHERE workspace_id = $1")
        .bind(ws)
        .fetch_all(c)
        .await)?;
    if !tree.iter().any(|(id, _)| *id == team) {
        return Ok(None);
    }
    let teams = subtree(&tree, team);
    let pairs: Vec<(TeamId, UserId)> = db!(store.read(), c => sqlx::query_as(
        "SELECT tm.team_id, tm.user_id FROM team_members tm JOIN teams t ON t.id = tm.team_id WHERE t.workspace_id = $1"
    )
    .bind(ws)
    .fetch_all(c)
    .await)?;
    let mut users: Vec<UserId> = pairs
        .into_iter()
        .filter(|(t, _)| teams.contains(t))
        .map(|(_, u)| u)
        .collect();
    users.sort();
    users.dedup();
    Ok(Some(users))
}

/// `root` and every team below it.
fn subtree(tree: &[(TeamId, Option<TeamId>)], root: TeamId) -> HashSet<TeamId> {
    let mut children: HashMap<TeamId, Vec<TeamId>> = HashMap::new();
    for (id, parent) in tree {
        if let Some(p) = parent {
            children.entry(*p).or_default().push(*id);
        }
    }
    let mut out = HashSet::new();
    let mut stack = vec![root];
    while let Some(t) = stack.pop() {
        if out.insert(t) {
            stack.extend(children.get(&t).into_iter().flatten().copied());
        }
    }
    out
}

/// Make every team channel's members equal its team's (and sub-teams') members.
pub async fn sync_workspace(chat: &Chat, ws: WorkspaceId) -> AppResult<()> {
    // A channel whose team was deleted keeps its people as a private channel.
    db!(chat.store.write(), c => sqlx::query("UPDATE channels SET kind = 'private' WHERE workspace_id = $1 AND kind = 'team' AND team_id IS NULL")
        .bind(ws)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    let channels: Vec<(ChannelId, Option<TeamId>)> = db!(chat.store.read(), c => sqlx::query_as(
        "SELECT id, team_id FROM channels WHERE workspace_id = $1 AND kind = 'team'"
    )
    .bind(ws)
    .fetch_all(c)
    .await)?;
    for (channel, team) in channels {
        let wanted: HashSet<UserId> = match team {
            Some(t) => team_member_ids(&chat.store, ws, t)
                .await?
                .unwrap_or_default()
                .into_iter()
                .collect(),
            None => continue,
        };
        let current: HashSet<UserId> = db!(chat.store.read(), c => sqlx::query_scalar("SELECT user_id FROM channel_members WHERE channel_id = $1")
            .bind(channel)
            .fetch_all(c)
            .await)?
        .into_iter()
        .collect();
        let to_add: Vec<UserId> = wanted.difference(&current).copied().collect();
        let to_remove: Vec<UserId> = current.difference(&wanted).copied().collect();
        if to_add.is_empty() && to_remove.is_empty() {
            continue;
        }
        let mut tx = chat.store.begin().await?;
        let added = add_members_in(&mut tx, channel, &to_add, "member").await?;
        for u in &to_remove {
            crate::tx!(&mut tx, c => sqlx::query("DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2")
                .bind(channel)
                .bind(*u)
                .execute(&mut *c)
                .await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        announce_membership(chat, ws, channel, added, to_remove).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_includes_all_descendants_only() {
        let (a, b, c, d) = (TeamId::new(), TeamId::new(), TeamId::new(), TeamId::new());
        let tree = vec![(a, None), (b, Some(a)), (c, Some(b)), (d, None)];
        let s = subtree(&tree, a);
        assert!(s.contains(&a) && s.contains(&b) && s.contains(&c) && !s.contains(&d));
        assert_eq!(subtree(&tree, c).len(), 1);
    }
}
