//! `acc sheets` as printed PDFs, read by outside tools only: the Debian age CLI decrypts them
//! and poppler's pdftotext, pdfinfo and pdftoppm read them, as a coordinator's printer would.

mod support;

use std::collections::BTreeSet;

use std::process::Command;

use support::printed::{
    csv_records, decrypted, pages, pdfinfo, private_dir, sheets, squash, text_of, today, visits_in,
};
use support::{
    Remote, Sandbox, TestDb, age_decrypt, assert_no_plaintext, current_version, day_file,
    files_under, sftp_section,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printed_sheet_holds_every_visit_of_its_employee_and_no_other() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "sheets_pdf").await;
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &db.name, None, "");
    let out = dir.path().join("out");
    let day = today();
    let run = sheets(&config, out.to_str().unwrap(), &day, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["paper"], "letter", "us-can prints on letter");
    let entries = summary["sheets"].as_array().unwrap();
    let day_dir = out.join(format!("t/sheets/{day}"));
    let plain = private_dir();

    // the combined CSV tells which visits are whose
    let (header, all) = csv_records(&age_decrypt(&sb, &day_file(&day_dir, "all")));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let employees: BTreeSet<&str> = all.iter().map(|r| &r[0]).collect();
    assert!(employees.len() > 10, "{} employees", employees.len());

    // an employee with an accented name, and their neighbour, whose visits must not show
    let accented = all
        .iter()
        .find(|r| !r[col("Employee")].is_ascii())
        .expect("the seed has accented names")[0]
        .to_string();
    let own: Vec<&csv::StringRecord> = all.iter().filter(|r| r[0] == *accented).collect();
    let pdf = decrypted(
        &sb,
        &day_file(&day_dir, &format!("{accented}.pdf.age")),
        plain.path(),
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    let text = text_of(&pdf, None);
    let name = &own[0][col("Employee")];
    assert!(text.contains(name), "{name} is printed as it is spelled");
    for r in &own {
        assert!(
            text.contains(&r[col("Client")]),
            "client {}",
            &r[col("Client")]
        );
        for item in r[col("Tasks")].split("; ").filter(|t| !t.is_empty()) {
            assert!(text.contains(item), "task {item}");
        }
        for item in r[col("Allergies and risks")]
            .split("; ")
            .filter(|t| !t.is_empty())
        {
            assert!(text.contains(item), "allergy or risk {item}");
        }
        assert!(text.contains(&squash(&r[col("Address")])), "address");
    }
    let expected: BTreeSet<String> = own.iter().map(|r| r[col("Visit")].to_string()).collect();
    assert_eq!(visits_in(&text), expected, "exactly this employee's visits");
    // each page's footer lists the visit numbers on it, for typing up
    let footers: BTreeSet<String> = (1..=pages(&pdf))
        .flat_map(|p| {
            let t = text_of(&pdf, Some(p));
            let list = t.rsplit("(for typing up): ").next().unwrap().to_string();
            list.split(", ").map(str::to_string).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(footers, expected);
    let entry = entries
        .iter()
        .find(|e| e["name"] == accented.as_str() && e["format"] == "pdf")
        .unwrap();
    assert_eq!(entry["rows"].as_u64().unwrap() as usize, own.len());
    assert_eq!(entry["pages"].as_u64().unwrap() as usize, pages(&pdf));
    assert!(
        pdfinfo(&pdf).contains("612 x 792 pts (letter)"),
        "{}",
        pdfinfo(&pdf)
    );
    let first = text_of(&pdf, Some(1));
    assert!(first.contains(&format!("Page 1 of {}", pages(&pdf))));
    assert!(first.contains("Data as of"));
    assert!(first.contains("Initial every visit"));

    // the combined PDF starts each employee on a page of their own
    let combined = decrypted(&sb, &day_file(&day_dir, "all.pdf.age"), plain.path());
    let per_employee: u64 = entries
        .iter()
        .filter(|e| e["format"] == "pdf" && e["name"] != "all")
        .map(|e| e["pages"].as_u64().unwrap())
        .sum();
    assert_eq!(pages(&combined) as u64, per_employee);
    let starts = text_of(&combined, None).matches("Page 1 of").count();
    assert_eq!(starts, employees.len());

    // the PDF renders, and the page has the letter's proportions
    let png = plain.path().join("page");
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "30", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf)
        .arg(&png)
        .status()
        .unwrap();
    assert!(status.success());
    let header = std::fs::read(png.with_extension("png")).unwrap();
    let (w, h) = (
        u32::from_be_bytes(header[16..20].try_into().unwrap()),
        u32::from_be_bytes(header[20..24].try_into().unwrap()),
    );
    assert!(
        (w as f64 / h as f64 - 612.0 / 792.0).abs() < 0.01,
        "{w}x{h}"
    );
    drop(plain);
    assert_no_plaintext(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_with_forty_tasks_and_a_long_address_stays_on_one_a4_page() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "sheets_crowded").await;
    let day = today();
    let c = db.admin().await;
    let address = format!(
        "{} Heron Crescent, SYNTH Building, Door at the back past the garden shed and the \
         blue recycling bins, ring twice and wait, the intercom is broken",
        "Unit 1204 ".repeat(16)
    );
    assert!(address.len() + ", Loon Harbour".len() >= 300);
    let row = c
        .query_one(
            &format!(
                "SELECT v.id, v.scheduled_start, v.client_id FROM agency.visits v
                 WHERE (v.scheduled_start AT TIME ZONE 'America/Toronto')::date = '{day}'
                   AND v.status::text <> 'cancelled'
                 ORDER BY v.id LIMIT 1"
            ),
            &[],
        )
        .await
        .unwrap();
    let (visit, start, client): (i64, chrono::DateTime<chrono::Utc>, i64) =
        (row.get(0), row.get(1), row.get(2));
    c.execute(
        "UPDATE agency.clients SET address_line = $1, city = 'Loon Harbour' WHERE id = $2",
        &[&address, &client],
    )
    .await
    .unwrap();
    for i in 1..=40 {
        c.execute(
            "INSERT INTO agency.visit_tasks (visit_id, visit_start, title) VALUES ($1, $2, $3)",
            &[
                &visit,
                &start,
                &format!("Crowded task number {i} of forty, done with care"),
            ],
        )
        .await
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(
        dir.path(),
        &db.name,
        None,
        "[profiles.t.sheets]\npaper = \"a4\"\n",
    );
    let out = dir.path().join("out");
    let run = sheets(&config, out.to_str().unwrap(), &day, &["--format", "pdf"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let day_dir = out.join(format!("t/sheets/{day}"));
    let names: Vec<String> = files_under(&day_dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".csv.age")),
        "--format pdf writes no CSV: {names:?}"
    );
    let employee: String = c
        .query_one(
            "SELECT e.employee_number FROM agency.visits v JOIN agency.employees e
             ON e.id = v.employee_id WHERE v.id = $1",
            &[&visit],
        )
        .await
        .unwrap()
        .get(0);
    let plain = private_dir();
    let pdf = decrypted(
        &sb,
        &day_file(&day_dir, &format!("{employee}.pdf.age")),
        plain.path(),
    );
    assert!(
        pdfinfo(&pdf).contains("595.28 x 841.89 pts (A4)"),
        "{}",
        pdfinfo(&pdf)
    );
    // the page that has the visit has all of it: its number, every task, the whole address
    let pages_with: Vec<usize> = (1..=pages(&pdf))
        .filter(|p| visits_in(&text_of(&pdf, Some(*p))).contains(&visit.to_string()))
        .collect();
    assert_eq!(
        pages_with.len(),
        1,
        "the block is on one page: {pages_with:?}"
    );
    let page = text_of(&pdf, Some(pages_with[0]));
    for i in 1..=40 {
        assert!(
            page.contains(&format!("Crowded task number {i} of forty, done with care")),
            "task {i} is on the visit's page, uncut"
        );
    }
    assert!(page.contains(&squash(&format!("{address}, Loon Harbour"))));
    assert!(!page.contains("(continued)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_on_sftp_leave_no_plaintext_pdf_or_patient_data_anywhere() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "sheets_sftp").await;
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), &db.name, None, &sftp_section(&sb));
    let remote = Remote::new(&sb, "sheets");
    let run = sheets(&config, &remote.url, &today(), &["--paper", "a4"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["paper"], "a4", "--paper wins over the region's");
    let files = files_under(&remote.disk);
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with("all.pdf.age"))
    );
    assert!(
        files
            .iter()
            .filter(|f| f.to_string_lossy().ends_with(".pdf.age"))
            .count()
            > 10
    );
    // every file the manifest lists is there, with its size; PDFs also with their pages
    let manifest = files
        .iter()
        .find(|f| f.ends_with("manifest.json"))
        .expect("a manifest");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
    for e in m["dashboards"].as_array().unwrap() {
        let file = e["file"].as_str().unwrap();
        let on_disk = manifest.parent().unwrap().parent().unwrap().join(file);
        assert_eq!(
            std::fs::metadata(&on_disk).unwrap().len(),
            e["size"].as_u64().unwrap()
        );
        assert_eq!(file.ends_with(".pdf.age"), e["pages"].is_u64(), "{file}");
    }
    assert_no_plaintext(&remote.disk);
    assert_no_plaintext(dir.path());
}

/// Sheets days are patient data like exports, and follow `export.keep_days` the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_days_older_than_keep_days_are_removed_like_exports() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "sheets_keep").await;
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(
        dir.path(),
        &db.name,
        None,
        "[profiles.t.export]\nkeep_days = 2\n[profiles.t.sheets]\nformat = \"csv\"\n",
    );
    let to = dir.path().join("out");
    let base = to.join("t").join("sheets");
    for old in ["2020-01-01", "2020-01-02"] {
        std::fs::create_dir_all(base.join(old)).unwrap();
        std::fs::write(base.join(old).join("manifest.json"), "{}").unwrap();
    }
    let run = sheets(&config, to.to_str().unwrap(), &today(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["removed_days"],
        serde_json::json!(["2020-01-01", "2020-01-02"])
    );
    assert!(!base.join("2020-01-01").exists());
    assert!(
        current_version(&base.join(today()))
            .join("manifest.json")
            .exists()
    );
}
