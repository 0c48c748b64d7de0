//! Configuration: embedded defaults, overridden by a TOML file, then by environment variables
//! and command-line flags (both handled by clap in `main`).

use serde::Deserialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind: IpAddr,
    pub msn: MsnSection,
    pub mrim: MrimSection,
    pub myicq: MyIcqSection,
    pub http: HttpSection,
    pub limits: LimitsSection,
    pub store: StoreSection,
    pub cluster: ClusterSection,
    pub web: WebSection,
}

/// The web site on the HTTP and HTTPS listeners: sign-up, account pages, the operators'
/// dashboard.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSection {
    /// The network's name, on every page.
    pub name: String,
    /// Whether newcomers may sign up on the web.
    pub signup: bool,
    /// Sign-ups one address may make per hour, and all addresses together.
    pub signups_per_address_per_hour: u32,
    pub signups_per_hour: u32,
    /// Accounts that see the dashboard (`/admin`): disable, enable, reset passwords, broadcast.
    pub admins: Vec<String>,
}

impl Default for WebSection {
    fn default() -> Self {
        let defaults = switchyard_web::WebConfig::default();
        WebSection {
            name: defaults.network_name,
            signup: defaults.signup_open,
            signups_per_address_per_hour: defaults.signups_per_address_per_hour,
            signups_per_hour: defaults.signups_per_hour,
            admins: Vec::new(),
        }
    }
}

/// One node of several, sharing a PostgreSQL store and talking over NATS.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSection {
    /// `nats://HOST:PORT` of the network's NATS; unset (the default), the server runs alone.
    pub nats: Option<String>,
    /// This node's name, unique in the network (default: `node-` and the MSN listening address).
    pub node: Option<String>,
    /// Subject prefix: networks sharing one NATS keep apart by it.
    pub prefix: String,
    pub heartbeat_ms: u64,
    /// A node not heard for this long is dead: its users are offline everywhere.
    pub node_timeout_secs: u64,
    /// How long a sender's node waits for the recipient's before queuing the message.
    pub request_timeout_ms: u64,
}

impl Default for ClusterSection {
    fn default() -> Self {
        ClusterSection {
            nats: None,
            node: None,
            prefix: "switchyard".to_owned(),
            heartbeat_ms: 1000,
            node_timeout_secs: 10,
            request_timeout_ms: 5000,
        }
    }
}

/// Where accounts, contact lists and the offline queue are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite://FILE`: the embedded SQLite database; a relative FILE is in the data directory.
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`: a PostgreSQL database, which every
    /// node of a cluster shares.
    pub url: String,
    /// PostgreSQL: connections this node pools for writes and transactions at most; a quarter
    /// as many more (at least one) carry its short reads, pipelined.
    pub max_connections: usize,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            url: format!("sqlite://{}", switchyard_store_sqlite::FILE_NAME),
            max_connections: switchyard_store_postgres::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A store named by [`StoreSection::url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    /// The URL as given.
    Postgres(String),
}

impl StoreLocation {
    /// What `url` names, a relative SQLite file being in `data_dir`.
    pub fn parse(url: &str, data_dir: &Path) -> anyhow::Result<StoreLocation> {
        let url = url.trim();
        const KINDS: &str = "sqlite://FILE or postgres://USER@HOST/DATABASE";
        let Some((scheme, rest)) = url.split_once("://") else {
            anyhow::bail!("store URL {url:?} is not a URL ({KINDS})");
        };
        match scheme {
            "sqlite" => {
                anyhow::ensure!(!rest.is_empty(), "store URL {url:?} names no file (sqlite://FILE)");
                Ok(StoreLocation::Sqlite(data_dir.join(rest)))
            }
            "postgres" | "postgresql" => Ok(StoreLocation::Postgres(url.to_owned())),
            other => anyhow::bail!("store URL: unknown kind of store {other:?} ({KINDS})"),
        }
    }
}

impl std::fmt::Display for StoreLocation {
    /// Without a password a PostgreSQL URL may carry: for logs and messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StoreLocation::Postgres(url) => match url.split_once("://").and_then(|(_, rest)| rest.split_once('@')) {
                Some((credentials, host)) => {
                    let user = credentials.split(':').next().unwrap_or_default();
                    write!(f, "postgres://{user}@{host}")
                }
                None => f.write_str(url),
            },
        }
    }
}

/// The HTTP service: the Passport nexus MSNP8+ clients log in through.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    pub port: u16,
    /// The same service over TLS, which official MSN clients insist on; `None` turns it off.
    pub https_port: Option<u16>,
    /// PEM certificate chain and key for HTTPS; without them a self-signed one is made.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The login URL the nexus names (`DALogin=`); `{host}` stands for the host the client
    /// asked. Default `{host}/login2.srf`, which clients prefix with `https://`; give
    /// `http://{host}/login2.srf` for clients that should use HTTP.
    pub da_login: Option<String>,
    /// `host[:port]` that stands for `{host}` when a request names no `Host` (Pidgin 2.2 sends
    /// none); by default the address the client connected to.
    pub public_host: Option<String>,
    /// Open HTTP and HTTPS connections at once, each; more wait to be accepted.
    pub max_connections: usize,
    /// A connection that moves no byte either way for this long is closed (idle keep-alive, a
    /// client that stalls mid-request or stops reading the answer).
    pub idle_timeout_secs: u64,
    /// A request's head (and a nexus request's body) must have arrived this long after the
    /// connection opened or the request began, however slowly it trickles in.
    pub request_deadline_secs: u64,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            port: 8080,
            https_port: Some(8443),
            tls_cert: None,
            tls_key: None,
            da_login: None,
            public_host: None,
            max_connections: 1024,
            idle_timeout_secs: 30,
            request_deadline_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MsnSection {
    pub port: u16,
    /// A dispatch-only listener that refers logins to the notification port with `XFR NS`.
    pub dispatch_port: Option<u16>,
    /// `host:port` the dispatch listener refers to; defaults to this node's notification port.
    pub notification_address: Option<String>,
    /// Domains whose handles name local accounts; the first is shown.
    pub domains: Vec<String>,
    /// `host:port` given to clients for switchboards, when the address they used is not right
    /// (behind NAT, or bound to 0.0.0.0).
    pub public_address: Option<String>,
    pub login_timeout_secs: u64,
    /// Whether MSNP6+ clients must answer a `CHL` challenge (official clients do; some client
    /// libraries never answer one and are disconnected after a minute).
    pub challenges: bool,
    /// The client version `CVR` recommends; by default the one the client has (no nagging).
    pub recommended_version: Option<String>,
    /// The oldest client version `CVR` accepts.
    pub minimum_version: String,
    /// The download and information pages `CVR` names.
    pub download_url: String,
    pub info_url: String,
    /// Base of the addresses `URL` answers with (`<web_url><service>`).
    pub web_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MrimSection {
    pub port: u16,
    /// The redirector, which answers `ip:port` of the MRIM port and closes.
    pub redirect_port: u16,
    /// Domains whose addresses name local accounts; the first is shown.
    pub domains: Vec<String>,
    /// `host:port` the redirector gives out, when the address clients used is not right.
    pub public_address: Option<String>,
    pub ping_period_secs: u64,
    pub login_timeout_secs: u64,
    /// PEM certificate chain and key for STARTTLS; without them a self-signed one is made.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MyIcqSection {
    /// Whether MyICQ is served at all.
    pub enabled: bool,
    /// UDP port.
    pub port: u16,
    /// Whether clients may register new accounts (`NEW_UIN`).
    pub registration: bool,
    /// Registrations one address may make per hour.
    pub registrations_per_hour: u32,
    /// Registrations all addresses together may make per hour.
    pub registrations_per_hour_total: u32,
    /// Account names whose `BROADCAST_MSG` reaches every user.
    pub administrators: Vec<String>,
    /// The server's name as MyICQ clients write it after a UIN (`10001@domain`). gaim-myicq
    /// names its account after the one given here, so it should be the host name users put in
    /// as the server. Default: the bind address (`localhost` when bound to every address).
    pub domain: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    pub max_list_entries: usize,
    /// Open connections at once on each TCP protocol listener (MSN and MRIM, each); more wait to
    /// be accepted.
    pub max_connections: usize,
    /// Open connections one source address may have across every TCP listener; more are
    /// closed at once.
    pub max_connections_per_address: usize,
    /// Messages kept for one offline user; more are refused ("mailbox full").
    pub max_offline_messages: usize,
    /// Failed logins (every protocol and the nexus) an address, or an account from addresses
    /// it was not used from, may make before each next try waits: 1 s, doubling up to the most.
    pub failed_logins_free: u32,
    /// The longest wait between tries after failed logins, in seconds.
    pub failed_login_wait_max_secs: u64,
    /// Bytes of message text one session may hold in memory, not yet received by its client;
    /// past it the session is closed as too slow and what it held waits in the durable queue.
    pub session_message_bytes: usize,
    /// Bytes of message text all sessions together may hold in memory; past it, messages go
    /// to the durable queue first.
    pub memory_message_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./switchyard-data"),
            bind: IpAddr::from([127, 0, 0, 1]),
            msn: MsnSection::default(),
            mrim: MrimSection::default(),
            myicq: MyIcqSection::default(),
            http: HttpSection::default(),
            limits: LimitsSection::default(),
            store: StoreSection::default(),
            cluster: ClusterSection::default(),
            web: WebSection::default(),
        }
    }
}

impl Default for MsnSection {
    fn default() -> Self {
        let front = switchyard_msn::MsnConfig::default();
        MsnSection {
            port: 1863,
            dispatch_port: None,
            notification_address: None,
            domains: vec!["hotmail.com".into()],
            public_address: None,
            login_timeout_secs: 60,
            challenges: true,
            recommended_version: front.client_versions.recommended,
            minimum_version: front.client_versions.minimum,
            download_url: front.client_versions.download_url,
            info_url: front.client_versions.info_url,
            web_url: front.web_url,
        }
    }
}

impl Default for MrimSection {
    fn default() -> Self {
        let front = switchyard_mrim::MrimConfig::default();
        MrimSection {
            port: 2041,
            redirect_port: 2042,
            domains: front.domains,
            public_address: None,
            ping_period_secs: front.ping_period.as_secs(),
            login_timeout_secs: front.login_timeout.as_secs(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Default for MyIcqSection {
    fn default() -> Self {
        let front = switchyard_myicq::MyIcqConfig::default();
        MyIcqSection {
            enabled: true,
            port: 8000,
            registration: front.registration,
            registrations_per_hour: front.registrations_per_hour,
            registrations_per_hour_total: front.registrations_per_hour_total,
            administrators: Vec::new(),
            domain: None,
        }
    }
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_list_entries: switchyard_core::CoreConfig::default().max_list_entries,
            max_connections: switchyard_msn::MsnConfig::default().max_connections,
            max_connections_per_address: 100,
            max_offline_messages: switchyard_core::CoreConfig::default().max_offline_messages,
            failed_logins_free: switchyard_core::ThrottleConfig::default().free_failures,
            failed_login_wait_max_secs: switchyard_core::ThrottleConfig::default().longest_wait.as_secs(),
            session_message_bytes: switchyard_core::CoreConfig::default().session_bytes,
            memory_message_bytes: switchyard_core::CoreConfig::default().memory_bytes,
        }
    }
}

impl Config {
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        let config: Config = toml::from_str(&text)?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.msn.domains.is_empty(), "msn.domains must name at least one domain");
        anyhow::ensure!(!self.mrim.domains.is_empty(), "mrim.domains must name at least one domain");
        anyhow::ensure!(self.mrim.ping_period_secs > 0, "mrim.ping_period_secs must be positive");
        Self::account_names("myicq.administrators", &self.myicq.administrators)?;
        Self::account_names("web.admins", &self.web.admins)?;
        let store = self.store_location()?;
        if self.cluster.nats.is_some() {
            anyhow::ensure!(
                matches!(store, StoreLocation::Postgres(_)),
                "a node of a cluster needs the store every node shares: set store.url to a postgres:// URL"
            );
            anyhow::ensure!(self.cluster.heartbeat_ms > 0, "cluster.heartbeat_ms must be positive");
            anyhow::ensure!(self.cluster.request_timeout_ms > 0, "cluster.request_timeout_ms must be positive");
            anyhow::ensure!(
                self.cluster.node_timeout_secs * 1000 > self.cluster.heartbeat_ms,
                "cluster.node_timeout_secs must be longer than a heartbeat"
            );
        }
        Ok(())
    }

    /// How this node joins its network, if it has one; `msn` is where it listens for MSN.
    pub(crate) fn cluster(&self, msn: std::net::SocketAddr) -> Option<switchyard_bus_nats::ClusterConfig> {
        let nats = self.cluster.nats.as_deref()?;
        let node = self.cluster.node.clone().unwrap_or_else(|| format!("node-{msn}"));
        let mut config = switchyard_bus_nats::ClusterConfig::new(nats, &node);
        config.prefix = self.cluster.prefix.clone();
        config.heartbeat = Duration::from_millis(self.cluster.heartbeat_ms);
        config.node_timeout = Duration::from_secs(self.cluster.node_timeout_secs);
        config.request_timeout = Duration::from_millis(self.cluster.request_timeout_ms);
        Some(config)
    }

    /// The store `store.url` names.
    pub fn store_location(&self) -> anyhow::Result<StoreLocation> {
        StoreLocation::parse(&self.store.url, &self.data_dir)
    }

    pub(crate) fn msn_front(&self) -> switchyard_msn::MsnConfig {
        switchyard_msn::MsnConfig {
            domains: switchyard_msn::Domains::new(self.msn.domains.clone()),
            public_address: self.msn.public_address.clone(),
            login_timeout: Duration::from_secs(self.msn.login_timeout_secs),
            max_connections: self.limits.max_connections,
            challenges: self.msn.challenges,
            client_versions: switchyard_msn::ClientVersions {
                recommended: self.msn.recommended_version.clone(),
                minimum: self.msn.minimum_version.clone(),
                download_url: self.msn.download_url.clone(),
                info_url: self.msn.info_url.clone(),
            },
            web_url: self.msn.web_url.clone(),
            ..switchyard_msn::MsnConfig::default()
        }
    }

    pub(crate) fn mrim_front(&self) -> anyhow::Result<switchyard_mrim::MrimConfig> {
        let names = ["mrim.mail.ru", "localhost"];
        let tls = crate::tls::server_config(
            self.mrim.tls_cert.as_deref(),
            self.mrim.tls_key.as_deref(),
            crate::tls::Generated { data_dir: &self.data_dir, stem: "mrim", names: &names },
        )?;
        Ok(switchyard_mrim::MrimConfig {
            domains: self.mrim.domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            ping_period: Duration::from_secs(self.mrim.ping_period_secs),
            login_timeout: Duration::from_secs(self.mrim.login_timeout_secs),
            max_connections: self.limits.max_connections,
            tls: Some(tls),
            ..switchyard_mrim::MrimConfig::default()
        })
    }

    /// The accounts a setting names.
    fn account_names(setting: &str, names: &[String]) -> anyhow::Result<Vec<switchyard_core::AccountName>> {
        names
            .iter()
            .map(|name| {
                switchyard_core::AccountName::new(name).map_err(|e| anyhow::anyhow!("{setting}: {name:?}: {e}"))
            })
            .collect()
    }

    /// The web site's settings; `listening` gives the addresses bound, by role, for the front
    /// page's "how to connect" where no public address is set.
    pub(crate) fn web_site(
        &self,
        listening: &[(&str, std::net::SocketAddr)],
    ) -> anyhow::Result<switchyard_web::WebConfig> {
        let bound = |role: &str| listening.iter().find(|(name, _)| *name == role).map(|(_, a)| a.to_string());
        let msn = self.msn.public_address.clone().or_else(|| bound("msn-dispatch")).or_else(|| bound("msn"));
        let mrim = self.mrim.public_address.clone().or_else(|| bound("mrim"));
        Ok(switchyard_web::WebConfig {
            network_name: self.web.name.clone(),
            signup_open: self.web.signup,
            signups_per_address_per_hour: self.web.signups_per_address_per_hour,
            signups_per_hour: self.web.signups_per_hour,
            admins: Self::account_names("web.admins", &self.web.admins)?,
            connect: switchyard_web::ConnectAddresses {
                msn,
                mrim_redirector: bound("mrim-redirect"),
                mrim,
                myicq: bound("myicq"),
            },
            msn_domain: self.msn.domains[0].clone(),
            mrim_domain: self.mrim.domains[0].clone(),
        })
    }

    pub(crate) fn myicq_front(&self) -> anyhow::Result<switchyard_myicq::MyIcqConfig> {
        Ok(switchyard_myicq::MyIcqConfig {
            registration: self.myicq.registration,
            registrations_per_hour: self.myicq.registrations_per_hour,
            registrations_per_hour_total: self.myicq.registrations_per_hour_total,
            administrators: Self::account_names("myicq.administrators", &self.myicq.administrators)?,
            domain: self.myicq.domain.clone().unwrap_or_else(|| {
                if self.bind.is_unspecified() {
                    "localhost".into()
                } else {
                    self.bind.to_string()
                }
            }),
            ..switchyard_myicq::MyIcqConfig::default()
        })
    }

    pub(crate) fn core(&self) -> switchyard_core::CoreConfig {
        switchyard_core::CoreConfig {
            max_list_entries: self.limits.max_list_entries,
            max_offline_messages: self.limits.max_offline_messages,
            session_bytes: self.limits.session_message_bytes,
            memory_bytes: self.limits.memory_message_bytes,
            throttle: switchyard_core::ThrottleConfig {
                free_failures: self.limits.failed_logins_free,
                longest_wait: Duration::from_secs(self.limits.failed_login_wait_max_secs.max(1)),
                ..switchyard_core::ThrottleConfig::default()
            },
            ..switchyard_core::CoreConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_only_what_it_names() {
        let config: Config =
            toml::from_str("bind = \"0.0.0.0\"\n[msn]\nport = 0\ndomains = [\"msn.com\", \"hotmail.com\"]\n").unwrap();
        assert_eq!(config.bind, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(config.msn.port, 0);
        assert_eq!(config.msn.domains[0], "msn.com");
        assert_eq!(config.msn.login_timeout_secs, 60);
        assert_eq!(config.data_dir, PathBuf::from("./switchyard-data"));
    }

    #[test]
    fn the_store_is_the_data_directorys_database_unless_the_url_says_otherwise() {
        let location = |toml: &str| toml::from_str::<Config>(toml).unwrap().store_location();
        let default = location("data_dir = \"/srv/yard\"").unwrap();
        assert_eq!(default, StoreLocation::Sqlite(PathBuf::from("/srv/yard/switchyard.db")));
        let relative = location("data_dir = \"/srv/yard\"\n[store]\nurl = \"sqlite://other.db\"").unwrap();
        assert_eq!(relative, StoreLocation::Sqlite(PathBuf::from("/srv/yard/other.db")));
        let absolute = location("[store]\nurl = \"sqlite:///var/lib/yard.db\"").unwrap();
        assert_eq!(absolute, StoreLocation::Sqlite(PathBuf::from("/var/lib/yard.db")));
        let postgres = location("[store]\nurl = \"postgres://yard:secret@db.example:5433/yard\"").unwrap();
        assert_eq!(postgres, StoreLocation::Postgres("postgres://yard:secret@db.example:5433/yard".into()));
        assert_eq!(postgres.to_string(), "postgres://yard@db.example:5433/yard", "no password in what is shown");
        for bad in ["switchyard.db", "sqlite://", "mysql://localhost/yard"] {
            let config: Config = toml::from_str(&format!("[store]\nurl = \"{bad}\"")).unwrap();
            assert!(config.validate().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_cluster_needs_positive_timings() {
        let node = |extra: &str| {
            let toml = format!(
                "[store]\nurl = \"postgres://localhost/yard\"\n[cluster]\nnats = \"nats://localhost\"\n{extra}"
            );
            toml::from_str::<Config>(&toml).unwrap().validate()
        };
        assert!(node("").is_ok());
        assert!(node("heartbeat_ms = 0").is_err());
        assert!(node("request_timeout_ms = 0").is_err(), "waits for other nodes would never end");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<Config>("[msn]\nprot = 1\n").is_err());
    }
}
