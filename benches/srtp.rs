//! The cost of SRTP per G.711 packet (issue 25): one 172-byte RTP packet (12-byte header, 160
//! bytes of μ-law) built and read as the runtime does, plain and with protect + unprotect for
//! each suite, side by side. Figures go to BENCHMARKS.md with the command that produced them.

#![allow(missing_docs)] // criterion's macros generate undocumented functions.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ivrc::runtime::media::srtp::{Context, MasterKey, Suite};
use ivrc::runtime::media::{g711, rtp};

/// What the clock does to send a packet and the reader to take one in, without SRTP.
fn plain(seq: u16, frame: &[i16], packet: &mut Vec<u8>, payload: &mut Vec<u8>) -> i32 {
    g711::encode(frame, false, payload);
    rtp::Header {
        payload_type: 0,
        marker: false,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: 0x1234_5678,
    }
    .write(payload, packet);
    let p = rtp::parse(packet).expect("RTP");
    p.payload
        .iter()
        .map(|&b| i32::from(g711::ulaw_decode(b)))
        .sum()
}

fn bench(c: &mut Criterion) {
    let frame: Vec<i16> = (0..160).map(|i| (i * 97 % 2000) as i16 - 1000).collect();
    let mut group = c.benchmark_group("srtp_g711_packet");
    let (mut packet, mut payload) = (Vec::with_capacity(182), Vec::with_capacity(160));
    let mut seq = 0u16;
    group.bench_function("plain_rtp", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            black_box(plain(seq, black_box(&frame), &mut packet, &mut payload))
        })
    });
    for suite in Suite::ALL {
        let key = MasterKey::generate().expect("random");
        let (mut tx, mut rx) = (Context::new(suite, &key), Context::new(suite, &key));
        // The index runs on past the sequence number's wrap: the rollover counter moves.
        let mut index = 0u64;
        group.bench_function(format!("srtp_{}", suite.name()), |b| {
            b.iter(|| {
                index += 1;
                let sum = plain(index as u16, black_box(&frame), &mut packet, &mut payload);
                tx.protect_rtp(&mut packet).expect("protects");
                let n = rx.unprotect_rtp(&mut packet).expect("unprotects");
                black_box((sum, n))
            })
        });
        group.bench_function(format!("protect_unprotect_only_{}", suite.name()), |b| {
            let mut p = Vec::with_capacity(182);
            b.iter(|| {
                index += 1;
                rtp::Header {
                    payload_type: 0,
                    marker: false,
                    sequence: index as u16,
                    timestamp: 0,
                    ssrc: 1,
                }
                .write(&[0xd5; 160], &mut p);
                tx.protect_rtp(&mut p).expect("protects");
                black_box(rx.unprotect_rtp(&mut p).expect("unprotects"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
