//! `Library::override_cpu_target`: guards nest on one thread and restore in
//! order, other threads wait, panics and out-of-order drops restore the
//! right target. All on the loaded copy, whose process-wide target is its
//! own; the tests of this file take turns (`one_at_a_time`), since each
//! reads the target outside any guard.
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Barrier, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use bitnet_quant::{sys, CpuTarget, Library};

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Runs `f` on a thread of its own and fails if it has not finished within
/// a minute, so that a deadlock fails the test instead of hanging it.
fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    let worker = thread::spawn(move || done.send(f()).unwrap());
    match result.recv_timeout(Duration::from_secs(60)) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlock: not finished after 60 s"),
        // `f` panicked: report its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => std::panic::resume_unwind(worker.join().unwrap_err()),
    }
}

/// What each test starts from: the loaded library, REFERENCE, the best
/// target this CPU runs (the same where it runs only REFERENCE), and the
/// target in force with no guard.
struct Setup {
    lib: &'static Library,
    reference: CpuTarget,
    best: CpuTarget,
    auto: CpuTarget,
}

/// Runs a test of this file in its turn, within a minute.
fn guard_test(test: impl FnOnce(Setup) + Send + 'static) {
    let _turn = one_at_a_time();
    within_a_minute(|| {
        let lib = common::loaded();
        let best = *lib.cpu_targets_supported().last().unwrap();
        test(Setup { lib, reference: CpuTarget::REFERENCE, best, auto: lib.cpu_target().unwrap() });
    });
}

#[test]
fn nested_guards_on_one_thread_restore_the_previous_targets_in_order() {
    guard_test(|Setup { lib, reference, best, auto }| {
        let outer = lib.override_cpu_target(reference).unwrap();
        assert_eq!(lib.cpu_target().unwrap(), reference);
        {
            let inner = lib.override_cpu_target(best).unwrap();
            assert_eq!((inner.target(), lib.cpu_target().unwrap()), (best, best));
            let innermost = lib.with_cpu_target(reference, || lib.cpu_target().unwrap()).unwrap();
            assert_eq!(innermost, reference);
            assert_eq!(lib.cpu_target().unwrap(), best, "the inner guard's target is back");
        }
        assert_eq!(lib.cpu_target().unwrap(), reference, "the outer guard's target is back");
        drop(outer);
        assert_eq!(lib.cpu_target().unwrap(), auto);
    });
}

#[test]
fn a_guard_dropped_before_a_newer_one_leaves_the_newer_target_in_force() {
    guard_test(|Setup { lib, reference, best, auto }| {
        let older = lib.override_cpu_target(best).unwrap();
        let newer = lib.override_cpu_target(reference).unwrap();
        drop(older);
        assert_eq!(lib.cpu_target().unwrap(), reference);
        drop(newer);
        assert_eq!(lib.cpu_target().unwrap(), auto);
        // The lock is free: another thread takes it.
        thread::spawn(move || drop(lib.override_cpu_target(best).unwrap())).join().unwrap();
        assert_eq!(lib.cpu_target().unwrap(), auto);
    });
}

#[test]
fn guards_of_other_threads_wait_until_every_guard_of_the_holder_is_dropped() {
    guard_test(|Setup { lib, reference, best, auto }| {
        let outer = lib.override_cpu_target(reference).unwrap();
        let inner = lib.override_cpu_target(reference).unwrap();
        let started = std::sync::Arc::new(Barrier::new(2));
        let acquired = std::sync::Arc::new(AtomicBool::new(false));
        let waiter = {
            let (started, acquired) = (started.clone(), acquired.clone());
            thread::spawn(move || {
                started.wait();
                let guard = lib.override_cpu_target(best).unwrap();
                acquired.store(true, Ordering::SeqCst);
                assert_eq!(lib.cpu_target().unwrap(), best);
                drop(guard);
            })
        };
        started.wait();
        thread::sleep(Duration::from_millis(200));
        assert!(!acquired.load(Ordering::SeqCst), "the other thread's guard did not wait");
        drop(inner);
        thread::sleep(Duration::from_millis(200));
        assert!(!acquired.load(Ordering::SeqCst), "it took the lock while the outer guard lived");
        assert_eq!(lib.cpu_target().unwrap(), reference);
        drop(outer);
        waiter.join().unwrap();
        assert!(acquired.load(Ordering::SeqCst));
        assert_eq!(lib.cpu_target().unwrap(), auto);

        // Many threads, nested guards: each sees only its own targets.
        let threads: Vec<_> = (0..8)
            .map(|t| {
                thread::spawn(move || {
                    let (first, second) = if t % 2 == 0 { (reference, best) } else { (best, reference) };
                    for _ in 0..50 {
                        let _outer = lib.override_cpu_target(first).unwrap();
                        assert_eq!(lib.cpu_target().unwrap(), first);
                        lib.with_cpu_target(second, || assert_eq!(lib.cpu_target().unwrap(), second)).unwrap();
                        assert_eq!(lib.cpu_target().unwrap(), first);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(lib.cpu_target().unwrap(), auto);
    });
}

#[test]
fn the_cpu_target_guard_restores_the_previous_target_also_on_panic() {
    guard_test(|Setup { lib, reference, best, auto }| {
        {
            let guard = lib.override_cpu_target(reference).unwrap();
            assert_eq!(guard.target(), reference);
            assert_eq!(lib.cpu_target().unwrap(), reference);
        }
        assert_eq!(lib.cpu_target().unwrap(), auto);
        let panicked = std::panic::catch_unwind(|| {
            lib.with_cpu_target(reference, || panic!("inside the override")).unwrap();
        });
        assert!(panicked.is_err());
        assert_eq!(lib.cpu_target().unwrap(), auto, "restored after the panic");
        // A panic inside a nested guard gives the outer guard's target back.
        let outer = lib.override_cpu_target(best).unwrap();
        let panicked = std::panic::catch_unwind(|| {
            lib.with_cpu_target(reference, || panic!("inside the nested override")).unwrap();
        });
        assert!(panicked.is_err());
        assert_eq!(lib.cpu_target().unwrap(), best);
        drop(outer);
        assert_eq!(lib.cpu_target().unwrap(), auto);
        // A target the CPU lacks is refused and changes nothing, nested or not.
        let unsupported = CpuTarget(sys::BITNET_CPU_SVE2 << 1);
        assert!(lib.override_cpu_target(unsupported).is_err());
        assert_eq!(lib.cpu_target().unwrap(), auto);
        let outer = lib.override_cpu_target(reference).unwrap();
        assert!(lib.override_cpu_target(unsupported).is_err());
        assert_eq!(lib.cpu_target().unwrap(), reference);
        drop(outer);
        assert_eq!(lib.cpu_target().unwrap(), auto);
        // ... and leaves the lock free for other threads.
        thread::spawn(move || drop(lib.override_cpu_target(best).unwrap())).join().unwrap();
    });
}
