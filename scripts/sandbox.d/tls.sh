# The sandbox's TLS: a CA made with openssl, a server certificate for 127.0.0.1 and localhost
# that both clusters serve, a client certificate for the role acc_cert, and a second CA that
# nothing trusts (tests use it to prove a wrong CA is refused); sourced by scripts/sandbox.

TLS_DIR=$SB/tls

tls_ca() { # tls_ca BASE CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
        -keyout "$1.key" -out "$1.crt" -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >/dev/null 2>&1 || die "openssl could not make the CA $2"
}

tls_issue() { # tls_issue CA_BASE OUT_BASE CN SAN(or "") serverAuth|clientAuth
    local ca=$1 out=$2 cn=$3 san=$4 usage=$5 ext
    ext=$(mktemp "$TLS_DIR/.ext.XXXXXX")
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$usage"
        [ -n "$san" ] && echo "subjectAltName=$san"
    } > "$ext"
    (umask 077
     openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
         -keyout "$out.key" -out "$out.csr" -subj "/CN=$cn" >/dev/null 2>&1 \
     && openssl x509 -req -in "$out.csr" -CA "$ca.crt" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
         -days 825 -sha256 -extfile "$ext" -out "$out.crt" >/dev/null 2>&1) \
        || { rm -f "$ext"; die "openssl could not issue the certificate for $cn"; }
    rm -f "$ext" "$out.csr"
    chmod 644 "$out.crt"
}

tls_up() {
    install -d -m 755 "$TLS_DIR"
    if [ ! -s "$TLS_DIR/ca.crt" ]; then
        say "creating the sandbox CA"
        (umask 077; tls_ca "$TLS_DIR/ca" "acc sandbox CA"; tls_ca "$TLS_DIR/other-ca" "acc sandbox untrusted CA")
        chmod 644 "$TLS_DIR/ca.crt" "$TLS_DIR/other-ca.crt"
    fi
    [ -s "$TLS_DIR/server.crt" ] || tls_issue "$TLS_DIR/ca" "$TLS_DIR/server" localhost "IP:127.0.0.1,DNS:localhost" serverAuth
    [ -s "$TLS_DIR/client-acc_cert.crt" ] || tls_issue "$TLS_DIR/ca" "$TLS_DIR/client-acc_cert" acc_cert "" clientAuth
    # the server reads its key as postgres and insists on 0600
    chown postgres:postgres "$TLS_DIR/server.key"
    chmod 600 "$TLS_DIR/server.key" "$TLS_DIR/client-acc_cert.key"
}

# pg_tls_conf DATA_DIR: TLS on, and host logins only over TLS
pg_tls_conf() {
    local data=$1
    cat > "$data/acc_tls.conf" <<CONF
# written by scripts/sandbox up
ssl = on
ssl_cert_file = '$TLS_DIR/server.crt'
ssl_key_file = '$TLS_DIR/server.key'
ssl_ca_file = '$TLS_DIR/ca.crt'
ssl_min_protocol_version = 'TLSv1.2'
CONF
    grep -q "^include_if_exists 'acc_tls.conf'" "$data/postgresql.conf" \
        || echo "include_if_exists 'acc_tls.conf'" >> "$data/postgresql.conf"
    # hostssl only: a cleartext login is refused by the server itself; acc_cert proves itself
    # with its client certificate
    cat > "$data/pg_hba.conf" <<HBA
local   all postgres               peer
hostssl all acc_cert 127.0.0.1/32  cert
hostssl all all      127.0.0.1/32  scram-sha-256
HBA
    chown postgres:postgres "$data/acc_tls.conf" "$data/pg_hba.conf"
}
