fn main() {
    std::process::exit(cnilab::cli::run());
}
