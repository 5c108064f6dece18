//! The Lambda event decoder, exactly as the handler runs it: whatever the payload, a
//! phase or one short line.
#![no_main]

use ami_usage_reporter::event::{RawEvent, phase_of_payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = phase_of_payload(&RawEvent::decode(data)) {
        let text = e.to_string();
        assert!(!text.contains('\n') && text.len() < 1_000, "{text}");
    }
});
