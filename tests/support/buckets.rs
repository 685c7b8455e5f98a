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

/// Runs `script` with boto3 from moto's venv, another S3 client than acc's: `s3` is the
/// client, `bucket` the sandbox's bucket, `args` the arguments given. Returns its output.
pub fn boto3(sb: &Sandbox, script: &str, args: &[&str]) -> String {
    let prelude = "import boto3, sys\ns3 = boto3.client('s3', endpoint_url=sys.argv[1])\nbucket = sys.argv[2]\nargs = sys.argv[3:]\n";
    let out = std::process::Command::new(format!("{}/venv-s3/bin/python", sb.var("ACC_SANDBOX")))
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .args([sb.var("ACC_S3_ENDPOINT"), sb.var("ACC_S3_BUCKET")])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The objects under `prefix` in the sandbox's bucket, as boto3 lists them.
pub fn bucket_keys(sb: &Sandbox, prefix: &str) -> Vec<String> {
    boto3(
        sb,
        "for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=args[0]):\n    for o in page.get('Contents', []): print(o['Key'])",
        &[prefix],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// Flips one byte in the middle of the object `key`, keeping its size.
pub fn flip_a_byte(sb: &Sandbox, key: &str) {
    boto3(
        sb,
        "b = bytearray(s3.get_object(Bucket=bucket, Key=args[0])['Body'].read())\nb[len(b) // 2] ^= 0xff\ns3.put_object(Bucket=bucket, Key=args[0], Body=bytes(b))",
        &[key],
    );
}

/// Removes the object `key`.
pub fn remove_object(sb: &Sandbox, key: &str) {
    boto3(sb, "s3.delete_object(Bucket=bucket, Key=args[0])", &[key]);
}
