use std::{net::SocketAddr, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use privatelink_operator::{
    alicloud::ClientConfig,
    controller::{self, RunConfig},
    reconcile::Settings,
    telemetry::{self, LogFormat},
};

/// Kubernetes operator for Alibaba Cloud PrivateLink endpoint services.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML: every kind (as one multi-document stream), or the
    /// one named (`VpcEndpointService`, `VpcEndpoint`).
    Crd {
        /// Kind whose CRD to print (default: all).
        kind: Option<String>,
    },
    /// Run the controller.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// PrivateLink endpoint override: a URL such as `http://127.0.0.1:8787` or a template
    /// `https://privatelink-vpc.{region}.aliyuncs.com`. Default: `https://privatelink.{region}.aliyuncs.com`.
    #[arg(long, env = "PRIVATELINK_ENDPOINT")]
    endpoint: Option<String>,
    /// STS endpoint (host or URL) for GetCallerIdentity and the RRSA exchange. Default:
    /// `sts[-vpc].<ALIBABA_CLOUD_STS_REGION>.aliyuncs.com`, else `sts.aliyuncs.com`.
    #[arg(long, env = "ALIBABA_CLOUD_STS_ENDPOINT")]
    sts_endpoint: Option<String>,
    /// Watch only this namespace (default: all namespaces). Same as `--watch-namespaces` with one.
    #[arg(long, env = "WATCH_NAMESPACE", value_parser = namespace_name)]
    namespace: Option<String>,
    /// Watch only these namespaces, comma-separated (default: all). Namespaced RBAC in each suffices.
    #[arg(long, env = "PRIVATELINK_WATCH_NAMESPACES", value_delimiter = ',', value_parser = namespace_name)]
    watch_namespaces: Vec<String>,
    /// Maximum reconciliations doing I/O at once; polls of services the cloud is creating go first.
    #[arg(long, env = "PRIVATELINK_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Drift check interval once an object is Ready, in seconds.
    #[arg(long, env = "PRIVATELINK_RESYNC_SECONDS", default_value_t = 600)]
    resync_seconds: u64,
    /// Safety retry of terminal errors in seconds (a spec change retries at once).
    #[arg(long, env = "PRIVATELINK_TERMINAL_RETRY_SECONDS", default_value_t = 1800)]
    terminal_retry_seconds: u64,
    /// Sustained Alibaba Cloud requests per second, per account (each access key's until its account is known).
    #[arg(long, env = "PRIVATELINK_QPS", default_value_t = 20)]
    qps: u32,
    /// Burst of Alibaba Cloud requests, per account.
    #[arg(long, env = "PRIVATELINK_BURST", default_value_t = 40)]
    burst: u32,
    /// Timeout of one Alibaba Cloud request, in seconds.
    #[arg(long, env = "PRIVATELINK_REQUEST_TIMEOUT_SECONDS", default_value_t = 15)]
    request_timeout_seconds: u64,
    /// Between resyncs, how often a service with `connectionApproval` lists or with connections that
    /// are not settled (Pending, Connecting, Disconnecting) lists its connections, in seconds.
    #[arg(long, env = "PRIVATELINK_CONNECTION_POLL_SECONDS", default_value_t = 30)]
    connection_poll_seconds: u64,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "PRIVATELINK_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: SocketAddr,
    /// Leader election: run the controller only while holding the Lease `privatelink-operator-leader`
    /// (required for more than one replica).
    #[arg(long, env = "PRIVATELINK_LEADER_ELECTION")]
    leader_election: bool,
    /// Namespace of the leader-election Lease (default: POD_NAMESPACE, else `default`).
    #[arg(long, env = "PRIVATELINK_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// Watch Services (metadata the cloud controller manager writes) so `spec.resources[].serviceRef`
    /// can name a Service of type LoadBalancer. `--watch-services=false` drops the Service watch and
    /// its RBAC need; such references then report `ServiceRefsDisabled`.
    #[arg(long, env = "PRIVATELINK_WATCH_SERVICES", default_value_t = true, action = clap::ArgAction::Set)]
    watch_services: bool,
    /// Serve the consumer kind `VpcEndpoint` (its CRD must be installed). `--vpc-endpoints=false`
    /// drops its watch and its RBAC need.
    #[arg(long, env = "PRIVATELINK_VPC_ENDPOINTS", default_value_t = true, action = clap::ArgAction::Set)]
    vpc_endpoints: bool,
    /// Log format.
    #[arg(long, env = "PRIVATELINK_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// A namespace name (a DNS-1123 label; blank is allowed and ignored). A list given to `--namespace`
/// would otherwise be watched as one namespace that does not exist, silently.
fn namespace_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    let label = s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    match (label, s.contains(',')) {
        (true, _) => Ok(s.to_string()),
        (false, true) => Err(format!("{s:?} is a list: use --watch-namespaces for several namespaces")),
        (false, false) => Err(format!("{s:?} is not a namespace name (lowercase letters, digits and '-')")),
    }
}

/// The namespaces to watch: `--namespace` and `--watch-namespaces` together, trimmed, without
/// duplicates, in order.
fn watched(one: Option<String>, list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ns in one.into_iter().chain(list).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        if !out.contains(&ns) {
            out.push(ns);
        }
    }
    out
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Crd { kind: None } => {
            print!("{}", privatelink_operator::crd::all_crds_yaml());
            ExitCode::SUCCESS
        }
        Command::Crd { kind: Some(kind) } => match privatelink_operator::crd::crd_yaml_of(&kind) {
            Some(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("unknown kind {kind:?}; known: {}", privatelink_operator::crd::KINDS.join(", "));
                ExitCode::from(2)
            }
        },
        Command::Run(a) => {
            telemetry::init(a.log_format);
            let cfg = RunConfig {
                namespaces: watched(a.namespace, a.watch_namespaces),
                cloud: ClientConfig {
                    endpoint: a.endpoint,
                    timeout: Duration::from_secs(a.request_timeout_seconds),
                    qps: a.qps,
                    burst: a.burst,
                    sts_endpoint: a.sts_endpoint,
                },
                settings: Settings {
                    resync: Duration::from_secs(a.resync_seconds),
                    terminal_retry: Duration::from_secs(a.terminal_retry_seconds),
                    connection_poll: Duration::from_secs(a.connection_poll_seconds.max(1)),
                    concurrency: usize::from(a.concurrency),
                },
                concurrency: a.concurrency,
                http_addr: a.http_addr,
                leader_election: a.leader_election,
                lease_namespace: a.lease_namespace,
                watch_services: a.watch_services,
                endpoints: a.vpc_endpoints,
            };
            match controller::run(cfg).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("privatelink-operator: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_namespaces() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(watched(None, vec![]), Vec::<String>::new());
        assert_eq!(watched(Some("a".into()), vec![]), s(&["a"]));
        assert_eq!(watched(Some("a".into()), s(&["b", " a", ""])), s(&["a", "b"]));
        let cli = Cli::parse_from(["privatelink-operator", "run", "--watch-namespaces", "team-a,team-b"]);
        let Command::Run(a) = cli.command else { panic!("run") };
        assert_eq!(watched(a.namespace, a.watch_namespaces), s(&["team-a", "team-b"]));
        let err = Cli::try_parse_from(["privatelink-operator", "run", "--namespace", "team-a,team-b"])
            .err()
            .expect("a list in --namespace is refused");
        assert!(err.to_string().contains("--watch-namespaces"), "{err}");
        assert!(Cli::try_parse_from(["privatelink-operator", "run", "--namespace", "Team_A"]).is_err());
    }
}
