//! What linking libbitnet_quant buys a Rust program: per-call cost through
//! the FFI for small inputs, and throughput for large ones, next to this
//! crate's scalar Rust model of the same rules.
//!
//! `cargo bench --bench ffi_overhead -- --warm-up-time 1 --measurement-time 2`
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use bitnet_quant::{CpuTarget, Format, Library, Options};
use bitnet_quant_crossval::model;

fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 2_654_435_761usize) % 10_007) as f32 / 2_500.0 - 2.0).collect()
}

fn small_calls(c: &mut Criterion) {
    let linked = Library::linked();
    // SAFETY: the library this benchmark links, found through its rpath.
    let loaded = unsafe { Library::load(Library::default_path()) }.expect("dlopen the library");
    let mut group = c.benchmark_group("small_call_overhead_i2s");
    for n in [4usize, 32, 128] {
        let x = input(n);
        let (mut packed, mut scales) = (vec![0u8; n.div_ceil(4)], vec![0f32; n.div_ceil(32)]);
        for (name, lib) in [("linked", linked), ("loaded", &loaded)] {
            group.bench_with_input(BenchmarkId::new(format!("{name} bitnet_quantize"), n), &x, |b, x| {
                b.iter(|| {
                    lib.quantize_into(Format::I2S, &Options::default(), black_box(x), &mut packed, &mut scales).unwrap()
                })
            });
        }
        group.bench_with_input(BenchmarkId::new("linked bitnet_cpp_quantize", n), &x, |b, x| {
            b.iter(|| linked.cpp_quantize(black_box(x), &mut packed, &mut scales, Format::I2S.raw()).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("rust model", n), &x, |b, x| {
            b.iter(|| model::quantize(Format::I2S, 32, black_box(x)).unwrap())
        });
    }
    group.finish();
}

fn large_inputs(c: &mut Criterion) {
    let lib = Library::linked();
    for format in Format::ALL {
        let mut group = c.benchmark_group(format!("throughput_{}", format.name()));
        for n in [1usize << 16, 1 << 20] {
            let x = input(n);
            let block = format.default_block_size();
            let (mut packed, mut scales) = (vec![0u8; n.div_ceil(4)], vec![0f32; n.div_ceil(block)]);
            group.throughput(Throughput::Elements(n as u64));
            for (name, target) in
                [("library best target", CpuTarget::AUTO), ("library REFERENCE", CpuTarget::REFERENCE)]
            {
                let options = Options::default().on(target);
                group.bench_with_input(BenchmarkId::new(name, n), &x, |b, x| {
                    b.iter(|| lib.quantize_into(format, &options, black_box(x), &mut packed, &mut scales).unwrap())
                });
            }
            group.bench_with_input(BenchmarkId::new("rust model", n), &x, |b, x| {
                b.iter(|| model::quantize(format, block, black_box(x)).unwrap())
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    // Short runs: the machine is shared; the command line can lengthen them.
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(1))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = small_calls, large_inputs }
criterion_main!(benches);
