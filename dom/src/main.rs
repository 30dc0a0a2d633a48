fn main() {
    eprintln!("meerkat-dom: under construction");
    std::process::exit(2);
}
