//! What the object-store tests share: the sandbox bucket's s3 section, a prefix of its own
//! per test, and the bucket's keys as another S3 client lists them.

use super::Sandbox;

/// The sandbox's endpoint, path-style, plain HTTP on 127.0.0.1 said on purpose.
pub fn s3_section(sb: &Sandbox, lease_seconds: u64) -> String {
    format!(
        "endpoint = \"{}\"\npath_style = true\nallow_http = true\nlease_seconds = {lease_seconds}",
        sb.var("ACC_S3_ENDPOINT")
    )
}

/// A prefix of the bucket no other test or run uses.
pub fn prefix(tag: &str) -> String {
    format!(
        "tests/{tag}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap()
    )
}

/// The objects under `prefix` in the sandbox's bucket, listed with boto3 from moto's venv.
pub fn bucket_keys(sb: &Sandbox, prefix: &str) -> Vec<String> {
    let out = std::process::Command::new(format!("{}/venv-s3/bin/python", sb.var("ACC_SANDBOX")))
        .args([
            "-c",
            "import boto3, sys\n\
             s3 = boto3.client('s3', endpoint_url=sys.argv[1])\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):\n\
             \x20   for o in page.get('Contents', []): print(o['Key'])",
            sb.var("ACC_S3_ENDPOINT"),
            sb.var("ACC_S3_BUCKET"),
            prefix,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}
