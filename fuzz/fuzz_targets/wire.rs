//! Fuzzes the process engine's frame decoder: no input may panic, allocate beyond the frame
//! limit, or decode differently through the buffer and the stream paths.
#![no_main]

use concurrent_futures::__private::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wire::check_decoder(data, 1 << 16);
});
