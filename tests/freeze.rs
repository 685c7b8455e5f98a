//! `acc freeze`: a frozen refresh is skipped (3), `--force` overrides it, preserved schemas
//! survive, and a freeze database or table acc did not make is refused (78).

mod support;

use support::restores::*;
use support::{Sandbox, acc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_skips_with_exit_3_force_overrides_and_preserved_schemas_survive() {
    let s = setup("freeze", "").await;
    let first = s.snapshot();
    assert_eq!(s.restore(&[]).code, 0);
    // the data exploration area, written by analysts in staging
    let analyst = s.staging.admin(&s.staging.name).await;
    // a multi-statement batch is one transaction that started read-only: unset it first
    analyst
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .unwrap();
    analyst
        .batch_execute(
            "CREATE SCHEMA data_exploration;
             CREATE TABLE data_exploration.saved_query (id int, body text);
             INSERT INTO data_exploration.saved_query SELECT g, 'analysis ' || g FROM generate_series(1, 250) g",
        )
        .await
        .unwrap();
    drop(analyst); // acc cannot end a superuser's session, and would refuse to swap (75)
    let second = s.snapshot();

    let on = s.acc(&[
        "freeze",
        "--profile",
        "t",
        "on",
        "--reason",
        "production down since 21:00",
    ]);
    assert_eq!(on.code, 0, "{on:?}");
    let show = s.acc(&["freeze", "--profile", "t", "show", "--json"]);
    assert_eq!(show.json()["frozen"], true);
    assert_eq!(
        show.json()["freeze"]["reason"],
        "production down since 21:00"
    );
    let skipped = s.restore(&[]);
    assert_eq!(skipped.code, 3, "{skipped:?}");
    assert!(
        skipped.stderr.contains("frozen") && skipped.stderr.contains("production down since 21:00"),
        "{skipped:?}"
    );
    assert_eq!(
        s.staging_label().await,
        first,
        "a frozen staging is not touched"
    );

    assert_eq!(s.acc(&["freeze", "--profile", "t", "off"]).code, 0);
    let run = s.restore(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(s.staging_label().await, second);
    assert_eq!(
        run.json()["preserved_schemas"],
        serde_json::json!(["data_exploration"])
    );
    let kept: i64 = s
        .staging
        .admin(&s.staging.name)
        .await
        .query_one("SELECT count(*) FROM data_exploration.saved_query", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 250, "the data exploration area survives the refresh");

    // a freeze with --auto-off-after is recorded with its end; --force overrides a freeze
    let on = s.acc(&[
        "freeze",
        "--profile",
        "t",
        "on",
        "--reason",
        "drill",
        "--auto-off-after",
        "2h",
    ]);
    assert!(on.stdout.contains("lifts itself"), "{on:?}");
    let third = s.snapshot();
    assert_eq!(s.restore(&["--force"]).code, 0);
    assert_eq!(s.staging_label().await, third);

    // rollback brings back the copy before
    let rb = s.acc(&["restore", "--profile", "t", "--rollback"]);
    assert_eq!(rb.code, 0, "{rb:?}");
    assert_eq!(s.staging_label().await, second);
}

/// Any role with CREATEDB could create `acc_control` before acc does, with a trigger on the
/// freeze table that runs as acc's staging user. acc refuses one it does not own (78), and
/// the one it creates admits nobody else.
#[test]
fn a_freeze_database_someone_else_created_first_is_refused_with_78() {
    let sb = Sandbox::require();
    let scratch = support::ScratchCluster::start(&sb, "planted");
    scratch_sql(
        scratch.port,
        "postgres",
        "postgres",
        "CREATE ROLE acc LOGIN CREATEDB CREATEROLE; CREATE ROLE mallory LOGIN CREATEDB",
    );
    scratch_sql(
        scratch.port,
        "postgres",
        "mallory",
        "CREATE DATABASE acc_control",
    );
    scratch_sql(
        scratch.port,
        "acc_control",
        "mallory",
        "CREATE TABLE public.staging_freeze (database text PRIMARY KEY, frozen_by text NOT NULL,
             frozen_at timestamptz NOT NULL, reason text NOT NULL, auto_off_at timestamptz);
         GRANT ALL ON public.staging_freeze TO PUBLIC;
         CREATE FUNCTION public.planted() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RAISE NOTICE 'planted code ran as %', current_user; RETURN NEW; END $$;
         CREATE TRIGGER planted BEFORE INSERT ON public.staging_freeze
             FOR EACH ROW EXECUTE FUNCTION public.planted();",
    );
    let dir = tempfile::tempdir().unwrap();
    let staging = format!(
        "[profiles.t.staging]\nhost = \"127.0.0.1\"\nport = {}\ndbname = \"staging\"\nuser = \"acc\"\nsslmode = \"disable\"\n",
        scratch.port
    );
    let config = sb.write_profile(dir.path(), "demo_us", None, &staging);
    let freeze = || {
        acc(
            &config,
            &["freeze", "--profile", "t", "on", "--reason", "outage drill"],
        )
    };
    // refused with 78 for `why`, before any planted code ran as acc
    let refused_for = |why: &str| {
        let run = freeze();
        assert_eq!(run.code, 78, "{why}: {run:?}");
        assert!(run.stderr.contains(why), "{why}: {}", run.stderr);
        assert!(!run.stderr.contains("planted code ran"), "{}", run.stderr);
    };
    refused_for("belongs to mallory");

    // handed to acc as the first hint says, it still holds the planted trigger: refused too
    scratch_sql(
        scratch.port,
        "postgres",
        "postgres",
        "ALTER DATABASE acc_control OWNER TO acc",
    );
    refused_for("not as acc makes it");

    // the trigger gone, a CHECK that calls a planted function runs as the writer just the same
    scratch_sql(
        scratch.port,
        "acc_control",
        "postgres",
        "DROP TRIGGER planted ON public.staging_freeze;
         CREATE FUNCTION public.check_planted(text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
         ALTER TABLE public.staging_freeze ADD CONSTRAINT planted CHECK (public.check_planted(reason))",
    );
    refused_for("not as acc makes it");

    // with the planted one gone, acc makes its own, closed to everyone else
    scratch_sql(
        scratch.port,
        "postgres",
        "postgres",
        "DROP DATABASE acc_control WITH (FORCE)",
    );
    let on = freeze();
    assert_eq!(on.code, 0, "{on:?}");
    let out = std::process::Command::new("psql")
        .args(["-X", "-At", "-h", "127.0.0.1", "-p"])
        .arg(scratch.port.to_string())
        .args([
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            "SELECT pg_get_userbyid(datdba) || ':' || has_database_privilege('mallory', 'acc_control', 'CONNECT') FROM pg_database WHERE datname = 'acc_control'",
        ])
        .env("PGSSLMODE", "disable")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "acc:false");
}
