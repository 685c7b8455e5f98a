# .sandbox/acc.toml and .sandbox/env; sourced by scripts/sandbox.

age_identity() {
    local f=$SB/keys/age-identity.txt
    [ -s "$f" ] || (umask 077; age-keygen -o "$f" 2>/dev/null)
    printf '%s' "$f"
}

write_config() {
    local identity recipient admin_pw f=$SB/acc.toml
    identity=$(age_identity)
    recipient=$(age-keygen -y "$identity")
    admin_pw=$(cat "$(secret pg_admin_password)")
    (umask 077; {
        cat <<TOML
# Written by scripts/sandbox up: profiles wired to the local sandbox servers.
# Secrets are referenced, never inlined.

[defaults]
store = "$SB/snapshots"
# with store = "s3://...": what each host keeps of the bucket's snapshots
cache = "$SB/cache"
age_recipients = ["$recipient"]

# the sandbox's S3-compatible server: plain HTTP on 127.0.0.1, said on purpose; keys from
# the standard AWS variables in .sandbox/env
[defaults.s3]
endpoint = "http://127.0.0.1:$S3_PORT"
path_style = true
allow_http = true

[defaults.restore]
age_identity = "$identity"
preserve_schemas = ["data_exploration"]
template = "acc_template"

[defaults.sftp]
identity_file = "$SB/keys/sftp_ed25519"
known_hosts = "$SB/ssh/known_hosts"
TOML
        local p name db region
        for p in "${PROFILES[@]}"; do
            set -- $p
            name=$1 db=$2 region=$3
            cat <<TOML

[profiles.$name]
region = "$region"
export_to = "sftp://$SFTP_USER@127.0.0.1:$SFTP_PORT/upload"

[profiles.$name.export]
extra_dashboards = ["device-sync"]

[profiles.$name.production]
host = "127.0.0.1"
port = $PROD_PORT
dbname = "$db"
user = "acc"
password_file = "$SB/secrets/pg_acc_password"
sslrootcert = "$TLS_DIR/ca.crt"

[profiles.$name.staging]
host = "127.0.0.1"
port = $STAGING_PORT
dbname = "$db"
user = "acc"
password_file = "$SB/secrets/pg_acc_password"
sslrootcert = "$TLS_DIR/ca.crt"

[profiles.$name.snowflake]
base_url = "http://127.0.0.1:$SNOWFLAKE_PORT"
account = "sandbox"
user = "acc"
database = "$(printf '%s' "$db" | tr a-z A-Z)"
schema = "AGENCY"
password_file = "$SB/secrets/snowflake_password"
TOML
        done
    } > "$f.tmp" && mv "$f.tmp" "$f")
    secret snowflake_password >/dev/null
    install -d -m 700 "$SB/snapshots"

    # sourceable by tests and people; holds the admin URLs, so it is private
    (umask 077; cat > "$SB/env.tmp" <<ENV
# Written by scripts/sandbox up. Source it: . $SB/env
export ACC_SANDBOX='$SB'
export ACC_CONFIG='$SB/acc.toml'
export ACC_PROD_URL='postgres://postgres:$admin_pw@127.0.0.1:$PROD_PORT'
export ACC_STAGING_URL='postgres://postgres:$admin_pw@127.0.0.1:$STAGING_PORT'
export ACC_AGE_IDENTITY='$identity'
export ACC_AGE_RECIPIENT='$recipient'
export ACC_SFTP_ROOT='$SFTP_CHROOT/upload'
export ACC_SFTP_URL='sftp://$SFTP_USER@127.0.0.1:$SFTP_PORT/upload'
export ACC_SFTP_KEY='$SB/keys/sftp_ed25519'
export ACC_KNOWN_HOSTS='$SB/ssh/known_hosts'
export ACC_SNOWFLAKE_URL='http://127.0.0.1:$SNOWFLAKE_PORT'
export ACC_S3_ENDPOINT='http://127.0.0.1:$S3_PORT'
export ACC_S3_BUCKET='$S3_BUCKET'
export AWS_ACCESS_KEY_ID='acc-sandbox'
export AWS_SECRET_ACCESS_KEY='$(cat "$(secret s3_secret_key)")'
export AWS_REGION='us-east-1'
export PGPASSFILE='$SB/secrets/pgpass'
export ACC_TLS_DIR='$TLS_DIR'
export PGSSLMODE='verify-full' PGSSLROOTCERT='$TLS_DIR/ca.crt'
export NO_PROXY='127.0.0.1,localhost' no_proxy='127.0.0.1,localhost'
ENV
    mv "$SB/env.tmp" "$SB/env")
}
