//! SQL that production cannot hijack (CVE-2018-1058): a production user who can create in a
//! schema on the default search_path defines a closer match for a built-in operator or function
//! (`=` and `<>` on an application enum, `format(text, name, name)`), each of which records that
//! it ran. acc pins `search_path = pg_catalog, pg_temp` on every session it opens, so snapshot,
//! restore (whose incoming database holds production's objects), export from either side and
//! replay apply never run them.

mod support;

use std::path::Path;

use chrono::{DateTime, Utc};
use support::{Sandbox, StagingDb, TestDb, acc};

/// Operators and a function that beat the built-in ones by an exact argument match, each
/// recording its call in `public.hijacked`, which anyone may insert into.
const HIJACK: &str = "
CREATE TABLE public.hijacked (what text NOT NULL);
GRANT INSERT ON public.hijacked TO PUBLIC;
CREATE FUNCTION public.hijack_eq(agency.visit_status, agency.visit_status) RETURNS boolean
    LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.hijacked VALUES ('visit_status =');
    RETURN $1::text = $2::text; END $$;
CREATE OPERATOR public.= (LEFTARG = agency.visit_status, RIGHTARG = agency.visit_status,
    FUNCTION = public.hijack_eq);
CREATE FUNCTION public.hijack_ne(agency.visit_status, agency.visit_status) RETURNS boolean
    LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.hijacked VALUES ('visit_status <>');
    RETURN $1::text <> $2::text; END $$;
CREATE OPERATOR public.<> (LEFTARG = agency.visit_status, RIGHTARG = agency.visit_status,
    FUNCTION = public.hijack_ne);
CREATE FUNCTION public.format(text, name, name) RETURNS text
    LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.hijacked VALUES ('format');
    RETURN pg_catalog.format($1, $2, $3); END $$;
";

async fn hijacked(c: &tokio_postgres::Client) -> Vec<String> {
    c.query("SELECT what FROM public.hijacked ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The hijack itself works for a session on the default search_path: the test would prove
/// nothing if PostgreSQL chose the built-ins anyway.
async fn the_hijack_fires_on_the_default_search_path(c: &tokio_postgres::Client) {
    c.batch_execute(
        "SELECT count(*) FROM agency.visits WHERE status = 'scheduled';
         SELECT format('%I.%I', nspname, nspname) FROM pg_namespace LIMIT 1;",
    )
    .await
    .unwrap();
    let fired = hijacked(c).await;
    assert!(fired.contains(&"visit_status =".to_string()), "{fired:?}");
    assert!(fired.contains(&"format".to_string()), "{fired:?}");
    c.batch_execute("TRUNCATE public.hijacked").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_functions_production_users_create_never_run_in_acc_sessions() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "hijack").await;
    let staging = StagingDb::new(&sb, "hijack");
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &prod.name, None, &staging.sections(&sb));
    let p = prod.admin().await;
    p.batch_execute(HIJACK).await.unwrap();
    the_hijack_fires_on_the_default_search_path(&p).await;
    // a visit of yesterday back to scheduled, for replay to complete from paper
    let visit: (i64, DateTime<Utc>, DateTime<Utc>) = p
        .query_one(
            "UPDATE agency.visits SET status = 'scheduled', clock_in = NULL, clock_out = NULL
             WHERE id = (SELECT id FROM agency.visits
                         WHERE (scheduled_start AT TIME ZONE 'America/Toronto')::date
                               = (now() AT TIME ZONE 'America/Toronto')::date - 1
                           AND status::text <> 'cancelled' ORDER BY id LIMIT 1)
             RETURNING id, scheduled_start, scheduled_end",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    p.batch_execute("TRUNCATE public.hijacked").await.unwrap();

    let run = |args: &[&str]| {
        let r = acc(&config, args);
        assert_eq!(r.code, 0, "acc {args:?}: {r:?}");
    };
    run(&["snapshot", "--profile", "t", "--now"]);
    run(&["restore", "--profile", "t"]);
    let out = dir.path().join("out");
    for source in ["staging", "production"] {
        run(&[
            "export",
            "--profile",
            "t",
            "--source",
            source,
            "--to",
            out.join(source).to_str().unwrap(),
        ]);
    }
    let attendance = dir.path().join("attendance.csv");
    std::fs::write(
        &attendance,
        format!(
            "visit_id,clock_in,clock_out\n{},{},{}\n",
            visit.0,
            visit.1.to_rfc3339(),
            visit.2.to_rfc3339()
        ),
    )
    .unwrap();
    run(&[
        "replay",
        "apply",
        "--profile",
        "t",
        "--operator",
        "hijack-test",
        attendance.to_str().unwrap(),
    ]);
    let status: String = p
        .query_one(
            "SELECT status::text FROM agency.visits WHERE id = $1",
            &[&visit.0],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "completed", "replay applied the paper entry");

    assert_eq!(hijacked(&p).await, Vec::<String>::new(), "production");
    let st = staging.admin(&staging.name).await;
    assert_eq!(hijacked(&st).await, Vec::<String>::new(), "staging");
    assert!(Path::new(&out).exists());
}
