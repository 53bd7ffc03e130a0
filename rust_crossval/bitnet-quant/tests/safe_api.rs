//! The safe API on both backends: bad input gives `Err` with the library's
//! status and message, and the introspection functions answer consistently.
mod common;

use std::process::Command;

use bitnet_quant::{sys, Backend, CpuTarget, Format, Library, Options};

fn assert_err<T: std::fmt::Debug>(result: bitnet_quant::Result<T>, status: i32, needle: &str) {
    let err = result.expect_err("a failure");
    assert_eq!(err.status, status, "{err}");
    assert!(err.message.contains(needle), "message {:?} lacks {needle:?}", err.message);
}

#[test]
fn bad_input_gives_the_status_and_the_library_message() {
    let input = vec![1.0f32; 100];
    for (_, lib) in common::backends() {
        assert_err(lib.quantize(Format::I2S, &Options::block(6), &input), sys::BITNET_E_INVALID_BLOCK_SIZE, "is 6");
        assert_err(
            lib.quantize(Format::TL1, &Options::block((1 << 20) + 4), &input),
            sys::BITNET_E_INVALID_BLOCK_SIZE,
            "1048580",
        );
        assert_err(
            lib.quantize(Format::I2S, &Options::default(), &[f32::NAN, f32::INFINITY]),
            sys::BITNET_E_ALL_NONFINITE,
            "no finite",
        );
        // Nothing written on failure.
        let (mut packed, mut scales) = (vec![7u8; 24], vec![9.0f32; 4]);
        assert_err(
            lib.quantize_into(Format::TL2, &Options::block(32), &input, &mut packed, &mut scales),
            sys::BITNET_E_BUFFER_TOO_SMALL,
            "25",
        );
        assert!(packed.iter().all(|&b| b == 7) && scales.iter().all(|&s| s == 9.0));
        assert_err(
            lib.dequantize(Format::I2S, &Options::default(), &[0; 24], &[1.0; 4], 100),
            sys::BITNET_E_SIZE_MISMATCH,
            "25",
        );
        assert_err(
            lib.dequantize(Format::I2S, &Options::default(), &[0; 25], &[1.0; 3], 100),
            sys::BITNET_E_SIZE_MISMATCH,
            "4 scales",
        );
        assert_err(lib.cpu_target_from_name("PENTIUM"), sys::BITNET_E_INVALID_ARGUMENT, "PENTIUM");
        let supported_mask = lib.cpu_targets_supported().iter().fold(0, |mask, t| mask | t.0);
        let unsupported = CpuTarget::from_mask(!supported_mask).into_iter().find(|t| t.0 <= sys::BITNET_CPU_SVE2);
        if let Some(target) = unsupported {
            assert_err(
                lib.quantize(Format::I2S, &Options::default().on(target), &input),
                sys::BITNET_E_UNSUPPORTED_TARGET,
                &format!("{} is not", lib.cpu_target_name(target)),
            );
        }
        let options = Options {
            block_size: 0,
            cpu_target: CpuTarget::AUTO,
            device: bitnet_quant::Device::Cuda,
            device_index: 0,
            flags: sys::BITNET_FLAG_STRICT,
        };
        // Strict CUDA runs on a GPU or fails; it never falls back.
        match lib.quantize(Format::I2S, &options, &input) {
            Ok(_) => assert_eq!(lib.last_backend(), Backend::Cuda),
            Err(e) => assert_eq!(e.status, sys::BITNET_E_DEVICE_UNAVAILABLE, "{e}"),
        }
        assert_err(lib.cpp_quantize(&input, &mut [0u8; 24], &mut [0f32; 4], 0), sys::BITNET_E_BUFFER_TOO_SMALL, "25");
        assert_err(
            lib.cpp_matmul_i2s(&[1, 2], &[1, 2], &mut [0.0; 1], 1, 1, 1),
            sys::BITNET_E_SIZE_MISMATCH,
            "a has 2",
        );
        assert!(lib.last_error().is_some() && lib.cpp_last_error().is_some());
    }
}

#[test]
fn introspection_is_consistent() {
    for (backend, lib) in common::backends() {
        let supported = lib.cpu_targets_supported();
        let compiled = lib.cpu_targets_compiled();
        assert_eq!(supported[0], CpuTarget::REFERENCE, "{backend}");
        assert!(supported.iter().all(|t| compiled.contains(t)));
        for &target in &supported {
            let name = lib.cpu_target_name(target);
            assert_eq!(lib.cpu_target_from_name(&name.to_lowercase()).unwrap(), target, "{name}");
        }
        assert_eq!(lib.cpu_target_from_name("auto").unwrap(), CpuTarget::AUTO);
        assert_eq!(lib.cpu_target_name(CpuTarget(1 << 30)), "UNKNOWN");
        let statuses: Vec<String> = (-14..=0).map(|s| lib.status_string(s)).collect();
        assert!(statuses.iter().all(|s| s.starts_with("BITNET_")));
        assert_eq!(statuses.iter().collect::<std::collections::BTreeSet<_>>().len(), statuses.len());
        for n in [0usize, 1, 4, 5, 1001] {
            assert_eq!(lib.packed_size(n), n.div_ceil(4));
            for format in Format::ALL {
                let (packed, scales) = lib.buffer_sizes(format, &Options::block(12), n).unwrap();
                assert_eq!((packed, scales), (n.div_ceil(4), n.div_ceil(12)));
                let (_, scales) = lib.buffer_sizes(format, &Options::default(), n).unwrap();
                assert_eq!(scales, n.div_ceil(format.default_block_size()));
            }
        }
        let on_cpu = Options { device: bitnet_quant::Device::Cpu, ..Options::default() };
        lib.quantize(Format::TL1, &on_cpu, &[1.0, -1.0]).unwrap();
        assert_eq!(lib.last_backend(), Backend::Cpu, "{backend}");
        lib.cpp_init().unwrap();
        assert!(lib.cpp_is_available());
        lib.cpp_cleanup();
    }
}

#[test]
fn owned_and_caller_buffers_agree_and_fixed_entry_points_match() {
    let input: Vec<f32> = (0..777).map(|i| ((i * 37) % 101) as f32 / 25.0 - 2.0).collect();
    for (_, lib) in common::backends() {
        for format in Format::ALL {
            let owned = lib.quantize(format, &Options::default(), &input).unwrap();
            let (mut packed, mut scales) =
                (vec![0xAAu8; owned.packed.len() + 2], vec![-1.0f32; owned.scales.len() + 2]);
            lib.quantize_into(format, &Options::default(), &input, &mut packed, &mut scales).unwrap();
            assert_eq!(&packed[..owned.packed.len()], &owned.packed[..]);
            assert_eq!(&packed[owned.packed.len()..], &[0xAA, 0xAA], "wrote past ceil(n/4)");
            assert_eq!(&scales[owned.scales.len()..], &[-1.0, -1.0], "wrote past ceil(n/block)");
            let mut fixed =
                bitnet_quant::Quantized { packed: vec![0; owned.packed.len()], scales: vec![0.0; owned.scales.len()] };
            lib.quantize_default_block(format, &input, &mut fixed.packed, &mut fixed.scales).unwrap();
            assert_eq!(fixed, owned);
            let decoded =
                lib.dequantize(format, &Options::default(), &owned.packed, &owned.scales, input.len()).unwrap();
            let mut fixed_decoded = vec![0.0; input.len()];
            lib.dequantize_default_block(format, &owned.packed, &owned.scales, &mut fixed_decoded).unwrap();
            assert_eq!(decoded, fixed_decoded);
        }
    }
}

/// BITNET_CPU_TARGET selects the default target; checked in a child
/// process, since the variable is read from the environment of the process.
#[test]
fn cpu_target_environment_variable_sets_the_default() {
    const CHILD: &str = "BITNET_QUANT_TEST_CHILD";
    let lib = Library::linked();
    if let Ok(expect) = std::env::var(CHILD) {
        match expect.as_str() {
            "bogus" => assert_err(lib.cpu_target(), sys::BITNET_E_UNSUPPORTED_TARGET, "BITNET_CPU_TARGET"),
            name => {
                assert_eq!(lib.cpu_target_name(lib.cpu_target().unwrap()), name);
                lib.with_cpu_target(CpuTarget::REFERENCE, || {
                    assert_eq!(lib.cpu_target().unwrap(), CpuTarget::REFERENCE);
                })
                .unwrap();
                // AUTO goes back to the environment's choice.
                assert_eq!(lib.cpu_target_name(lib.cpu_target().unwrap()), name);
            }
        }
        return;
    }
    let best = *lib.cpu_targets_supported().last().unwrap();
    let cases = [
        (lib.cpu_target_name(CpuTarget::REFERENCE), "REFERENCE".to_string()),
        (lib.cpu_target_name(best), lib.cpu_target_name(best)),
        ("NOT_A_TARGET".to_string(), "bogus".to_string()),
    ];
    for (value, expect) in cases {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["cpu_target_environment_variable_sets_the_default", "--exact", "--nocapture"])
            .env("BITNET_CPU_TARGET", &value)
            .env(CHILD, &expect)
            .output()
            .unwrap();
        assert!(out.status.success(), "BITNET_CPU_TARGET={value}: {}", String::from_utf8_lossy(&out.stdout));
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    }
}

/// Without a usable GPU (this library's build or this machine) the CUDA
/// entry points say so with DEVICE_UNAVAILABLE and a reason; with one, the
/// device list is consistent.
#[test]
fn cuda_entry_points_report_their_device() {
    use bitnet_quant::DeviceQuantizeBuffers;
    for (backend, lib) in common::backends() {
        let count = lib.cuda_device_count();
        for index in 0..count {
            let info = lib.cuda_device_info(index as i32).unwrap();
            assert!(!info.name.is_empty() && info.total_memory >= info.free_memory, "{backend}: {info:?}");
        }
        // Every reason (no GPU, no driver, no such index, built without
        // CUDA) names CUDA.
        assert_err(lib.cuda_device_info(count as i32), sys::BITNET_E_DEVICE_UNAVAILABLE, "CUDA");
        if count == 0 {
            let mut scales = [0f32; 1];
            let mut packed = [0u8; 1];
            let buffers = DeviceQuantizeBuffers {
                input: [1.0f32; 4].as_ptr(),
                n: 4,
                packed: packed.as_mut_ptr(),
                packed_len: 1,
                scales: scales.as_mut_ptr(),
                scales_len: 1,
            };
            let options = Options { device: bitnet_quant::Device::Cuda, ..Options::default() };
            // SAFETY: with no GPU the library fails before touching memory.
            unsafe {
                assert_err(
                    lib.cuda_quantize(Format::I2S, &options, buffers, std::ptr::null_mut()),
                    sys::BITNET_E_DEVICE_UNAVAILABLE,
                    "CUDA",
                );
                assert_err(
                    lib.cuda_kernel_quantize(Format::TL1, &options, buffers, std::ptr::null_mut()),
                    sys::BITNET_E_DEVICE_UNAVAILABLE,
                    "CUDA",
                );
                assert_err(
                    lib.cuda_dequantize(
                        Format::TL2,
                        &options,
                        packed.as_ptr(),
                        1,
                        scales.as_ptr(),
                        1,
                        [0f32; 4].as_mut_ptr(),
                        4,
                        std::ptr::null_mut(),
                    ),
                    sys::BITNET_E_DEVICE_UNAVAILABLE,
                    "CUDA",
                );
            }
        }
    }
}
