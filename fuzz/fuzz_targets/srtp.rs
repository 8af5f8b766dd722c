//! Fuzz target: any bytes as SRTP and SRTCP to unprotect, for both suites, as a stream of
//! packets (split on a marker byte) through one receiving context, so that the rollover
//! counter and replay windows see many indexes. Must never panic; whatever we protect
//! unprotects to itself, once.

#![no_main]

use ivrc::runtime::media::srtp::{Context, MasterKey, Suite, MAX_STREAMS};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let key = MasterKey([7; 30]);
    for suite in Suite::ALL {
        let (mut tx, mut rx) = (Context::new(suite, &key), Context::new(suite, &key));
        // Past MAX_STREAMS sources the receiver forgets the oldest one's rollover counter (the
        // sender never does): from then on a round trip may fail, by design, but never panic.
        let mut sources = HashSet::new();
        for chunk in data.split(|&b| b == 0xa5) {
            let mut p = chunk.to_vec();
            let _ = rx.unprotect_rtp(&mut p);
            let mut p = chunk.to_vec();
            let _ = rx.unprotect_rtcp(&mut p);
            let mut p = chunk.to_vec();
            if tx.protect_rtp(&mut p).is_ok() {
                sources.insert(p[8..12].to_vec());
                let replay = p.clone();
                let unprotected = rx.unprotect_rtp(&mut p);
                if sources.len() <= MAX_STREAMS {
                    let n = unprotected.expect("ours unprotects");
                    assert_eq!(&p[..n], chunk);
                    assert!(rx.unprotect_rtp(&mut replay.clone()).is_err(), "a replay");
                }
            }
            let mut p = chunk.to_vec();
            if tx.protect_rtcp(&mut p).is_ok() {
                let replay = p.clone();
                let n = rx.unprotect_rtcp(&mut p).expect("ours unprotects");
                assert_eq!(&p[..n], chunk);
                assert!(rx.unprotect_rtcp(&mut replay.clone()).is_err(), "a replay");
            }
        }
    }
});
