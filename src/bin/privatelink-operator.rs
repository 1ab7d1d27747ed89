use clap::{Parser, Subcommand};

/// Kubernetes operator for Alibaba Cloud PrivateLink endpoint services.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinition as YAML.
    Crd,
}

fn main() {
    match Cli::parse().command {
        Command::Crd => print!("{}", privatelink_operator::crd::crd_yaml()),
    }
}
