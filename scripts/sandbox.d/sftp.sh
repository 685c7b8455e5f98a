# The OpenSSH SFTP server; sourced by scripts/sandbox.

sftp_keys() {
    install -d -m 755 "$SB/ssh"
    [ -s "$SB/ssh/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C acc-sandbox-host -f "$SB/ssh/host_ed25519"
    [ -s "$SB/keys/sftp_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C acc-sandbox-client -f "$SB/keys/sftp_ed25519"
    # what a client trusts: exactly this server's key at this address
    printf '[127.0.0.1]:%s %s\n' "$SFTP_PORT" "$(cut -d' ' -f1,2 "$SB/ssh/host_ed25519.pub")" > "$SB/ssh/known_hosts"
    install -o "$SFTP_USER" -m 600 "$SB/keys/sftp_ed25519.pub" "$SB/ssh/authorized_keys"
}

sftp_user() {
    if ! id "$SFTP_USER" >/dev/null 2>&1; then
        useradd --system --shell /usr/sbin/nologin --home-dir /nonexistent "$SFTP_USER"
    fi
    # '*' rather than '!': with UsePAM no, sshd refuses a locked account even for key logins
    usermod -p '*' "$SFTP_USER"
}

sftp_config() {
    # a chroot must be root-owned and not group- or world-writable, all the way up
    install -d -o root -g root -m 755 "$SFTP_CHROOT"
    install -d -o "$SFTP_USER" -m 700 "$SFTP_CHROOT/upload"
    ln -sfn "$SFTP_CHROOT" "$SB/sftp-root"
    cat > "$SB/ssh/sshd_config" <<CONF
# acc sandbox SFTP server: loopback only, key-only, one chrooted user
ListenAddress 127.0.0.1:$SFTP_PORT
HostKey $SB/ssh/host_ed25519
PidFile $SB/ssh/sshd-daemon.pid
AuthorizedKeysFile $SB/ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers $SFTP_USER
StrictModes no
ChrootDirectory $SFTP_CHROOT
Subsystem sftp internal-sftp
ForceCommand internal-sftp
AllowTcpForwarding no
X11Forwarding no
PermitTTY no
CONF
}

sftp_up() {
    sftp_user
    sftp_keys
    sftp_config
    pid_alive "$SB/ssh/sshd.pid" && return 0
    mkdir -p /run/sshd
    /usr/sbin/sshd -t -f "$SB/ssh/sshd_config" || die "sshd rejected $SB/ssh/sshd_config"
    nohup /usr/sbin/sshd -D -e -f "$SB/ssh/sshd_config" >>"$SB/logs/sshd.log" 2>&1 &
    echo $! > "$SB/ssh/sshd.pid"
    wait_for_port "$SFTP_PORT" sshd "$SB/logs/sshd.log"
}

sftp_down() {
    if pid_alive "$SB/ssh/sshd.pid"; then
        kill "$(cat "$SB/ssh/sshd.pid")"
    fi
    rm -f "$SB/ssh/sshd.pid"
}

sftp_status() {
    if pid_alive "$SB/ssh/sshd.pid"; then
        printf '%-11s running  127.0.0.1:%s  pid %s  upload root %s\n' sftp "$SFTP_PORT" "$(cat "$SB/ssh/sshd.pid")" "$SFTP_CHROOT/upload"
    else
        printf '%-11s stopped  127.0.0.1:%s\n' sftp "$SFTP_PORT"; return 1
    fi
}
