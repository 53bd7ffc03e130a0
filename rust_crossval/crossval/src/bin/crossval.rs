//! Cross-validation of libbitnet_quant against BitNet-rs: every golden
//! vector and random family-A model cases, through the linked and the
//! loaded library, on every supported CPU target; prints the parity table
//! and the quantization error of each format. Exits 1 on any mismatch.
use std::path::PathBuf;
use std::process::ExitCode;

use bitnet_quant::Library;
use bitnet_quant_crossval::crossval::{error_metrics, golden_parity, random_parity, ErrorRow, ParityRow};
use bitnet_quant_crossval::golden::{default_dir, GoldenSet};
use serde_json::json;

const USAGE: &str = "usage: crossval [--golden DIR] [--library PATH] [--random-cases N] [--seed S] [--json PATH]
  --golden DIR       golden vectors (default: ffi_tests/golden of this repository)
  --library PATH     library to dlopen for the loaded backend
                     (default: $BITNET_QUANT_LIBRARY, else the one build.rs linked)
  --random-cases N   random family-A cases checked against the model (default 300)
  --seed S           seed of the random cases (default 1)
  --json PATH        also write the results as JSON to PATH";

struct Args {
    golden: PathBuf,
    library: PathBuf,
    random_cases: usize,
    seed: u64,
    json: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args =
        Args { golden: default_dir(), library: Library::default_path(), random_cases: 300, seed: 1, json: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--golden" => args.golden = value.into(),
            "--library" => args.library = value.into(),
            "--random-cases" => args.random_cases = number(&value)? as usize,
            "--seed" => args.seed = number(&value)?,
            "--json" => args.json = Some(value.into()),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(args)
}

/// One line per suite and target, with the linked and loaded mismatches
/// side by side.
fn print_parity(rows: &[ParityRow]) {
    println!(
        "{:<42} {:<6} {:>5} {:<9} {:>6} {:>7} {:>7}",
        "suite", "format", "block", "target", "cases", "linked", "loaded"
    );
    for linked in rows.iter().filter(|r| r.backend == "linked") {
        let loaded =
            rows.iter().find(|r| r.backend == "loaded" && r.suite == linked.suite && r.target == linked.target);
        let block = if linked.block == 0 { "-".to_string() } else { linked.block.to_string() };
        println!(
            "{:<42} {:<6} {:>5} {:<9} {:>6} {:>7} {:>7}",
            linked.suite,
            linked.format,
            block,
            linked.target,
            linked.cases,
            linked.mismatches,
            loaded.map_or("-".to_string(), |r| r.mismatches.to_string())
        );
    }
    for row in rows.iter().filter(|r| r.mismatches > 0) {
        for failure in &row.failures {
            println!("MISMATCH {} {} [{}] {}", row.backend, row.suite, row.target, failure);
        }
    }
}

fn print_errors(rows: &[ErrorRow]) {
    println!("\n{:<6} {:<20} {:>7} {:>9} {:>9}", "format", "distribution", "n", "pearson", "snr_db");
    for r in rows {
        println!("{:<6} {:<20} {:>7} {:>9.4} {:>9.3}", r.format, r.distribution, r.n, r.pearson, r.snr_db);
    }
}

fn to_json(lib: &Library, rows: &[ParityRow], errors: &[ErrorRow], args: &Args) -> serde_json::Value {
    json!({
        "library_version": lib.version_string(),
        "loaded_library": args.library.display().to_string(),
        "random_cases": args.random_cases,
        "seed": args.seed,
        "targets": lib.cpu_targets_supported().iter().map(|&t| lib.cpu_target_name(t)).collect::<Vec<_>>(),
        "parity": rows.iter().map(|r| json!({
            "backend": r.backend, "suite": r.suite, "format": r.format, "block": r.block,
            "target": r.target, "cases": r.cases, "mismatches": r.mismatches, "failures": r.failures,
        })).collect::<Vec<_>>(),
        "mismatches": rows.iter().map(|r| r.mismatches).sum::<usize>(),
        "quantization_error": errors.iter().map(|e| json!({
            "format": e.format, "distribution": e.distribution, "n": e.n,
            "pearson": e.pearson, "snr_db": e.snr_db,
        })).collect::<Vec<_>>(),
    })
}

fn run(args: &Args) -> Result<bool, String> {
    let set = GoldenSet::open(&args.golden).map_err(|e| format!("golden vectors: {e}"))?;
    // SAFETY: the user names a libbitnet_quant (the default: the one this
    // binary links, found through its rpath).
    let loaded =
        unsafe { Library::load(&args.library) }.map_err(|e| format!("dlopen {}: {e}", args.library.display()))?;
    let linked = Library::linked();
    let targets = linked.cpu_targets_supported();
    println!(
        "libbitnet_quant {} (loaded: {}); targets: {}",
        linked.version_string(),
        args.library.display(),
        targets.iter().map(|&t| linked.cpu_target_name(t)).collect::<Vec<_>>().join(" ")
    );
    println!(
        "{} golden cases in {} files; {} random cases (seed {})\n",
        set.cases.len(),
        set.files.len(),
        args.random_cases,
        args.seed
    );

    let mut rows = Vec::new();
    for (backend, lib) in [("linked", linked), ("loaded", &loaded)] {
        rows.extend(golden_parity(lib, backend, &set, &targets));
        rows.extend(random_parity(lib, backend, &targets, args.random_cases, args.seed));
    }
    let errors = error_metrics(linked, &set).map_err(|e| format!("error metrics: {e}"))?;
    print_parity(&rows);
    print_errors(&errors);

    let cases: usize = rows.iter().map(|r| r.cases).sum();
    let mismatches: usize = rows.iter().map(|r| r.mismatches).sum();
    println!("\n{cases} checks (case x target x backend), {mismatches} mismatches");
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&to_json(linked, &rows, &errors, args)).unwrap();
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(mismatches == 0 && cases > 0)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("crossval: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("crossval: {message}");
            ExitCode::from(2)
        }
    }
}
