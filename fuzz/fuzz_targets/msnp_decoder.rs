//! See `msnp::fuzzing`: the checks live with the codec, where `cargo test` replays the
//! kept inputs through them too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msnp::fuzzing::check(data));
