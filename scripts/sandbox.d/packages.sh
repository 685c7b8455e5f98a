# Debian packages the sandbox needs; sourced by scripts/sandbox.

# command -> package that provides it
SANDBOX_PACKAGES=(
    "$PG_BIN/initdb:postgresql-15"
    # an extension only a superuser may create, with a configuration table of the user's rows
    "/usr/share/postgresql/15/extension/pg_partman.control:postgresql-15-partman"
    "/usr/bin/psql:postgresql-client-15"
    "/usr/sbin/sshd:openssh-server"
    "/usr/lib/openssh/sftp-server:openssh-sftp-server"
    "/usr/bin/ssh-keygen:openssh-client"
    "/usr/bin/sftp:openssh-client"
    "/usr/bin/age:age"
    "/usr/bin/age-keygen:age"
    "/usr/bin/curl:curl"
    "/usr/bin/openssl:openssl"
    "/usr/bin/ss:iproute2"
    "/usr/bin/man:man-db"
    "/usr/bin/promtool:prometheus"
    "/usr/bin/bash:bash"
    "/usr/bin/pdftotext:poppler-utils"
    "/usr/bin/pdfinfo:poppler-utils"
    "/usr/bin/pdftoppm:poppler-utils"
    "/usr/bin/tmux:tmux"
    "/usr/sbin/locale-gen:locales"
)

# A locale whose money has no digits after the point, for the tests that set production's
# lc_monetary to it (text COPY must not depend on it); made from the locales package's sources.
MONEY_LOCALE=ja_JP.UTF-8

ensure_locale() {
    locale -a 2>/dev/null | grep -qix 'ja_JP.utf8' && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing locale $MONEY_LOCALE" "run as root, or: sudo localedef --no-archive -i ja_JP -f UTF-8 $MONEY_LOCALE"
    fi
    say "generating locale $MONEY_LOCALE"
    # as a directory, not into the archive: servers already running find it without a restart
    localedef --no-archive -i ja_JP -f UTF-8 "$MONEY_LOCALE"
}

ensure_packages() {
    local missing=() entry path pkg
    for entry in "${SANDBOX_PACKAGES[@]}"; do
        path=${entry%%:*}
        pkg=${entry#*:}
        [ -e "$path" ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    if [ "$(id -u)" -ne 0 ]; then
        die "missing packages: ${missing[*]}" "run as root, or: sudo apt-get install -y ${missing[*]}"
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # packages such as postgresql and prometheus start a service of their own when installed,
    # listening beyond 127.0.0.1; the sandbox starts what it needs itself, so none may start
    local policy=/usr/sbin/policy-rc.d made=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && made=1
    fi
    local rc=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null || rc=$?
    [ -z "$made" ] || rm -f "$policy"
    return "$rc"
}
