//! privatelink-sim: a wire-compatible simulator of the Alibaba Cloud PrivateLink OpenAPI.

use std::{io::Write, path::PathBuf, time::Duration};

use clap::Parser;
use privatelink_sim::{Sim, SimConfig, Timing, World, serve};

#[derive(Debug, Parser)]
#[command(name = "privatelink-sim", version, about = "Alibaba Cloud PrivateLink OpenAPI simulator")]
struct Args {
    /// Listen address (use port 0 for an ephemeral port).
    #[arg(long, env = "PRIVATELINK_SIM_LISTEN", default_value = "127.0.0.1:8787")]
    listen: String,
    /// Write the bound port to this file once listening.
    #[arg(long)]
    port_file: Option<PathBuf>,
    /// World definition (YAML or JSON); default: the built-in world.
    #[arg(long)]
    world: Option<PathBuf>,
    /// Seconds a service stays Creating.
    #[arg(long, default_value_t = 2.0)]
    create_seconds: f64,
    /// Seconds a service stays Pending after a change.
    #[arg(long, default_value_t = 1.0)]
    update_seconds: f64,
    /// Seconds a service stays Deleting.
    #[arg(long, default_value_t = 2.0)]
    delete_seconds: f64,
    /// ClientToken retention.
    #[arg(long, default_value_t = 86400.0)]
    token_ttl_seconds: f64,
    /// Longest lifetime of STS credentials issued by AssumeRole / AssumeRoleWithOIDC (tests shorten it
    /// to see credentials expire; a shorter requested DurationSeconds wins).
    #[arg(long, default_value_t = 3600.0)]
    sts_duration_seconds: f64,
    /// Requests per second per account (0 = unlimited).
    #[arg(long, default_value_t = 0.0)]
    qps_limit: f64,
    /// Override the world's max services per account per region.
    #[arg(long)]
    service_quota: Option<usize>,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "PRIVATELINK_SIM_LOG", default_value = "info")]
    log_level: String,
}

fn secs(name: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|e| format!("--{name}: {e}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log_level)?)
        .init();
    let mut world = match &args.world {
        Some(p) => World::from_yaml(&std::fs::read_to_string(p)?)?,
        None => World::default_world(),
    };
    if let Some(q) = args.service_quota {
        world.service_quota = q;
    }
    let cfg = SimConfig {
        timing: Timing {
            create: secs("create-seconds", args.create_seconds)?,
            update: secs("update-seconds", args.update_seconds)?,
            delete: secs("delete-seconds", args.delete_seconds)?,
        },
        qps_limit: args.qps_limit.max(0.0),
        token_ttl: secs("token-ttl-seconds", args.token_ttl_seconds)?,
        sts_duration: secs("sts-duration-seconds", args.sts_duration_seconds)?,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let addr = listener.local_addr()?;
    // Install signal handlers before announcing the address, so a harness that reacts to the
    // announcement with SIGTERM always gets a clean shutdown.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    // The port file is complete (written, then renamed) before the stdout line appears.
    if let Some(p) = &args.port_file {
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, addr.port().to_string())?;
        std::fs::rename(&tmp, p)?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "privatelink-sim listening on http://{addr}")?;
        out.flush()?;
    }
    tracing::info!(%addr, admin = addr.ip().is_loopback(), "privatelink-sim started");
    let shutdown = async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
    };
    serve(listener, Sim::new(world, cfg), shutdown).await;
    Ok(())
}
