# An S3-compatible object store: moto's server (PyPI moto[server]), which honours conditional
# writes (If-None-Match: *, If-Match), with one bucket; sourced by scripts/sandbox.
# It listens on 127.0.0.1 over plain HTTP, so the sandbox profiles say allow_http = true.

S3_PIP=("moto[server]==5.2.5")
S3_BUCKET=acc-sandbox

s3_venv() {
    local stamp=$SB/venv-s3/.acc-requirements want
    want=$(printf '%s\n' "${S3_PIP[@]}")
    [ -x "$SB/venv-s3/bin/moto_server" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
    say "installing the S3-compatible server (moto) into $SB/venv-s3"
    python3 -m venv "$SB/venv-s3"
    "$SB/venv-s3/bin/pip" install -q --disable-pip-version-check "${S3_PIP[@]}" >"$SB/logs/pip-s3.log" 2>&1 \
        || die "pip could not install the S3-compatible server" "see $SB/logs/pip-s3.log"
    printf '%s' "$want" > "$stamp"
}

s3_up() {
    s3_venv
    if ! pid_alive "$SB/s3.pid"; then
        nohup "$SB/venv-s3/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >>"$SB/logs/s3.log" 2>&1 &
        echo $! > "$SB/s3.pid"
        wait_for_port "$S3_PORT" "the S3-compatible server" "$SB/logs/s3.log"
    fi
    # the bucket (moto keeps data in memory: a restarted server starts empty)
    curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET" \
        || die "cannot create the bucket $S3_BUCKET" "see $SB/logs/s3.log"
}

s3_down() {
    if pid_alive "$SB/s3.pid"; then
        kill "$(cat "$SB/s3.pid")"
    fi
    rm -f "$SB/s3.pid"
}

s3_status() {
    if pid_alive "$SB/s3.pid" && curl -fsS -o /dev/null "http://127.0.0.1:$S3_PORT/$S3_BUCKET" 2>/dev/null; then
        printf '%-11s running  http://127.0.0.1:%s/%s  pid %s\n' s3 "$S3_PORT" "$S3_BUCKET" "$(cat "$SB/s3.pid")"
    else
        printf '%-11s stopped  http://127.0.0.1:%s\n' s3 "$S3_PORT"; return 1
    fi
}
