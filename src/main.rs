use clap::Parser;

fn main() {
    // color-eyre's panic hook first; the TUI installs its terminal-restoring hook on top later.
    if let Err(e) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .install()
    {
        eprintln!("syncdeck: cannot install the error handler: {e}");
    }
    let cli = syncdeck::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("syncdeck: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async move {
        // Before any work: INT, TERM and HUP then stop cleanly instead of killing mid-write.
        syncdeck::shutdown::install();
        match syncdeck::cli::run(cli).await {
            Ok(code) => code,
            Err(report) => {
                // The whole cause chain on one line each, without a backtrace.
                eprintln!("error: {report}");
                for cause in report.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
                1
            }
        }
    });
    std::process::exit(code);
}
