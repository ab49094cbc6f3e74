//! What state-aware builds (`lakeforge build --changed`) ask the store: for every node, its
//! latest recorded execution (skipped ones aside, since they changed nothing) with the hash
//! of the SQL and config it ran and the upstream table versions it read. A node whose hash
//! and upstream versions are the same today, and whose own table is still at the version it
//! wrote, would produce the same table again.

use std::collections::HashMap;

use crate::decode::RowExt;

use crate::history::LineageEdge;
use crate::{MetaStore, Result};

/// A node's latest execution, as `--changed` compares it.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestExecution {
    pub run_id: String,
    pub attempt: i64,
    pub status: String,
    pub sql_hash: Option<String>,
    pub delta_version: Option<i64>,
    /// What that execution read.
    pub upstream: Vec<LineageEdge>,
}

const LATEST: &str = "SELECT unique_id, run_id, attempt, status, sql_hash, delta_version FROM ( \
       SELECT n.*, ROW_NUMBER() OVER (PARTITION BY unique_id \
         ORDER BY started_at DESC, attempt DESC) AS rn \
       FROM node_executions n WHERE status <> 'skipped') t WHERE rn = 1";

impl MetaStore {
    /// The latest non-skipped execution of every node ever recorded, by unique id.
    pub async fn latest_executions(&self) -> Result<HashMap<String, LatestExecution>> {
        let lineage_sql = format!(
            "SELECT l.unique_id, l.upstream, l.upstream_relation, l.upstream_version \
             FROM lineage l JOIN ({LATEST}) t ON l.run_id = t.run_id \
             AND l.unique_id = t.unique_id AND l.attempt = t.attempt \
             ORDER BY l.unique_id, l.upstream"
        );
        let (rows, edges) = on_pool!(&self.pool, p => {
            let rows: Vec<(String, LatestExecution)> = sqlx::query(LATEST)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| {
                    Ok((
                        r.col("node_executions", 0)?,
                        LatestExecution {
                            run_id: r.col("node_executions", 1)?,
                            attempt: r.col("node_executions", 2)?,
                            status: r.col("node_executions", 3)?,
                            sql_hash: r.col("node_executions", 4)?,
                            delta_version: r.col("node_executions", 5)?,
                            upstream: Vec::new(),
                        },
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            let edges: Vec<(String, LineageEdge)> = sqlx::query(sqlx::AssertSqlSafe(lineage_sql.as_str()))
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| {
                    Ok((
                        r.col("lineage", 0)?,
                        LineageEdge {
                            upstream: r.col("lineage", 1)?,
                            upstream_relation: r.col("lineage", 2)?,
                            upstream_version: r.col("lineage", 3)?,
                        },
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            (rows, edges)
        });
        let mut out: HashMap<String, LatestExecution> = rows.into_iter().collect();
        for (id, edge) in edges {
            if let Some(e) = out.get_mut(&id) {
                e.upstream.push(edge);
            }
        }
        Ok(out)
    }
}
