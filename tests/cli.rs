//! Command-line behaviour as case files under tests/cmd: arguments, expected stdout, stderr and
//! exit status. Regenerate expectations after an intended change with `TRYCMD=overwrite`.

#[test]
fn cli_cases() {
    // Cases must not see the developer's own configuration or sandbox.
    // SAFETY: this is the only test in this binary, and it sets the environment before any
    // thread is spawned.
    unsafe {
        for var in [
            "ACC_CONFIG",
            "ACC_PROFILE",
            "ACC_REGION",
            "ACC_STORE",
            "ACC_EXPORT_TO",
            "CREDENTIALS_DIRECTORY",
        ] {
            std::env::remove_var(var);
        }
        std::env::set_var("ACC_SYSTEM_CONFIG_DIR", "/nonexistent/acc-system");
        std::env::set_var("XDG_CONFIG_HOME", "/nonexistent/acc-user");
        std::env::set_var("COLUMNS", "100");
    }
    trycmd::TestCases::new()
        .register_bin("acc", std::path::Path::new(env!("CARGO_BIN_EXE_acc")))
        .case("tests/cmd/*.toml");
}
