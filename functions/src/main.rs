//! `orgcert`: the embedded default's server and CLI (API.md "CLI of the local binary").
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use orgcert_core::app::{App, Job, NewOrganisation};
use orgcert_core::clock::SystemClock;
use orgcert_core::model::OrgSettings;
use orgcert_core::DomainError;
use orgcert_functions::local::{self, LocalConfig, DEMO_CVR, DEMO_USERS};
use orgcert_functions::renew::{self, Outcome, RenewOptions};
use time::Duration;

#[derive(Parser)]
#[command(
    name = "orgcert",
    version,
    about = "Certificate lifecycle for organisations (embedded default)"
)]
struct Cli {
    /// Data dir: database, CA key, objects, outbox.
    #[arg(
        long,
        global = true,
        env = "ORGCERT_DATA_DIR",
        default_value = "./.orgcert"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (first start creates the CA, the token key and a demo organisation).
    Serve {
        /// Listen address.
        #[arg(long, env = "ORGCERT_ADDR", default_value = "127.0.0.1:8080")]
        addr: String,
        /// Adapters: `local` (SQLite, key file, files, outbox) or `aws` (DynamoDB, KMS,
        /// S3, SES at AWS_ENDPOINT_URL, e.g. a moto server).
        #[arg(long, value_enum, default_value_t = Backend::Local)]
        backend: Backend,
        /// With `--backend aws`: create the table, bucket, CA key, sender identity and a
        /// development CA where missing.
        #[arg(long, requires = "backend")]
        bootstrap: bool,
    },
    /// Print a bearer token for the local server.
    Token {
        /// Organisation CVR.
        #[arg(long)]
        org: String,
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Roles, comma separated (user_admin, rights_admin, org_admin); none: a plain user.
        #[arg(long, value_delimiter = ',')]
        role: Vec<String>,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 12)]
        hours: i64,
    },
    /// Scheduled jobs.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Renew a system certificate itself over mutual TLS when it nears its end (API.md
    /// "System certificates"): new key, CSR, both files replaced atomically.
    Renew {
        #[command(flatten)]
        target: RenewArgs,
        /// Keep running: check every --interval seconds (plus up to a tenth at random).
        #[arg(long)]
        daemon: bool,
        /// Seconds between checks with --daemon (60 to 604800).
        #[arg(long, default_value_t = 43_200,
              value_parser = clap::value_parser!(u64).range(60..=604_800))]
        interval: u64,
    },
    /// The certificate authority.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// The tamper-evident audit chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

/// Which certificate `renew` keeps fresh, against which server.
#[derive(clap::Args)]
struct RenewArgs {
    /// The certificate file (PEM), replaced on renewal.
    #[arg(long)]
    cert: PathBuf,
    /// Its key file (PEM), replaced on renewal (mode 0600).
    #[arg(long)]
    key: PathBuf,
    /// Base URL of the mutual-TLS listener (AWS: the machine API's domain).
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    url: String,
    /// CA certificate(s) to trust for the server (PEM; `/public/ca.pem`); default:
    /// `ca.pem` next to the certificate file.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Renew when fewer than this many days remain.
    #[arg(long, default_value_t = orgcert_functions::renew::DEFAULT_DAYS)]
    days: u32,
    /// Renew now, however many days remain.
    #[arg(long)]
    force: bool,
}

impl RenewArgs {
    fn options(self) -> RenewOptions {
        RenewOptions {
            ca: self
                .ca
                .unwrap_or_else(|| self.cert.with_file_name("ca.pem")),
            cert: self.cert,
            key: self.key,
            url: self.url,
            days: self.days,
            force: self.force,
        }
    }
}

#[derive(Subcommand)]
enum CaCommand {
    /// Make a new issuing CA under the root; restart the server to issue from it (the older
    /// one keeps serving CRLs and OCSP for its certificates until they expire).
    Rollover,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the audit chain from the store (--org, or every organisation) or from
    /// an export (FILE, as `GET /v1/audit/export` writes it); exit 1 naming the first
    /// event that does not match, else print the head hash.
    Verify {
        /// Organisation CVR (repeatable); none: every organisation.
        #[arg(long, conflicts_with = "file")]
        org: Vec<String>,
        /// An export (JSON lines).
        file: Option<PathBuf>,
        /// Where the store is: the data dir's SQLite (local) or the DynamoDB table of
        /// `ORGCERT_TABLE` at `AWS_ENDPOINT_URL` (aws, as `serve --backend aws`).
        #[arg(long, value_enum, default_value = "local", conflicts_with = "file")]
        backend: Backend,
    },
}

/// Which adapters `serve` composes.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    /// The embedded default.
    Local,
    /// The AWS adapters against AWS_ENDPOINT_URL.
    Aws,
}

#[derive(Subcommand)]
enum JobCommand {
    /// Run a job once: renewal-reminders, crl-refresh or housekeeping.
    Run {
        /// The job.
        name: String,
        /// Run as of this time (RFC 3339), e.g. to test reminders.
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Add an organisation.
    Add {
        /// CVR number.
        #[arg(long)]
        cvr: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// P number (repeatable).
        #[arg(long = "p-number")]
        p_numbers: Vec<String>,
        /// SE number (repeatable).
        #[arg(long = "se-number")]
        se_numbers: Vec<String>,
    },
}

/// What `serve` prints at start: the demo organisation and a bearer token of each
/// demo user, ready to paste into a shell.
fn print_demo_tokens(
    created_demo: bool,
    tokens: &local::TokenKeys,
    public_url: &str,
) -> Result<(), String> {
    if created_demo {
        println!("created the demo organisation {DEMO_CVR}");
    }
    println!("\nTokens (valid 12 hours) for the demo organisation {DEMO_CVR}:");
    for (label, email, name, roles) in DEMO_USERS {
        let t = tokens
            .token(DEMO_CVR, email, name, roles, Duration::hours(12))
            .map_err(|e| describe(&e))?;
        println!(
            "  {label} <{email}>:\n    export TOKEN_{}={t}",
            label.to_ascii_uppercase().replace(' ', "_")
        );
    }
    println!(
        "\nTry: curl -H \"Authorization: Bearer $TOKEN_USER_ADMIN\" {}/v1/organisation",
        public_url
    );
    Ok(())
}

fn describe(e: &DomainError) -> String {
    match e {
        DomainError::Invalid(errs) => errs
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// A certificate end as RFC 3339 (`2029-11-29T08:45:49Z`), as the API writes times.
fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

async fn renew(opts: RenewOptions, daemon: bool, interval: u64) -> Result<(), String> {
    loop {
        match renew::renew_once(&opts, time::OffsetDateTime::now_utc()).await {
            Ok(Outcome::NotDue { not_after }) => println!(
                "not due: valid until {}, renews within {} days of it",
                rfc3339(not_after),
                opts.days
            ),
            Ok(Outcome::Renewed { serial, not_after }) => {
                println!(
                    "renewed: serial {serial}, valid until {}",
                    rfc3339(not_after)
                );
            }
            // A daemon keeps trying at the next check; the old files are unchanged.
            Err(e) if daemon => eprintln!("orgcert renew: {e}"),
            Err(e) => return Err(e),
        }
        if !daemon {
            return Ok(());
        }
        tokio::time::sleep(renew::next_pause(interval)).await;
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    // Renewal is a client: it needs no data dir.
    let command = match cli.command {
        Command::Renew {
            target,
            daemon,
            interval,
        } => {
            let opts = target.options();
            return renew(opts, daemon, interval).await;
        }
        other => other,
    };
    let listen = match &command {
        Command::Serve { addr, .. } => addr.clone(),
        _ => std::env::var("ORGCERT_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into()),
    };
    let cfg = LocalConfig::from_env(cli.data_dir.clone(), &listen)?;
    match command {
        Command::Token {
            org,
            email,
            role,
            name,
            hours,
        } => {
            let keys = local::load_token_keys(&cfg.data_dir).map_err(|e| describe(&e))?;
            let roles: Vec<&str> = role
                .iter()
                .map(String::as_str)
                .filter(|r| !r.is_empty())
                .collect();
            if let Some(bad) = roles
                .iter()
                .find(|r| orgcert_core::auth::Role::parse(r).is_none())
            {
                return Err(format!(
                    "unknown role {bad:?} (user_admin, rights_admin, org_admin)"
                ));
            }
            let token = keys
                .token(&org, &email, &name, &roles, Duration::hours(hours))
                .map_err(|e| describe(&e))?;
            println!("{token}");
            Ok(())
        }
        Command::Org {
            command:
                OrgCommand::Add {
                    cvr,
                    name,
                    p_numbers,
                    se_numbers,
                },
        } => {
            let l = local::open(&cfg, Arc::new(SystemClock))
                .await
                .map_err(|e| describe(&e))?;
            let org = l
                .state
                .app
                .add_organisation(NewOrganisation {
                    cvr,
                    name,
                    p_numbers,
                    se_numbers,
                    settings: OrgSettings {
                        organisation_certificates_enabled: true,
                        seal_generation_allowed: false,
                        local_idp_enabled: false,
                        nemhandel_enabled: false,
                    },
                })
                .await
                .map_err(|e| describe(&e))?;
            println!("added organisation {} ({})", org.cvr, org.name);
            Ok(())
        }
        Command::Job {
            command: JobCommand::Run { name, now },
        } => {
            let job = Job::from_name(&name).ok_or_else(|| {
                let names: Vec<&str> = Job::ALL.iter().map(|j| j.name()).collect();
                format!("unknown job {name:?} ({})", names.join(", "))
            })?;
            let now = match now {
                Some(t) => {
                    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| format!("--now must be RFC 3339: {e}"))?
                }
                None => time::OffsetDateTime::now_utc(),
            };
            let l = local::open(&cfg, Arc::new(SystemClock))
                .await
                .map_err(|e| describe(&e))?;
            let report = l
                .state
                .app
                .run_job(job, now)
                .await
                .map_err(|e| describe(&e))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            Ok(())
        }
        // Handled before the data dir is opened.
        Command::Renew { .. } => Ok(()),
        Command::Ca {
            command: CaCommand::Rollover,
        } => {
            let now = time::OffsetDateTime::now_utc();
            let (n, der) = tokio::task::spawn_blocking(move || local::rollover(&cfg, now))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| describe(&e))?;
            println!("issuing CA generation {n} created (ca-{n}.pem); restart the server to issue from it");
            print!("{}", orgcert_pki::to_pem("CERTIFICATE", &der));
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { org, file, backend },
        } => {
            let lines = match file {
                Some(f) => vec![orgcert_functions::audit::verify_file(&f)?],
                None if backend == Backend::Aws => {
                    let orgs = orgcert_functions::audit::parse_orgs(&org)?;
                    let aws = orgcert_functions::aws::config(&cfg)?;
                    let sdk = orgcert_aws::sdk_config(&aws).await;
                    let store = orgcert_aws::DynamoStore::new(
                        aws_sdk_dynamodb::Client::new(&sdk),
                        aws.table.clone(),
                    );
                    orgcert_functions::audit::verify_store(&store, &orgs).await?
                }
                None => {
                    let orgs = orgcert_functions::audit::parse_orgs(&org)?;
                    let db = cfg.data_dir.join("orgcert.db");
                    if !db.exists() {
                        return Err(format!("no database at {}", db.display()));
                    }
                    let store = orgcert_local::SqliteStore::open(&db).map_err(|e| describe(&e))?;
                    orgcert_functions::audit::verify_store(&store, &orgs).await?
                }
            };
            for l in lines {
                println!("{l}");
            }
            Ok(())
        }
        Command::Serve {
            addr,
            backend: Backend::Aws,
            bootstrap,
        } => serve_aws(cfg, &addr, bootstrap).await,
        Command::Serve {
            bootstrap: true, ..
        } => {
            Err("--bootstrap is for --backend aws (the local backend creates its CA itself)".into())
        }
        Command::Serve { addr, .. } => serve(cfg, &addr).await,
    }
}

async fn serve(cfg: LocalConfig, addr: &str) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let l = local::open(&cfg, Arc::new(SystemClock))
        .await
        .map_err(|e| describe(&e))?;
    let router = local::router(&l);
    println!("orgcert is listening on {}", cfg.public_url);
    println!("data dir: {}", cfg.data_dir.display());
    print_demo_tokens(l.created_demo, &l.tokens, &cfg.public_url)?;
    let mtls = match orgcert_functions::mtls::config_from_env()? {
        None => None,
        Some(m) => {
            let app = &l.state.app;
            let current = app.ca_der();
            let older: Vec<Vec<u8>> = app
                .ca_generations()
                .into_iter()
                .filter_map(|g| app.ca_generation_der(g))
                .filter(|der| *der != current)
                .collect();
            let config = orgcert_functions::mtls::server_config(
                &l.authority,
                &older,
                &m.names,
                time::OffsetDateTime::now_utc(),
            )?;
            match tokio::net::TcpListener::bind(&m.addr).await {
                Ok(listener) => {
                    let port = listener
                        .local_addr()
                        .map_err(|e| format!("ORGCERT_MTLS_ADDR: {e}"))?
                        .port();
                    let host = m.names.first().map_or("localhost", String::as_str);
                    println!(
                        "\nSystem certificates (mutual TLS): https://{host}:{port}/v1 (server certificate for {}). Try:",
                        m.names.join(", ")
                    );
                    println!(
                        "  curl --cert system.pem --key system.key --cacert {} https://{host}:{port}/v1/profiles",
                        cfg.data_dir.join("ca.pem").display(),
                    );
                    Some((listener, config))
                }
                // The default port taken (another local server): run without mutual TLS.
                Err(e) if m.default_addr => {
                    println!(
                        "\nno mutual-TLS listener: {} is taken ({e}); set ORGCERT_MTLS_ADDR",
                        m.addr
                    );
                    None
                }
                Err(e) => {
                    return Err(format!(
                        "cannot listen on {} (ORGCERT_MTLS_ADDR): {e}",
                        m.addr
                    ))
                }
            }
        }
    };
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    spawn_schedules(l.state.app.clone());
    if let Some((listener, config)) = mtls {
        let router = router.clone();
        tokio::spawn(orgcert_functions::mtls::serve(
            listener,
            config,
            router,
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        ));
    }
    let served = local::OcspFirst::new(router, &l);
    axum::serve(
        listener,
        axum::ServiceExt::into_make_service_with_connect_info::<std::net::SocketAddr>(served),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| format!("server: {e}"))
}

/// `serve --backend aws`: the AWS composition on this machine (orgcert_functions::aws).
async fn serve_aws(cfg: LocalConfig, addr: &str, bootstrap: bool) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let started = orgcert_functions::aws::start(&cfg, bootstrap).await?;
    println!(
        "orgcert (AWS adapters at {}) is listening on {}",
        orgcert_functions::aws::config(&cfg)?
            .endpoint_url
            .unwrap_or_default(),
        cfg.public_url
    );
    print_demo_tokens(started.created_demo, &started.tokens, &cfg.public_url)?;
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    spawn_schedules(started.app);
    axum::serve(
        listener,
        started
            .router
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| format!("server: {e}"))
}

/// In-process timers (EventBridge schedules in AWS): CRL refresh and housekeeping hourly,
/// renewal reminders daily. Each job is idempotent, so a restart that reruns one is harmless.
fn spawn_schedules(app: App) {
    for (job, every) in [
        (Job::CrlRefresh, std::time::Duration::from_secs(3600)),
        (Job::Housekeeping, std::time::Duration::from_secs(3600)),
        (
            Job::RenewalReminders,
            std::time::Duration::from_secs(24 * 3600),
        ),
    ] {
        let app = app.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match app.run_job(job, app.now()).await {
                    Ok(r) => tracing::info!(job = job.name(), detail = %r.detail, "job ran"),
                    Err(e) => {
                        tracing::warn!(job = job.name(), error = %e, "job failed; it runs again at the next tick")
                    }
                }
            }
        });
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ORGCERT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orgcert: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orgcert: {e}");
            ExitCode::FAILURE
        }
    }
}
