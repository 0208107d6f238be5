//! Writes seed corpora for the fuzz targets: `seed_corpus DIR [N]` writes N (default 64) inputs
//! per target to `DIR/<target>/seed-<i>`, each the bytes of the PRNG `kiln_fuzzing::seeded_bytes`
//! (the same inputs the test binary runs), keeping only inputs that got as far as a check.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "fuzz/corpus".to_string()));
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    for &(name, run) in kiln_fuzzing::TARGETS {
        let out = dir.join(name);
        std::fs::create_dir_all(&out)?;
        let mut written = 0;
        for i in 0..n * 4 {
            if written == n {
                break;
            }
            let bytes = kiln_fuzzing::seeded_bytes(0x5eed_0000 + i, 2048);
            // Inputs that find something are not seeds: they are findings.
            if run(&bytes).is_ok_and(|s| s.checked > 0) {
                std::fs::write(out.join(format!("seed-{i}")), &bytes)?;
                written += 1;
            }
        }
        println!("{name}: {written} seeds in {}", out.display());
    }
    Ok(())
}
