fn main() {
    eprintln!("meerkat-sensor: under construction");
    std::process::exit(2);
}
