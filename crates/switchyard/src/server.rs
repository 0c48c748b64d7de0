//! Starting and stopping a server: store, core, listeners, graceful shutdown.

use crate::config::{Config, StoreLocation};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;
use switchyard_core::store::Store;
use switchyard_core::Core;
use switchyard_mrim::{MrimFront, RedirectTarget};
use switchyard_msn::{MsnFront, Passport, Role};
use switchyard_myicq::MyIcqFront;
use switchyard_store_postgres::PostgresStore;
use switchyard_store_sqlite::SqliteStore;
use tokio::net::{TcpListener, TcpSocket, UdpSocket};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Opens the store the configuration names, creating the data directory if needed (readable by
/// its owner only, 0700).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    open_store_at(config, &config.store_location()?).await
}

/// Opens the store at `location`, with the configuration's settings for its kind.
pub async fn open_store_at(config: &Config, location: &StoreLocation) -> anyhow::Result<Arc<dyn Store>> {
    match location {
        StoreLocation::Sqlite(path) => Ok(Arc::new(open_sqlite(config, path).await?)),
        StoreLocation::Postgres(url) => {
            let store = PostgresStore::open_with(url, config.store.max_connections)
                .await
                .with_context(|| format!("cannot open the store {location}"))?;
            Ok(Arc::new(store))
        }
    }
}

/// Opens an SQLite database, creating it if needed, readable by its owner only (0600).
pub async fn open_sqlite(config: &Config, path: &std::path::Path) -> anyhow::Result<SqliteStore> {
    create_data_dir(config)?;
    // Made empty with its permissions first: SQLite gives its journal files the database's.
    std::os::unix::fs::OpenOptionsExt::mode(std::fs::OpenOptions::new().write(true).create(true), 0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(SqliteStore::open(path).await?)
}

fn create_data_dir(config: &Config) -> anyhow::Result<()> {
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))
}

/// A started server. Its listeners are bound, so the addresses are final.
pub struct RunningServer {
    /// Every bound listener by role name (`msn`, `msn-dispatch`, `mrim`, `mrim-redirect`,
    /// `http`, `https`, `myicq` (UDP)), in start-up order.
    pub listeners: Vec<(&'static str, SocketAddr)>,
    shutdown: CancellationToken,
    listener_tasks: JoinSet<()>,
    msn: MsnFront,
    mrim: MrimFront,
    myicq: Option<MyIcqFront>,
    core: Core,
    store: Arc<dyn Store>,
    bus: Option<Arc<switchyard_bus_nats::NatsBus>>,
    site: Arc<switchyard_web::Web>,
    _data_dir_lock: crate::data_lock::DataDirLock,
}

impl RunningServer {
    pub async fn start(config: &Config) -> anyhow::Result<RunningServer> {
        config.validate()?;
        create_data_dir(config)?;
        let data_dir_lock = crate::data_lock::DataDirLock::acquire(&config.data_dir)?;
        let store = open_store(config).await?;
        // The MSN listener first: its address names this node by default.
        let notification = bind(config, config.msn.port).await?;
        let notification_addr = notification.local_addr()?;
        let bus = match config.cluster(notification_addr) {
            Some(cluster) => {
                let node = cluster.node.clone();
                let bus = switchyard_bus_nats::NatsBus::connect(cluster).await?;
                tracing::info!(%node, "joined the cluster");
                Some(bus)
            }
            None => None,
        };
        let core = match &bus {
            Some(bus) => Core::with_bus(store.clone(), bus.clone(), config.core()),
            None => Core::new(store.clone(), config.core()),
        };
        let msn_config = config.msn_front();
        let passport = Arc::new(Passport::new(msn_config.ticket_lifetime));
        let nexus = Arc::new(switchyard_msn::nexus::Nexus {
            core: core.clone(),
            domains: msn_config.domains.clone(),
            passport: passport.clone(),
            da_login: config.http.da_login.clone(),
            public_host: config.http.public_host.clone(),
        });
        let budget = crate::fd_limit::connection_budget(config.limits.max_connections_per_address);
        let msn = MsnFront::new(core.clone(), msn_config, passport, budget.clone());
        let mrim = MrimFront::new(core.clone(), config.mrim_front()?, budget.clone());
        let shutdown = CancellationToken::new();
        crate::control::start(&config.data_dir, core.clone(), shutdown.clone())
            .context("cannot open the control socket in the data directory")?;
        let mut listeners = Vec::new();
        let mut listener_tasks = JoinSet::new();

        listeners.push(("msn", notification_addr));
        let front = msn.clone();
        let token = shutdown.clone();
        listener_tasks.spawn(async move { front.serve(notification, Role::Notification, token).await });

        if let Some(port) = config.msn.dispatch_port {
            let dispatch = bind(config, port).await?;
            listeners.push(("msn-dispatch", dispatch.local_addr()?));
            let notification_address = config
                .msn
                .notification_address
                .clone()
                .or_else(|| config.msn.public_address.clone())
                .unwrap_or_else(|| notification_addr.to_string());
            let (front, token) = (msn.clone(), shutdown.clone());
            listener_tasks
                .spawn(async move { front.serve(dispatch, Role::Dispatch { notification_address }, token).await });
        }

        let mrim_listener = bind(config, config.mrim.port).await?;
        let mrim_addr = mrim_listener.local_addr()?;
        listeners.push(("mrim", mrim_addr));
        let (front, token) = (mrim.clone(), shutdown.clone());
        listener_tasks.spawn(async move { front.serve(mrim_listener, token).await });
        let redirector = bind(config, config.mrim.redirect_port).await?;
        listeners.push(("mrim-redirect", redirector.local_addr()?));
        let target = match &config.mrim.public_address {
            Some(address) => RedirectTarget::Fixed(address.clone()),
            None => RedirectTarget::SameHost { port: mrim_addr.port() },
        };
        let (front, token) = (mrim.clone(), shutdown.clone());
        listener_tasks.spawn(async move { front.serve_redirector(redirector, target, token).await });

        let http = bind(config, config.http.port).await?;
        listeners.push(("http", http.local_addr()?));
        let https = match config.http.https_port {
            Some(port) => {
                let https = bind(config, port).await?;
                listeners.push(("https", https.local_addr()?));
                Some(https)
            }
            None => None,
        };
        // Bound before the site is made, so that its front page names every listener.
        let myicq_socket = if config.myicq.enabled {
            let myicq_addr = SocketAddr::new(config.bind, config.myicq.port);
            let socket = UdpSocket::bind(myicq_addr).await.with_context(|| format!("cannot bind UDP {myicq_addr}"))?;
            listeners.push(("myicq", socket.local_addr()?));
            Some(socket)
        } else {
            None
        };
        let site = switchyard_web::Web::new(core.clone(), config.web_site(&listeners)?);
        let web = switchyard_web::router(site.clone());
        let limits = crate::http::HttpLimits {
            max_connections: config.http.max_connections,
            idle_timeout: std::time::Duration::from_secs(config.http.idle_timeout_secs.max(1)),
            request_deadline: std::time::Duration::from_secs(config.http.request_deadline_secs.max(1)),
            budget,
        };
        let (http_limits, http_nexus, http_web) = (limits.clone(), nexus.clone(), web.clone());
        listener_tasks.spawn(crate::http::serve(http, None, http_limits, http_nexus, http_web, shutdown.clone()));
        if let Some(https) = https {
            let public = config.http.public_host.as_deref().map(|h| h.rsplit_once(':').map_or(h, |(host, _)| host));
            let mut names = vec!["nexus.passport.com", "login.passport.com", "loginnet.passport.com", "localhost"];
            names.extend(public);
            let tls = crate::tls::server_config(config.http.tls_cert.as_deref(), config.http.tls_key.as_deref(), {
                crate::tls::Generated { data_dir: &config.data_dir, stem: "https", names: &names }
            })?;
            listener_tasks.spawn(crate::http::serve(https, Some(tls), limits, nexus, web, shutdown.clone()));
        }

        let myicq = match myicq_socket {
            Some(socket) => {
                let myicq = MyIcqFront::new(core.clone(), config.myicq_front()?, socket);
                let (front, token) = (myicq.clone(), shutdown.clone());
                listener_tasks.spawn(async move { front.serve(token).await });
                Some(myicq)
            }
            None => None,
        };
        if let Some(bus) = &bus {
            let by_protocol = |role: &str, public: Option<&String>| {
                let bound = listeners.iter().find(|(name, _)| *name == role).map(|(_, a)| a.to_string());
                public.cloned().or(bound).map(|address| (role.to_owned(), address))
            };
            let addresses = [
                by_protocol("msn", config.msn.public_address.as_ref()),
                by_protocol("mrim", config.mrim.public_address.as_ref()),
                by_protocol("myicq", None),
            ];
            bus.set_addresses(addresses.into_iter().flatten().collect());
        }
        site.set_ready(true);
        Ok(RunningServer {
            listeners,
            site,
            shutdown,
            listener_tasks,
            msn,
            mrim,
            myicq,
            core,
            store,
            bus,
            _data_dir_lock: data_dir_lock,
        })
    }

    pub fn address(&self, role: &str) -> Option<SocketAddr> {
        self.listeners.iter().find(|(name, _)| *name == role).map(|(_, addr)| *addr)
    }

    /// Changes the MRIM ping period of new and logged-in sessions.
    pub fn set_mrim_ping_period(&self, period: std::time::Duration) {
        self.mrim.set_ping_period(period);
    }

    /// Datagrams the MyICQ front dropped, by reason.
    pub fn myicq_stats(&self) -> Option<&switchyard_myicq::Stats> {
        self.myicq.as_ref().map(MyIcqFront::stats)
    }

    /// The server's store, for administration while it runs.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Stops accepting, ends every session (MSN clients get `OUT SSD`; MRIM connections are
    /// closed and MyICQ sessions dropped, their protocols have no shutdown notice), stores every
    /// message still in flight, closes the database.
    pub async fn shutdown(mut self) {
        self.site.set_ready(false);
        self.shutdown.cancel();
        while self.listener_tasks.join_next().await.is_some() {}
        self.msn.closed().await;
        self.mrim.closed().await;
        self.core.close().await;
        if let Some(bus) = &self.bus {
            bus.close().await;
        }
        self.store.close().await;
    }
}

/// Pending connections the kernel may queue per listener (it caps this at `somaxconn`): after a
/// restart every client reconnects at once, and a short queue turns that into SYN retries.
const LISTEN_BACKLOG: u32 = 4096;

async fn bind(config: &Config, port: u16) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(config.bind, port);
    let listen = || -> std::io::Result<TcpListener> {
        let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        // A restarted server must not wait for the old one's connections to leave TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().with_context(|| format!("cannot listen on {addr}"))
}
