//! A delivery directory on an SFTP server, through ssh2 (blocking; callers run it off the
//! async threads). The server's key must match the pinned `known_hosts` entry before anything
//! is sent, and login is by key file or ssh agent, never by password.

use std::io::{BufReader, BufWriter};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh2::{CheckResult, ErrorCode, KnownHostFileKind, OpenFlags, OpenType, Session};

use super::Entry;
use super::known_hosts::Marker;
use crate::config::Sftp;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::location::SftpAddress;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Any single SFTP request that takes longer than this means the link is gone.
const REQUEST_TIMEOUT_MS: u32 = 120_000;
/// Writes of 1 MiB reach 100+ MiB/s; 8 KiB writes manage a third of that (TESTBED.md).
const BUFFER: usize = 1 << 20;
/// Ciphers in order of preference; the server picks the first it also offers.
const CIPHERS: &str = "aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes256-ctr,chacha20-poly1305@openssh.com";

pub struct SftpDir {
    // the session must outlive the sftp channel; both are kept together
    _session: Session,
    sftp: ssh2::Sftp,
    root: PathBuf,
    describe: String,
}

impl SftpDir {
    pub fn connect(addr: &SftpAddress, settings: Option<&Sftp>, env: &Env) -> Result<SftpDir> {
        let describe = format!("{}:{}", addr.host, addr.port);
        let settings = settings.ok_or_else(|| {
            Error::config(format!(
                "delivering to sftp://{describe} needs an [sftp] section"
            ))
            .hint("set sftp.known_hosts and sftp.identity_file (or sftp.use_agent) for the profile")
        })?;
        let known_hosts = settings.known_hosts.as_deref().ok_or_else(|| {
            Error::config("sftp.known_hosts is not set, so the server cannot be authenticated")
                .hint(format!(
                    "pin the server's key: ssh-keyscan -p {} {} > FILE, check its fingerprint out of band, and set sftp.known_hosts = FILE",
                    addr.port, addr.host
                ))
        })?;
        let session = handshake(addr, &describe)?;
        check_host_key(&session, addr, known_hosts, &describe)?;
        authenticate(&session, addr, settings, env, &describe)?;
        session.set_timeout(REQUEST_TIMEOUT_MS);
        let sftp = session.sftp().map_err(|e| {
            Error::new(
                Kind::Unavailable,
                format!("{describe} offers no sftp subsystem"),
            )
            .source(e)
        })?;
        let dir = SftpDir {
            _session: session,
            sftp,
            root: PathBuf::from(&addr.root),
            describe,
        };
        dir.ensure_root()?;
        Ok(dir)
    }

    /// Creates the root and its missing parents, private to the login user.
    fn ensure_root(&self) -> Result<()> {
        self.mkdirs(PathBuf::new(), &self.root)
    }

    /// Creates each missing directory of `rel` below `p`, mode 0700.
    fn mkdirs(&self, mut p: PathBuf, rel: &Path) -> Result<()> {
        for part in rel.components() {
            p.push(part);
            if self.sftp.stat(&p).is_err() {
                // another run may make it at the same moment: one that exists now will do
                if let Err(e) = self.sftp.mkdir(&p, 0o700)
                    && !self.sftp.stat(&p).is_ok_and(|st| st.is_dir())
                {
                    return Err(self.fail("cannot create", &p, e));
                }
            }
        }
        Ok(())
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn fail(&self, what: &str, path: &Path, e: ssh2::Error) -> Error {
        let kind = match e.code() {
            ErrorCode::SFTP(3) => Kind::Permission,
            ErrorCode::SFTP(_) => Kind::Unavailable,
            ErrorCode::Session(_) => Kind::Temporary,
        };
        Error::new(
            kind,
            format!("{what} {} on {}", path.display(), self.describe),
        )
        .source(e)
    }

    pub fn mkdir_all(&self, rel: &str) -> Result<()> {
        self.mkdirs(self.root.clone(), Path::new(rel))
    }

    pub fn create(&self, rel: &str) -> Result<BufWriter<ssh2::File>> {
        let p = self.path(rel);
        let f = self
            .sftp
            .open_mode(
                &p,
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                0o600,
                OpenType::File,
            )
            .map_err(|e| self.fail("cannot create", &p, e))?;
        Ok(BufWriter::with_capacity(BUFFER, f))
    }

    pub fn open(&self, rel: &str) -> Result<BufReader<ssh2::File>> {
        let p = self.path(rel);
        let f = self
            .sftp
            .open(&p)
            .map_err(|e| self.fail("cannot open", &p, e))?;
        Ok(BufReader::with_capacity(BUFFER, f))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.sftp.stat(&self.path(rel)).is_ok()
    }

    /// Onto a new name only: OpenSSH refuses to rename over an existing file (SFTP v3).
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (a, b) = (self.path(from), self.path(to));
        self.sftp
            .rename(&a, &b, None)
            .map_err(|e| self.fail("cannot rename", &a, e))
    }

    /// The server's renames are as durable as it makes them; there is nothing more to ask.
    pub fn rename_unsynced(&self, from: &str, to: &str) -> Result<()> {
        self.rename(from, to)
    }

    pub fn sync(&self, rel: &str) -> Result<()> {
        let p = self.path(rel);
        let mut f = self
            .sftp
            .open(&p)
            .map_err(|e| self.fail("cannot open", &p, e))?;
        best_effort_fsync(&mut f);
        f.close().map_err(|e| self.fail("cannot close", &p, e))
    }

    pub fn sync_dir(&self, _rel: &str) -> Result<()> {
        Ok(())
    }

    pub fn remove_file(&self, rel: &str) -> Result<()> {
        let p = self.path(rel);
        match self.sftp.unlink(&p) {
            Err(e) if !matches!(e.code(), ErrorCode::SFTP(2)) => {
                Err(self.fail("cannot remove", &p, e))
            }
            _ => Ok(()),
        }
    }

    pub fn remove_dir(&self, rel: &str) -> Result<()> {
        let p = self.path(rel);
        self.sftp
            .rmdir(&p)
            .map_err(|e| self.fail("cannot remove", &p, e))
    }

    pub fn list(&self, rel: &str) -> Result<Vec<Entry>> {
        let p = self.path(rel);
        let entries = self
            .sftp
            .readdir(&p)
            .map_err(|e| self.fail("cannot list", &p, e))?;
        Ok(entries
            .into_iter()
            .filter_map(|(path, stat)| {
                let name = path.file_name()?.to_str()?.to_string();
                (name != "." && name != "..").then(|| Entry {
                    name,
                    is_dir: stat.is_dir(),
                })
            })
            .collect())
    }
}

pub fn sync_so_far(w: &mut BufWriter<ssh2::File>) -> std::io::Result<()> {
    std::io::Write::flush(w)?;
    best_effort_fsync(w.get_mut());
    Ok(())
}

/// A finished upload is flushed and, when `durable`, synced where the server offers
/// fsync@openssh.com.
pub fn close(w: BufWriter<ssh2::File>, durable: bool) -> std::io::Result<()> {
    let mut f = w.into_inner().map_err(|e| e.into_error())?;
    if durable {
        best_effort_fsync(&mut f);
    }
    f.close().map_err(std::io::Error::other)
}

/// Servers without the extension still get a complete, closed file, and the manifest's
/// checksum is what a reader trusts.
fn best_effort_fsync(f: &mut ssh2::File) {
    let _ = f.fsync();
}

fn handshake(addr: &SftpAddress, describe: &str) -> Result<Session> {
    let unreachable = |e: std::io::Error| {
        Error::new(
            Kind::Temporary,
            format!("cannot reach the sftp server {describe}"),
        )
        .source(e)
        .hint("check that the server is up and the port is right; the run is safe to retry")
    };
    let sockaddr = (addr.host.as_str(), addr.port)
        .to_socket_addrs()
        .map_err(unreachable)?
        .next()
        .ok_or_else(|| {
            Error::new(
                Kind::Temporary,
                format!("{describe} resolves to no address"),
            )
        })?;
    let tcp = TcpStream::connect_timeout(&sockaddr, CONNECT_TIMEOUT).map_err(unreachable)?;
    let mut session = Session::new().map_err(|e| Error::internal("cannot start ssh").source(e))?;
    session.set_tcp_stream(tcp);
    session.set_timeout(CONNECT_TIMEOUT.as_millis() as u32);
    // AES-GCM runs on the CPU's AES instructions; prefer it to the library's default order
    for method in [ssh2::MethodType::CryptCs, ssh2::MethodType::CryptSc] {
        let _ = session.method_pref(method, CIPHERS);
    }
    session.handshake().map_err(|e| {
        Error::new(
            Kind::Temporary,
            format!("the ssh handshake with {describe} failed"),
        )
        .source(e)
    })?;
    Ok(session)
}

fn check_host_key(
    session: &Session,
    addr: &SftpAddress,
    known_hosts: &Path,
    describe: &str,
) -> Result<()> {
    let (key, _) = session.host_key().ok_or_else(|| {
        Error::new(
            Kind::Permission,
            format!("{describe} presented no host key"),
        )
    })?;
    let mut known = session
        .known_hosts()
        .map_err(|e| Error::internal("cannot check host keys").source(e))?;
    known
        .read_file(known_hosts, KnownHostFileKind::OpenSSH)
        .map_err(|e| {
            Error::config(format!(
                "cannot read sftp.known_hosts {}",
                known_hosts.display()
            ))
            .source(e)
        })?;
    let refused = |why: &str| {
        Error::new(Kind::Permission, format!("refusing {describe}: {why}")).hint(format!(
            "if the server's key really changed, check the new fingerprint with its owner (ssh-keyscan -p {} {} | ssh-keygen -lf -) and update {}",
            addr.port,
            addr.host,
            known_hosts.display()
        ))
    };
    // libssh2 reads @revoked and @cert-authority as host names: both are looked at here first
    let text = std::fs::read_to_string(known_hosts).map_err(|e| {
        Error::config(format!(
            "cannot read sftp.known_hosts {}",
            known_hosts.display()
        ))
        .source(e)
    })?;
    let marker = super::known_hosts::marker(&text, key);
    if marker == Marker::Revoked {
        return Err(refused(&format!(
            "its host key is marked @revoked in {}",
            known_hosts.display()
        )));
    }
    match known.check_port(&addr.host, addr.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::NotFound if marker == Marker::CertAuthority => Err(refused(&format!(
            "its host key is not in {}, and acc does not accept host certificates (@cert-authority lines)",
            known_hosts.display()
        ))),
        CheckResult::Mismatch => Err(refused(&format!(
            "its host key does not match {} (someone may be intercepting the connection)",
            known_hosts.display()
        ))),
        CheckResult::NotFound => Err(refused(&format!(
            "its host key is not in {}",
            known_hosts.display()
        ))),
        CheckResult::Failure => Err(refused("its host key could not be checked")),
    }
}

fn authenticate(
    session: &Session,
    addr: &SftpAddress,
    s: &Sftp,
    env: &Env,
    describe: &str,
) -> Result<()> {
    let refused = |how: &str, e: ssh2::Error| {
        Error::new(
            Kind::Permission,
            format!("{describe} refused the login of {} by {how}", addr.user),
        )
        .source(e)
        .hint("check that the public key is in the user's authorized_keys on the server")
    };
    if let Some(key) = &s.identity_file {
        let passphrase = s.passphrase.as_ref().map(|p| p.resolve(env)).transpose()?;
        session
            .userauth_pubkey_file(
                &addr.user,
                None,
                key,
                passphrase.as_ref().map(|p| p.expose()),
            )
            .map_err(|e| refused(&format!("key {}", key.display()), e))
    } else if s.use_agent {
        session
            .userauth_agent(&addr.user)
            .map_err(|e| refused("ssh agent", e))
    } else {
        Err(
            Error::config("no way to log in to the sftp server is configured").hint(
                "set sftp.identity_file = \"/etc/acc/sftp_ed25519\" or sftp.use_agent = true",
            ),
        )
    }
}
