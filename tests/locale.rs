//! Production's database in another locale than staging's template (ja_JP, which the sandbox
//! generates): the manifest records production's encoding and locale; a template in another
//! is refused with 78 before anything is made, naming both and the statement for a new
//! template; from template0, staging's copy is made in production's locale and sorts text as
//! production does.

mod support;

use support::{Sandbox, StagingDb, TestDb, acc, doctor_check};

const LOCALE: &str = "ja_JP.utf8";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_is_made_in_production_locale_or_refused_with_78_before_anything_is_made() {
    let sb = Sandbox::require();
    let prod = TestDb::in_locale(&sb, LOCALE, "locale").await;
    // words whose order differs between ja_JP and C.UTF-8 (case and kana against latin)
    prod.admin()
        .await
        .batch_execute(
            "CREATE SCHEMA app AUTHORIZATION agency_owner;
             CREATE TABLE app.words (id int PRIMARY KEY, word text NOT NULL);
             ALTER TABLE app.words OWNER TO agency_owner;
             INSERT INTO app.words VALUES (1, 'banana'), (2, 'Apple'), (3, 'apple'), (4, 'カルテ'),
                 (5, 'Zebra'), (6, 'ｶﾙﾃ'), (7, 'cherry'), (8, 'あさ'), (9, 'Éclair');
             CREATE INDEX words_word ON app.words (word);
             GRANT USAGE ON SCHEMA app TO acc; GRANT SELECT ON app.words TO acc",
        )
        .await
        .unwrap();
    let staging = StagingDb::new(&sb, "locale");
    let tmp = tempfile::tempdir().unwrap();
    let config = sb.write_profile(tmp.path(), &prod.name, None, &staging.sections(&sb));
    let run = acc(&config, &["snapshot", "--profile", "t", "--now", "--json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let label = run.json()["label"].as_str().unwrap().to_string();
    let store = config.with_file_name("store").join("t").join(&label);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["locale"]["collate"], LOCALE, "{manifest}");
    assert_eq!(manifest["locale"]["encoding"], "UTF8", "{manifest}");

    // the sandbox's template is in C.UTF-8
    let refused = acc(&config, &["restore", "--profile", "t"]);
    assert_eq!(refused.code, 78, "{refused:?}");
    for named in [
        "restore.template acc_template is in UTF8, collation C.UTF-8",
        "production's database in UTF8, collation ja_JP.utf8",
        "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'ja_JP.utf8' LC_CTYPE 'ja_JP.utf8' LOCALE_PROVIDER libc IS_TEMPLATE true;",
    ] {
        assert!(
            refused.stderr.contains(named),
            "{named}: {}",
            refused.stderr
        );
    }
    assert_eq!(
        staging.databases().await,
        Vec::<String>::new(),
        "nothing is made"
    );
    // the doctor says so ahead
    let check = doctor_check(&config, "staging locale");
    assert_eq!(check["ok"], false, "{check}");

    // from template0, acc names production's locale itself
    let text = std::fs::read_to_string(&config).unwrap();
    let from = "template = \"acc_template\"";
    assert!(text.contains(from), "{text}");
    std::fs::write(&config, text.replacen(from, "template = \"template0\"", 1)).unwrap();
    let check = doctor_check(&config, "staging locale");
    assert_eq!(check["ok"], true, "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("made from template0 in production's UTF8, collation ja_JP.utf8"),
        "{check}"
    );
    let restore = acc(&config, &["restore", "--profile", "t"]);
    assert_eq!(restore.code, 0, "{restore:?}");
    let st = staging.admin(&staging.name).await;
    let collate: String = st
        .query_one(
            "SELECT datcollate::text FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(collate, LOCALE);
    let order = "SELECT string_agg(word, ' ' ORDER BY word) FROM app.words";
    let a: String = prod
        .admin()
        .await
        .query_one(order, &[])
        .await
        .unwrap()
        .get(0);
    let b: String = st.query_one(order, &[]).await.unwrap().get(0);
    assert_eq!(a, b, "text sorts on staging as on production");
    // and differently from the template's locale, or this test would prove nothing
    let c: String = st
        .query_one(
            "SELECT string_agg(word, ' ' ORDER BY word COLLATE \"C.utf8\") FROM app.words",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_ne!(a, c);
}
