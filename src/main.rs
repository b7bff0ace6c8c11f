use clap::Parser;

fn main() -> std::process::ExitCode {
    loadplan::main(loadplan::cli::Cli::parse())
}
