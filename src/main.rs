use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = dealerscope::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            // symphonia warns about every junk byte it skips while probing; the decoder's
            // errors reach the user as one line anyway (target prefix covers symphonia_*), so
            // its own log lines are off.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,symphonia=off".into()),
        )
        .init();
    // Quiet the default panic report: the caller gets one line from cli::run instead.
    std::panic::set_hook(Box::new(|info| tracing::error!("{info}")));
    match dealerscope::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            std::process::ExitCode::FAILURE
        }
    }
}
