//! The sandbox's real servers, and acc's foundation against them: two separate PostgreSQL
//! clusters holding the seeded agency, the SFTP server, the Snowflake emulator queried through
//! snowflake-connector-rs, and the Debian age CLI reading what the age crate wrote.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use acc::config::RawProfile;

use acc::env::Env;
use snowflake_connector_rs::{
    AuthConfig, CellValue, Client, ClientConfig, EndpointConfig, SessionConfig,
};
use support::Sandbox;

#[tokio::test]
async fn production_and_staging_are_two_separate_clusters() {
    let sb = Sandbox::require();
    let prod = sb.admin("ACC_PROD_URL", "postgres").await;
    let staging = sb.admin("ACC_STAGING_URL", "postgres").await;
    let id = |c: tokio_postgres::Row| c.get::<_, i64>(0);
    let sql = "SELECT system_identifier FROM pg_control_system()";
    let (a, b) = (
        id(prod.query_one(sql, &[]).await.unwrap()),
        id(staging.query_one(sql, &[]).await.unwrap()),
    );
    assert_ne!(a, b, "production and staging must be different clusters");
    for c in [&prod, &staging] {
        // exact names: a restore's demo_us__previous may sit beside them after acc restore
        let dbs: Vec<String> = c
            .query(
                "SELECT datname FROM pg_database WHERE datname IN ('demo_us', 'demo_au') ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            dbs,
            ["demo_au", "demo_us"],
            "each profile's database exists on both clusters"
        );
    }
}

#[tokio::test]
async fn the_seeded_agency_is_fictitious_and_spans_the_downtime_window() {
    let sb = Sandbox::require();
    for (db, tz) in [
        ("demo_us", "America/Toronto"),
        ("demo_au", "Australia/Sydney"),
    ] {
        let c = sb.admin("ACC_PROD_URL", db).await;
        let row = c
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE first_name || last_name LIKE '%SYNTH%') FROM agency.clients",
                &[],
            )
            .await
            .unwrap();
        let (clients, marked): (i64, i64) = (row.get(0), row.get(1));
        assert!(clients >= 800, "{db}: {clients} clients");
        assert_eq!(clients, marked, "{db}: every client name carries SYNTH");
        let unmarked: i64 = c
            .query_one(
                "SELECT count(*) FROM agency.visit_notes WHERE body NOT LIKE '%SYNTH%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(unmarked, 0, "{db}: every note carries SYNTH");
        // visits from 30 days back to 14 ahead of the seed day, laid out in the region's zone
        let row = c
            .query_one(
                &format!(
                    "SELECT min((scheduled_start AT TIME ZONE '{tz}')::date) - (now() AT TIME ZONE '{tz}')::date,
                            max((scheduled_start AT TIME ZONE '{tz}')::date) - (now() AT TIME ZONE '{tz}')::date,
                            count(*) FILTER (WHERE employee_id IS NULL AND status = 'scheduled'),
                            min(extract(hour FROM scheduled_start AT TIME ZONE '{tz}'))::int
                     FROM agency.visits"
                ),
                &[],
            )
            .await
            .unwrap();
        let (first, last, vacant, earliest): (i32, i32, i64, i32) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        // the seed may have run yesterday; allow one day of drift
        assert!(
            (-31..=-29).contains(&first),
            "{db}: first visit day {first}"
        );
        assert!((13..=15).contains(&last), "{db}: last visit day {last}");
        assert!(vacant > 0, "{db}: some future visits are vacant");
        assert_eq!(
            earliest, 7,
            "{db}: the first visits start at 07:00 local time"
        );
    }
}

#[tokio::test]
async fn profiles_connect_with_referenced_passwords_and_failures_map_to_exit_codes() {
    let sb = Sandbox::require();
    let config = sb.config();
    let env = Env::from_pairs([]);
    let profile = config
        .profile(Some("demo-us"), RawProfile::default())
        .unwrap();
    let client = acc::pg::connect(profile.production().unwrap(), &env, "acc-test")
        .await
        .unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM agency.clients", &[])
        .await
        .unwrap()
        .get(0);
    assert!(n > 0);

    let mut wrong = profile.production().unwrap().clone();
    wrong.password = Some(acc::secret::SecretRef::Env("ACC_TEST_WRONG_PW".into()));
    let err = acc::pg::connect(
        &wrong,
        &Env::from_pairs([("ACC_TEST_WRONG_PW", "not-the-password")]),
        "acc-test",
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit_code(), 77, "a refused login: {}", err.message());

    let mut down = profile.production().unwrap().clone();
    down.port = support::free_port();
    let err = acc::pg::connect(&down, &env, "acc-test").await.unwrap_err();
    assert_eq!(
        err.exit_code(),
        75,
        "an unreachable server is temporary: {}",
        err.message()
    );
}

#[tokio::test]
async fn snowflake_connector_reads_the_seeded_warehouse_from_the_emulator() {
    let sb = Sandbox::require();
    let profile = sb
        .config()
        .profile(Some("demo-us"), RawProfile::default())
        .unwrap();
    let sf = profile
        .snowflake
        .clone()
        .expect("the sandbox profile has a snowflake section");
    let password = sf
        .password
        .as_ref()
        .unwrap()
        .resolve(&Env::from_pairs([]))
        .unwrap();
    let endpoint =
        EndpointConfig::custom_base_url(sf.base_url.as_deref().unwrap().parse().unwrap());
    let session = Client::new(
        ClientConfig::new(
            &sf.user,
            &sf.account,
            AuthConfig::password(password.expose()),
        )
        .with_endpoint(endpoint)
        .with_session(
            SessionConfig::new()
                .with_database(sf.database.unwrap())
                .with_schema(sf.schema.unwrap()),
        ),
    )
    .unwrap()
    .create_session()
    .await
    .expect("login to the emulator");

    let pg = sb.admin("ACC_PROD_URL", "demo_us").await;
    let pg_count = |sql: &'static str| {
        let pg = &pg;
        async move { pg.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };

    // a small table: names and exact decimals agree with production
    let rows = session
        .query("SELECT ID, LAST_NAME, DATE_OF_BIRTH FROM CLIENTS ORDER BY ID LIMIT 3")
        .await
        .unwrap()
        .collect::<Vec<_>>()
        .await
        .unwrap();
    let pg_rows = pg
        .query(
            "SELECT last_name, date_of_birth FROM agency.clients ORDER BY id LIMIT 3",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for (sf_row, pg_row) in rows.iter().zip(&pg_rows) {
        match sf_row.value("LAST_NAME").unwrap() {
            CellValue::String(s) => {
                assert_eq!(s, &pg_row.get::<_, String>(0));
                assert!(s.contains("SYNTH"));
            }
            other => panic!("LAST_NAME decoded as {other:?}"),
        }
        match sf_row.value("DATE_OF_BIRTH").unwrap() {
            CellValue::Date(d) => assert_eq!(*d, pg_row.get::<_, chrono::NaiveDate>(1)),
            other => panic!("DATE_OF_BIRTH decoded as {other:?}"),
        }
    }
    let rates = session
        .query("SELECT UNIT_RATE FROM SERVICES WHERE CODE = 'PSW'")
        .await
        .unwrap()
        .collect::<Vec<_>>()
        .await
        .unwrap();
    match rates[0].value("UNIT_RATE").unwrap() {
        CellValue::Decimal(d) => assert_eq!(d.to_string(), "38.50"),
        other => panic!("UNIT_RATE decoded as {other:?}"),
    }

    // a large result arrives in several partitions; stream it one partition at a time
    let mut cursor = session
        .query("SELECT ID, SCHEDULED_START FROM VISITS")
        .await
        .unwrap();
    let (mut rows, mut partitions) = (0usize, 0usize);
    while let Some(table) = cursor.next_table().await.unwrap() {
        rows += table.row_count();
        partitions += 1;
    }
    assert_eq!(
        rows as i64,
        pg_count("SELECT count(*) FROM agency.visits").await
    );
    assert!(
        partitions > 1,
        "the emulator split {rows} rows into {partitions} partition(s)"
    );
}

#[test]
fn sftp_accepts_the_sandbox_key_and_pins_its_host_key() {
    let sb = Sandbox::require();
    let url = url::Url::parse(sb.var("ACC_SFTP_URL")).unwrap();
    let addr = format!("127.0.0.1:{}", url.port().unwrap());
    let mut session = ssh2::Session::new().unwrap();
    session.set_tcp_stream(TcpStream::connect(&addr).expect("sshd listens"));
    session.handshake().unwrap();
    let (key, _) = session.host_key().unwrap();
    let mut known = session.known_hosts().unwrap();
    known
        .read_file(
            &sb.path("ACC_KNOWN_HOSTS"),
            ssh2::KnownHostFileKind::OpenSSH,
        )
        .unwrap();
    assert!(matches!(
        known.check_port("127.0.0.1", url.port().unwrap(), key),
        ssh2::CheckResult::Match
    ));
    session
        .userauth_pubkey_file(url.username(), None, &sb.path("ACC_SFTP_KEY"), None)
        .unwrap();
    let sftp = session.sftp().unwrap();
    let name = format!("probe-{}.bin", std::process::id());
    let remote = std::path::Path::new(url.path()).join(&name);
    sftp.create(&remote)
        .unwrap()
        .write_all(b"ciphertext only")
        .unwrap();
    let landed = sb.path("ACC_SFTP_ROOT").join(&name);
    assert_eq!(
        std::fs::read(&landed).unwrap(),
        b"ciphertext only",
        "the upload root is where tests look"
    );
    sftp.unlink(&remote).unwrap();

    // a password is never accepted: key-only login
    let mut s2 = ssh2::Session::new().unwrap();
    s2.set_tcp_stream(TcpStream::connect(&addr).unwrap());
    s2.handshake().unwrap();
    assert!(s2.userauth_password(url.username(), "guess").is_err());
}

#[test]
fn the_debian_age_cli_decrypts_what_the_age_crate_encrypts_to_the_sandbox_recipient() {
    let sb = Sandbox::require();
    let recipient: age::x25519::Recipient = sb.var("ACC_AGE_RECIPIENT").parse().unwrap();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut ciphertext = Vec::new();
    let mut w = encryptor.wrap_output(&mut ciphertext).unwrap();
    w.write_all(b"SYNTH client list").unwrap();
    w.finish().unwrap();
    assert!(!ciphertext.windows(5).any(|w| w == b"SYNTH"));

    let mut child = Command::new("age")
        .args(["--decrypt", "--identity"])
        .arg(sb.path("ACC_AGE_IDENTITY"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the age CLI is installed");
    child.stdin.take().unwrap().write_all(&ciphertext).unwrap();
    let mut plain = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut plain)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(plain, "SYNTH client list");
}
