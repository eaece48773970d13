//! The fuzz corpus (fuzz/corpus/<target>/, seeds and every input the fuzzers kept) replayed
//! through the same target bodies the libFuzzer binaries run (fuzz/targets.rs): on stable, in
//! every test run, each input must be handled without a panic. Fuzzing itself is
//! `cargo +nightly fuzz run <target>` (BENCHMARKS.md has the runs).

#[path = "../fuzz/targets.rs"]
mod targets;

#[test]
fn every_input_the_fuzzers_kept_is_handled() {
    for (name, target) in targets::ALL {
        let dir = std::path::Path::new("fuzz/corpus").join(name);
        let mut inputs = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let handled = std::panic::catch_unwind(|| target(&data));
            assert!(handled.is_ok(), "{name}: {} made it panic", path.display());
            inputs += 1;
        }
        assert!(inputs > 0, "{name} has a corpus");
        eprintln!("{name}: {inputs} inputs handled");
    }
}
