//! The shared test helpers fail when there is nothing to check: a check that passes on a
//! missing or empty directory would hide the very leak it looks for.

mod support;

use std::panic::catch_unwind;

#[test]
fn assert_no_plaintext_fails_on_a_missing_or_empty_directory_and_on_a_leak() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    assert!(catch_unwind(|| support::assert_no_plaintext(&missing)).is_err());
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(catch_unwind(|| support::assert_no_plaintext(&empty)).is_err());
    let sealed = dir.path().join("sealed");
    std::fs::create_dir_all(sealed.join("v1")).unwrap();
    std::fs::write(sealed.join("v1/x.csv.age"), b"age-encryption.org/v1\n...").unwrap();
    support::assert_no_plaintext(&sealed);
    std::fs::write(sealed.join("v1/leak.csv"), b"name\nSYNTH Client\n").unwrap();
    assert!(catch_unwind(|| support::assert_no_plaintext(&sealed)).is_err());
    assert!(catch_unwind(|| support::files_under(&missing)).is_err());
}
