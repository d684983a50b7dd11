use clap::Parser;

fn main() {
    let cli = cellmask::cli::Cli::parse();
    match cellmask::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("cellmask: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
