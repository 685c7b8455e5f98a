//! Who needs paper first: carers whose device missed their latest visits (a sync mismatch) or
//! keeps no offline copy. Each test makes carers stale on purpose in a production clone, then
//! checks the device-sync dashboard, `acc sheets --stale-only` and its urgent list, `acc
//! status` in its four formats, and `acc replay`'s flag against what it did.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use support::exports::{export, records};
use support::printed::{csv_records, decrypted, pages, private_dir, sheets, text_of, today};
use support::restores::{Setup, setup};
use support::{Sandbox, TestDb, acc, age_decrypt, day_file, files_under};

/// The profile's sections that make it track devices; one day ahead.
const TRACKED: &str = "[profiles.t.export]\nextra_dashboards = [\"device-sync\"]\ndays = 1\n";

/// Carers made stale on purpose: `stale` (device last synced three days ago, so every visit
/// ahead is missing from the app), `changed` (in sync, then one visit ahead moved on the rota)
/// and `offline_off` (in sync, but offline mode turned off).
struct Staled {
    stale: String,
    stale_visits: i64,
    changed: String,
    offline_off: String,
}

/// `[start, end)` of a local day in Toronto, as SQL.
fn local_day(day: &str) -> (String, String) {
    (
        format!("('{day}'::date)::timestamp AT TIME ZONE 'America/Toronto'"),
        format!("('{day}'::date + 1)::timestamp AT TIME ZONE 'America/Toronto'"),
    )
}

/// The per-carer facts of a window, computed here without acc's query: visits ahead, the
/// latest change among them, the latest sync of any device, and whether every device keeps
/// an offline copy. `worked` counts clocked-in visits' changes too (to pick carers whose
/// device has every change, whatever the rule).
fn carers_sql(start: &str, end: &str, worked: bool) -> String {
    let changes = if worked {
        ""
    } else {
        "FILTER (WHERE v.clock_in IS NULL)"
    };
    format!(
        "WITH w AS (SELECT v.employee_id,
                           count(*) FILTER (WHERE v.status::text <> 'cancelled') AS n,
                           max(v.updated_at) {changes} AS last_change
                    FROM agency.visits v
                    WHERE v.employee_id IS NOT NULL
                      AND v.scheduled_start >= {start} AND v.scheduled_start < {end}
                    GROUP BY 1
                    HAVING count(*) FILTER (WHERE v.status::text <> 'cancelled') > 0),
              d AS (SELECT employee_id, max(last_successful_sync) AS synced, bool_and(offline_mode) AS offline
                    FROM agency.user_devices GROUP BY 1)
         SELECT e.employee_number, w.n,
                w.last_change IS NOT NULL AND (d.synced IS NULL OR w.last_change > d.synced) AS mismatch,
                coalesce(d.offline, false) AS offline
         FROM w JOIN agency.employees e ON e.id = w.employee_id
         LEFT JOIN d ON d.employee_id = w.employee_id
         ORDER BY 1"
    )
}

/// (employee number, visits, mismatch, every device offline) for each carer of the window.
async fn carers(
    c: &tokio_postgres::Client,
    start: &str,
    end: &str,
) -> Vec<(String, i64, bool, bool)> {
    carers_by(c, start, end, false).await
}

async fn carers_by(
    c: &tokio_postgres::Client,
    start: &str,
    end: &str,
    worked: bool,
) -> Vec<(String, i64, bool, bool)> {
    c.query(&carers_sql(start, end, worked), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Picks three carers in sync with offline mode on and two or more visits in the window, and
/// makes one stale, moves a visit of another, and turns offline mode off for the third.
async fn make_stale(c: &tokio_postgres::Client, start: &str, end: &str) -> Staled {
    let fine: Vec<(String, i64)> = carers_by(c, start, end, true)
        .await
        .into_iter()
        .filter(|(_, n, mismatch, offline)| *n >= 2 && !mismatch && *offline)
        .map(|(e, n, _, _)| (e, n))
        .collect();
    assert!(fine.len() >= 3, "the seed has carers in sync: {fine:?}");
    let (stale, changed, offline_off) = (&fine[0], &fine[1], &fine[2]);
    let id = |number: &str| {
        format!("(SELECT id FROM agency.employees WHERE employee_number = '{number}')")
    };
    c.batch_execute(&format!(
        "UPDATE agency.user_devices SET last_successful_sync = now() - interval '3 days'
           WHERE employee_id = {stale_id};
         UPDATE agency.visits SET scheduled_end = scheduled_end + interval '15 minutes'
           WHERE id = (SELECT min(id) FROM agency.visits WHERE employee_id = {changed_id}
                         AND status::text <> 'cancelled'
                         AND scheduled_start >= {start} AND scheduled_start < {end});
         UPDATE agency.user_devices SET offline_mode = false WHERE employee_id = {off_id};",
        stale_id = id(&stale.0),
        changed_id = id(&changed.0),
        off_id = id(&offline_off.0),
    ))
    .await
    .unwrap();
    Staled {
        stale: stale.0.clone(),
        stale_visits: stale.1,
        changed: changed.0.clone(),
        offline_off: offline_off.0.clone(),
    }
}

/// The carers who need paper first in the window, by this test's own rule.
async fn urgent(c: &tokio_postgres::Client, start: &str, end: &str) -> BTreeSet<String> {
    carers(c, start, end)
        .await
        .into_iter()
        .filter(|(_, _, mismatch, offline)| *mismatch || !offline)
        .map(|(e, _, _, _)| e)
        .collect()
}

fn column<'r>(header: &csv::StringRecord, row: &'r csv::StringRecord, name: &str) -> &'r str {
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("column {name}"));
    &row[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_sync_dashboard_puts_a_carer_made_stale_on_purpose_first_with_what_they_missed()
{
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "devsync_dash").await;
    let day = today();
    let (start, end) = local_day(&day);
    let c = db.admin().await;
    let staled = make_stale(&c, &start, &end).await;
    let expected = carers(&c, &start, &end).await;

    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &db.name, None, TRACKED);
    let out = dir.path().join("out");
    let run = export(&config, out.to_str().unwrap(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names: Vec<String> = run.json()["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 10, "the nine and the optional one: {names:?}");
    assert_eq!(names[9], "device-sync");

    let day_dir = out.join("t").join(&day);
    let (header, rows) = csv_records(&age_decrypt(&sb, &day_file(&day_dir, "device-sync")));
    assert_eq!(rows.len(), expected.len(), "one row per carer with visits");
    let row = |number: &str| {
        rows.iter()
            .find(|r| &r[0] == number)
            .unwrap_or_else(|| panic!("{number} has a row"))
    };
    let count =
        |r: &csv::StringRecord, name: &str| -> i64 { column(&header, r, name).parse().unwrap() };

    let stale = row(&staled.stale);
    assert_eq!(count(stale, "Visits ahead"), staled.stale_visits);
    assert_eq!(
        count(stale, "Visits changed since sync"),
        staled.stale_visits,
        "every visit ahead is newer than a sync three days old"
    );
    let synced: String = c
        .query_one(
            "SELECT to_char(max(d.last_successful_sync) AT TIME ZONE 'America/Toronto', 'YYYY-MM-DD HH24:MI:SS')
             FROM agency.user_devices d JOIN agency.employees e ON e.id = d.employee_id
             WHERE e.employee_number = $1",
            &[&staled.stale],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        column(&header, stale, "Last successful sync").starts_with(&synced),
        "{} is {synced} in local time",
        column(&header, stale, "Last successful sync")
    );
    assert_eq!(count(row(&staled.changed), "Visits changed since sync"), 1);
    let off = row(&staled.offline_off);
    assert_eq!(count(off, "Visits changed since sync"), 0);
    assert_eq!(column(&header, off, "Offline mode"), "no");
    for (number, _, mismatch, _) in &expected {
        assert_eq!(
            count(row(number), "Visits changed since sync") > 0,
            *mismatch,
            "{number}"
        );
    }
    // the most urgent first: the counts of changed visits never go up down the file
    let changed: Vec<i64> = rows
        .iter()
        .map(|r| count(r, "Visits changed since sync"))
        .collect();
    assert!(changed.windows(2).all(|w| w[0] >= w[1]), "{changed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_only_sheets_and_the_urgent_list_hold_exactly_the_carers_who_need_paper_first() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "devsync_sheets").await;
    let day = today();
    let (start, end) = local_day(&day);
    let c = db.admin().await;
    let staled = make_stale(&c, &start, &end).await;
    let expected = urgent(&c, &start, &end).await;
    assert!(expected.contains(&staled.stale) && expected.contains(&staled.offline_off));
    assert!(
        expected.len() > 3 && expected.len() < 200,
        "{}",
        expected.len()
    );

    // a profile that does not track devices cannot tell who is stale: 78, naming the key
    let dir = tempfile::tempdir().unwrap();
    let untracked = sb.write_profile(dir.path(), &db.name, None, "");
    let out = dir.path().join("out");
    let refused = sheets(&untracked, out.to_str().unwrap(), &day, &["--stale-only"]);
    assert_eq!(refused.code, 78, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("export.extra_dashboards"),
        "{}",
        refused.stderr
    );

    let config = sb.write_profile(dir.path(), &db.name, None, TRACKED);
    let run = sheets(&config, out.to_str().unwrap(), &day, &["--stale-only"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed: BTreeSet<String> = run.json()["urgent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["employee_number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, expected);

    // exactly their sheets, as CSV and as PDF, and nobody else's rows in the combined CSV
    // a day of its own: the full set's day is never replaced by the urgent ones
    let day_dir = out.join(format!("t/sheets-first/{day}"));
    assert!(!out.join("t/sheets").exists());
    let files: Vec<String> = files_under(&day_dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let sheets_as = |ext: &str| -> BTreeSet<String> {
        files
            .iter()
            .filter_map(|f| f.strip_suffix(ext))
            .filter(|n| *n != "all")
            .map(str::to_string)
            .collect()
    };
    // a carer with no visit left on the sheet's days (all cancelled) has no sheet
    assert_eq!(sheets_as(".csv.age"), expected);
    assert_eq!(sheets_as(".pdf.age"), expected);
    let all = records(&age_decrypt(&sb, &day_file(&day_dir, "all")));
    let in_all: BTreeSet<String> = all[1..].iter().map(|r| r[0].to_string()).collect();
    assert_eq!(in_all, expected);

    // all.pdf starts with the urgent list: exactly those carers, with their phone numbers
    let plain = private_dir();
    let combined = decrypted(&sb, &day_file(&day_dir, "all.pdf.age"), plain.path());
    let list_pages: Vec<String> = (1..=pages(&combined))
        .map(|p| text_of(&combined, Some(p)))
        .take_while(|t| t.starts_with("Call first"))
        .collect();
    assert!(
        !list_pages.is_empty(),
        "the combined PDF starts with the list"
    );
    let list = list_pages.join(" ");
    let on_list: BTreeSet<String> = list
        .split_whitespace()
        .filter(|w| {
            w.len() == 7 && w.starts_with('E') && w[1..].chars().all(|c| c.is_ascii_digit())
        })
        .map(str::to_string)
        .collect();
    assert_eq!(on_list, expected);
    let phone: String = c
        .query_one(
            "SELECT phone FROM agency.employees WHERE employee_number = $1",
            &[&staled.stale],
        )
        .await
        .unwrap()
        .get(0);
    assert!(list.contains(&phone), "{phone} is on the list");
    assert!(
        text_of(&combined, Some(list_pages.len() + 1)).contains("Page 1 of"),
        "then the sheets"
    );

    // the stale carer's own sheet says what their app misses
    let own = decrypted(
        &sb,
        &day_file(&day_dir, &format!("{}.pdf.age", staled.stale)),
        plain.path(),
    );
    let first = text_of(&own, Some(1));
    assert!(
        first.contains("device last synced") && first.contains("visits changed since"),
        "{first}"
    );
    let changed_sheet = decrypted(
        &sb,
        &day_file(&day_dir, &format!("{}.pdf.age", staled.changed)),
        plain.path(),
    );
    assert!(
        text_of(&changed_sheet, Some(1)).contains("; 1 visits changed since"),
        "the carer whose visit moved"
    );
    let off_sheet = decrypted(
        &sb,
        &day_file(&day_dir, &format!("{}.pdf.age", staled.offline_off)),
        plain.path(),
    );
    assert!(
        !text_of(&off_sheet, Some(1)).contains("device last synced"),
        "in sync: nothing missed to say"
    );
}

/// `acc status` for the profile in `format` flags.
fn status(config: &Path, extra: &[&str]) -> support::Run {
    let mut args = vec!["status", "--profile", "t"];
    args.extend_from_slice(extra);
    acc(config, &args)
}

/// The carers with a mismatch in the next 24 hours on staging, counted here.
async fn mismatched_now(s: &Setup) -> usize {
    let c = s.staging.admin(&s.staging.name).await;
    carers(&c, "now()", "now() + interval '24 hours'")
        .await
        .iter()
        .filter(|(_, _, mismatch, _)| *mismatch)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_the_carers_whose_device_missed_visits_in_all_four_formats() {
    let s = setup("devsync_status", TRACKED).await;
    let c = s.prod.admin().await;
    make_stale(&c, "now()", "now() + interval '24 hours'").await;
    s.snapshot();
    let restored = s.restore(&[]);
    assert_eq!(restored.code, 0, "{restored:?}");

    // the count moves only when a visit starts within the window: read it on both sides
    let mut tries = 0;
    let (n, json, text, nagios, prom) = loop {
        tries += 1;
        assert!(tries <= 5, "the window kept moving under the test");
        let before = mismatched_now(&s).await;
        let prom = s._tmp.path().join("acc.prom");
        let json = status(
            &s.config,
            &["--json", "--prometheus", prom.to_str().unwrap()],
        );
        let text = status(&s.config, &[]);
        let nagios = status(&s.config, &["--nagios"]);
        if mismatched_now(&s).await == before {
            break (
                before,
                json,
                text,
                nagios,
                std::fs::read_to_string(&prom).unwrap(),
            );
        }
    };
    assert!(n >= 2, "the stale carer and the moved visit's: {n}");
    assert_eq!(json.code, 0, "{json:?}");
    let sync = &json.json()[0]["sync_mismatch"];
    assert_eq!(sync["mismatch"].as_u64(), Some(n as u64), "{sync}");
    assert!(sync["carers"].as_u64().unwrap() > n as u64);
    assert!(
        text.stdout.contains(&format!("devices    {n} of ")),
        "{}",
        text.stdout
    );
    assert!(
        prom.lines()
            .any(|l| l == format!("acc_sync_mismatch_carers{{profile=\"t\"}} {n}")),
        "{prom}"
    );
    assert_eq!(nagios.code, 0, "{}", nagios.stdout);
    assert!(
        nagios
            .stdout
            .trim_end()
            .ends_with(&format!("| 't_sync_mismatch_carers'={n};")),
        "{}",
        nagios.stdout
    );

    // a threshold below the count warns, in Nagios's terms too; one at it does not
    let warned = status(
        &s.config,
        &["--nagios", "--warn-stale", &(n - 1).to_string()],
    );
    assert_eq!(warned.code, 1, "{}", warned.stdout);
    assert!(
        warned.stdout.starts_with("ACC WARNING - t: ")
            && warned.stdout.contains("acc sheets --stale-only"),
        "{}",
        warned.stdout
    );
    let calm = status(&s.config, &["--nagios", "--warn-stale", &n.to_string()]);
    assert_eq!(calm.code, 0, "{}", calm.stdout);

    // the readiness gate
    let gate = status(
        &s.config,
        &["--require", "ready", "--require", &format!("max-stale={n}")],
    );
    assert_eq!(gate.code, 0, "{gate:?}");
    let gate = status(&s.config, &["--require", &format!("max-stale={}", n - 1)]);
    assert_eq!(gate.code, 3, "{gate:?}");
    assert!(
        gate.stderr.contains(&format!("more than {}", n - 1)),
        "{}",
        gate.stderr
    );
    let bad = status(&s.config, &["--require", "max-stale=few"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

/// The first visit of `number` in the window: its id, start and end in Toronto's time.
async fn first_visit(
    c: &tokio_postgres::Client,
    number: &str,
    start: &str,
    end: &str,
) -> (i64, String, String) {
    let r = c
        .query_one(
            &format!(
                "SELECT v.id, to_char(v.scheduled_start AT TIME ZONE 'America/Toronto', 'YYYY-MM-DD HH24:MI'),
                        to_char(v.scheduled_end AT TIME ZONE 'America/Toronto', 'YYYY-MM-DD HH24:MI')
                 FROM agency.visits v JOIN agency.employees e ON e.id = v.employee_id
                 WHERE e.employee_number = $1 AND v.status::text <> 'cancelled'
                   AND v.scheduled_start >= {start} AND v.scheduled_start < {end}
                 ORDER BY v.id LIMIT 1"
            ),
            &[&number],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_for_a_visit_the_carers_app_missed_is_flagged_typed_from_a_stale_schedule() {
    let s = setup("devsync_replay", TRACKED).await;
    let c = s.prod.admin().await;
    // yesterday, in Toronto: the outage
    let day: chrono::NaiveDate = c
        .query_one(
            "SELECT (now() AT TIME ZONE 'America/Toronto')::date - 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let (start, end) = local_day(&day.to_string());
    let staled = make_stale(&c, &start, &end).await;
    // one visit of the stale carer and one of the offline-off carer (in sync), their clock
    // times lost in the outage; the visits are not touched otherwise (no trigger runs)
    let (stale_visit, a_in, a_out) = first_visit(&c, &staled.stale, &start, &end).await;
    let (fine_visit, b_in, b_out) = first_visit(&c, &staled.offline_off, &start, &end).await;
    c.batch_execute(&format!(
        "SET session_replication_role = replica;
         UPDATE agency.visits SET clock_in = NULL, clock_out = NULL, status = 'scheduled'
         WHERE id IN ({stale_visit}, {fine_visit});
         RESET session_replication_role;"
    ))
    .await
    .unwrap();
    s.snapshot();
    assert_eq!(s.restore(&[]).code, 0);
    let file = s._tmp.path().join("attendance.csv");
    std::fs::write(
        &file,
        format!("visit_id,clock_in,clock_out\n{stale_visit},{a_in},{a_out}\n{fine_visit},{b_in},{b_out}\n"),
    )
    .unwrap();
    let f = file.to_str().unwrap();

    let check = s.acc(&["replay", "check", "--profile", "t", "--json", f]);
    assert_eq!(check.code, 0, "{check:?}");
    let flagged = check.json()["stale"].as_array().unwrap().clone();
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!(flagged[0]["at"], format!("{f}:2"));
    let why = flagged[0]["why"].as_str().unwrap();
    assert!(
        why.starts_with("typed from a stale schedule: visit ") && why.contains(&staled.stale),
        "{why}"
    );

    // the text report says it, and applying does not refuse the line: the coordinator decides
    let apply = s.acc(&["replay", "apply", "--profile", "t", "--operator", "ops", f]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply
            .stdout
            .contains(&format!("{f}:2: typed from a stale schedule"))
            && !apply.stdout.contains(&format!("{f}:3: typed")),
        "{}",
        apply.stdout
    );
    assert!(
        apply
            .stdout
            .contains("1 line(s) typed from a stale schedule"),
        "{}",
        apply.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_a_profile_that_tracks_devices_on_a_database_without_them() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "devsync_doctor").await;
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &db.name, None, TRACKED);
    let line = |run: &support::Run| {
        run.stdout
            .lines()
            .find(|l| l.contains("device-sync"))
            .unwrap_or_else(|| panic!("a device-sync check: {}", run.stdout))
            .to_string()
    };
    let fine = acc(&config, &["doctor", "--profile", "t"]);
    assert!(line(&fine).contains(" ok "), "{}", fine.stdout);

    db.admin()
        .await
        .batch_execute("DROP TABLE agency.user_devices")
        .await
        .unwrap();
    let run = acc(&config, &["doctor", "--profile", "t"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let failed = line(&run);
    assert!(
        !failed.contains(" ok ") && failed.contains("does not prepare on production"),
        "{failed}"
    );
    assert!(
        run.stdout.contains("export.extra_dashboards"),
        "the fix: {}",
        run.stdout
    );
    // and the sheets that need it stop with the server's reason, never a partial set
    let out = dir.path().join("out");
    let sheets = sheets(&config, out.to_str().unwrap(), &today(), &["--stale-only"]);
    assert_ne!(sheets.code, 0, "{}", sheets.stderr);
    assert!(sheets.stderr.contains("device-sync"), "{}", sheets.stderr);
    assert!(
        !out.exists(),
        "nothing delivered before the device query answered"
    );
}
