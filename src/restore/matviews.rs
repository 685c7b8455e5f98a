//! Materialized views on the incoming copy. Schema-only archives create every materialized view
//! unpopulated, so the ones production had populated are refreshed once their data and indexes
//! are in: each after the materialized views it reads from (directly or through plain views),
//! the independent ones in parallel on `jobs` connections. One production had unpopulated stays
//! unpopulated.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;

use super::target::Target;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::pg::quote_ident;
use crate::snapshot::manifest::MaterializedView;

type Name = (String, String);

/// For each materialized view, the materialized views it reads, through any depth of views.
const DEPENDENCIES: &str = "
WITH RECURSIVE dep(viewer, used) AS (
    SELECT r.ev_class, d.refobjid FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
), walk(mv, used) AS (
    SELECT dep.viewer, dep.used FROM dep JOIN pg_class c ON c.oid = dep.viewer AND c.relkind = 'm'
    UNION
    SELECT walk.mv, dep.used FROM walk
    JOIN pg_class c ON c.oid = walk.used AND c.relkind = 'v'
    JOIN dep ON dep.viewer = walk.used
)
SELECT vn.nspname::text, v.relname::text, un.nspname::text, u.relname::text
FROM walk
JOIN pg_class v ON v.oid = walk.mv JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_class u ON u.oid = walk.used AND u.relkind = 'm' AND u.oid <> v.oid
JOIN pg_namespace un ON un.oid = u.relnamespace";

/// Refreshes the views production had populated; returns how many.
pub async fn refresh(
    target: &Target,
    env: &Env,
    views: &[MaterializedView],
    jobs: usize,
) -> Result<usize> {
    let wanted: BTreeSet<Name> = views
        .iter()
        .filter(|v| v.populated)
        .map(|v| (v.schema.clone(), v.name.clone()))
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let client = target.connect(&target.incoming(), env).await?;
    let mut needs: BTreeMap<Name, BTreeSet<Name>> = wanted
        .iter()
        .map(|v| (v.clone(), BTreeSet::new()))
        .collect();
    for r in client.query(DEPENDENCIES, &[]).await.map_err(|e| {
        crate::pg::sqlstate::failure("cannot read the materialized views' dependencies", e)
    })? {
        let (viewer, used): (Name, Name) = ((r.get(0), r.get(1)), (r.get(2), r.get(3)));
        if let Some(set) = needs.get_mut(&viewer).filter(|_| wanted.contains(&used)) {
            set.insert(used);
        }
    }
    drop(client);
    let total = needs.len();
    while !needs.is_empty() {
        let ready: Vec<Name> = needs
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(v, _)| v.clone())
            .collect();
        if ready.is_empty() {
            return Err(Error::internal(
                "the materialized views depend on one another in a cycle",
            ));
        }
        futures_util::stream::iter(ready.iter().cloned().map(Ok::<_, Error>))
            .try_for_each_concurrent(
                jobs.max(1),
                |view| async move { one(target, env, &view).await },
            )
            .await?;
        for v in &ready {
            needs.remove(v);
        }
        for deps in needs.values_mut() {
            for v in &ready {
                deps.remove(v);
            }
        }
    }
    Ok(total)
}

async fn one(target: &Target, env: &Env, (schema, name): &Name) -> Result<()> {
    let client = target.connect(&target.incoming(), env).await?;
    client
        .batch_execute(&format!(
            "SET statement_timeout = 0; REFRESH MATERIALIZED VIEW {}.{}",
            quote_ident(schema),
            quote_ident(name)
        ))
        .await
        .map_err(|e| {
            crate::pg::sqlstate::failure(
                format!("cannot refresh materialized view {schema}.{name}"),
                e,
            )
        })
}
