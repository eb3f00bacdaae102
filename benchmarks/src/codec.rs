//! Workload 7, serde formats for the process engine's messages: the candidates to replace
//! bincode 1 (unmaintained, RUSTSEC-2025-0141), all on one thread, no pool involved. Formats:
//! postcard (`to_allocvec` / `from_bytes`), MessagePack (rmp-serde `to_vec`: structs as arrays,
//! no field names / `from_slice`), CBOR (ciborium `into_writer` into a `Vec` / `from_reader`),
//! bitcode through serde (`serialize` / `deserialize`) and, for reference, JSON (serde_json
//! `to_vec` / `from_slice`), and the crate's own codec (`concurrent_futures::__private::codec`
//! `encode` / `decode`: postcard as the process engine calls it, with its error handling), to
//! show what the crate adds to postcard. Payloads:
//! - a small struct `Small { id: u64, name: String /* 12 chars */, score: f64, tags: Vec<u32>
//!   /* 3 items */, ok: bool }`;
//! - a `Vec<u64>` of 10,000 varied values (`i * 2654435761 % 2^40`);
//! - 1 MiB of pseudo-random bytes, as a plain `Vec<u8>` (a sequence of `u8`) and wrapped with
//!   `serde_bytes` (one byte string).
//!
//! For each format and payload: the encoded size in bytes, and the time of an encode (into a
//! fresh `Vec<u8>`), of a decode (into an owned value, dropped), and of a round trip (encode then
//! decode, timed together). Each time is one batch of calls sized to last about 4 ms (a single
//! call where one lasts longer), per call; formats interleaved within each repetition; the median
//! over 31 repetitions (3 under `--quick`, 0.5 ms batches). Every decoded value is checked
//! against the original before timing. "× best" is the round trip's ratio to the fastest format
//! of the payload, "× smallest" the size's ratio to the smallest encoding.

use std::hint::black_box;
use std::time::Instant;

use concurrent_futures::__private::codec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::measure::median;
use crate::report::{num, ratios, repetitions, Section, Table};
use crate::Config;

/// A serde format under test.
#[derive(Clone, Copy, PartialEq)]
enum Format {
    Postcard,
    MessagePack,
    Cbor,
    Bitcode,
    Json,
    Crate,
}

impl Format {
    const ALL: [Format; 6] = [
        Format::Postcard,
        Format::MessagePack,
        Format::Cbor,
        Format::Bitcode,
        Format::Json,
        Format::Crate,
    ];

    fn label(self) -> &'static str {
        match self {
            Format::Postcard => "postcard",
            Format::MessagePack => "rmp-serde (MessagePack)",
            Format::Cbor => "ciborium (CBOR)",
            Format::Bitcode => "bitcode (serde)",
            Format::Json => "serde_json (reference)",
            Format::Crate => "the crate's codec (postcard)",
        }
    }

    /// The crate's name in `Cargo.lock`.
    fn krate(self) -> &'static str {
        match self {
            Format::Postcard => "postcard",
            Format::MessagePack => "rmp-serde",
            Format::Cbor => "ciborium",
            Format::Bitcode => "bitcode",
            Format::Json => "serde_json",
            Format::Crate => "concurrent-futures",
        }
    }

    fn encode<T: Serialize>(self, v: &T) -> Vec<u8> {
        match self {
            Format::Postcard => postcard::to_allocvec(v).expect("postcard encode"),
            Format::MessagePack => rmp_serde::to_vec(v).expect("rmp-serde encode"),
            Format::Cbor => {
                let mut out = Vec::new();
                ciborium::into_writer(v, &mut out).expect("ciborium encode");
                out
            }
            Format::Bitcode => bitcode::serialize(v).expect("bitcode encode"),
            Format::Json => serde_json::to_vec(v).expect("serde_json encode"),
            Format::Crate => codec::encode(v).expect("the crate's codec encode"),
        }
    }

    fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> T {
        match self {
            Format::Postcard => postcard::from_bytes(bytes).expect("postcard decode"),
            Format::MessagePack => rmp_serde::from_slice(bytes).expect("rmp-serde decode"),
            Format::Cbor => ciborium::from_reader(bytes).expect("ciborium decode"),
            Format::Bitcode => bitcode::deserialize(bytes).expect("bitcode decode"),
            Format::Json => serde_json::from_slice(bytes).expect("serde_json decode"),
            Format::Crate => codec::decode(bytes).expect("the crate's codec decode"),
        }
    }
}

/// Payload (a): a small message.
#[derive(Serialize, Deserialize, PartialEq, Clone)]
struct Small {
    id: u64,
    name: String,
    score: f64,
    tags: Vec<u32>,
    ok: bool,
}

/// Payload (c), the `serde_bytes` variant: one byte string instead of a sequence of `u8`.
#[derive(Serialize, Deserialize, PartialEq)]
struct Blob(#[serde(with = "serde_bytes")] Vec<u8>);

/// 1 MiB of xorshift64 output: every byte value, no runs.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect()
}

/// What one format did with one payload: medians in nanoseconds per call.
struct Cell {
    bytes: usize,
    encode: f64,
    decode: f64,
    round_trip: f64,
}

/// Nanoseconds per call of `op`, over a batch of `n` calls.
fn per_call(n: usize, op: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        op();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// The batch size that makes one sample of `op` last about `target_ns` (at least 1 call).
fn batch_for(target_ns: f64, op: &mut dyn FnMut()) -> usize {
    op(); // warm-up: faults in the code and the allocator's pages
    let mut n = 1;
    loop {
        let t = per_call(n, op);
        if t * n as f64 >= target_ns / 4.0 || n >= 1 << 24 {
            return ((target_ns / t.max(1.0)) as usize).clamp(1, 1 << 24);
        }
        n *= 4;
    }
}

/// Measures every format on `value`.
fn payload<T: Serialize + DeserializeOwned + PartialEq>(
    name: &str,
    value: &T,
    reps: usize,
    target_ns: f64,
) -> Vec<Cell> {
    let encoded: Vec<Vec<u8>> = Format::ALL.iter().map(|f| f.encode(value)).collect();
    for (f, b) in Format::ALL.iter().zip(&encoded) {
        assert!(
            f.decode::<T>(b) == *value,
            "{} does not round-trip the {name}",
            f.label()
        );
    }
    // Per format: encode, decode, round trip.
    let mut ops: Vec<[Box<dyn FnMut() + '_>; 3]> = Format::ALL
        .iter()
        .zip(&encoded)
        .map(|(&f, b)| -> [Box<dyn FnMut()>; 3] {
            [
                Box::new(move || {
                    black_box(f.encode(black_box(value)));
                }),
                Box::new(move || {
                    black_box(f.decode::<T>(black_box(b)));
                }),
                Box::new(move || {
                    black_box(f.decode::<T>(&f.encode(black_box(value))));
                }),
            ]
        })
        .collect();
    let batches: Vec<[usize; 3]> = ops
        .iter_mut()
        .map(|o| o.each_mut().map(|op| batch_for(target_ns, op.as_mut())))
        .collect();
    let mut samples: Vec<[Vec<f64>; 3]> = (0..ops.len()).map(|_| Default::default()).collect();
    for rep in 0..reps {
        for (i, o) in ops.iter_mut().enumerate() {
            for (k, op) in o.iter_mut().enumerate() {
                samples[i][k].push(per_call(batches[i][k], op.as_mut()));
            }
        }
        let line: Vec<String> = Format::ALL
            .iter()
            .zip(&samples)
            .map(|(f, s)| format!("{} {:.0} ns", f.krate(), s[2].last().unwrap()))
            .collect();
        eprintln!("codec: rep {} {name}: {}", rep + 1, line.join(", "));
    }
    encoded
        .iter()
        .zip(&samples)
        .map(|(b, s)| Cell {
            bytes: b.len(),
            encode: median(&s[0]),
            decode: median(&s[1]),
            round_trip: median(&s[2]),
        })
        .collect()
}

/// A time in the table's unit: ns below 10 µs for the fastest format, else µs.
struct Unit {
    micros: bool,
}

impl Unit {
    fn for_best(best_ns: f64) -> Self {
        Unit {
            micros: best_ns >= 10_000.0,
        }
    }
    fn name(&self) -> &'static str {
        if self.micros {
            "µs"
        } else {
            "ns"
        }
    }
    fn show(&self, ns: f64) -> String {
        if self.micros {
            num(ns / 1000.0, 1)
        } else {
            num(ns, 0)
        }
    }
}

fn geo_mean(xs: &[f64]) -> f64 {
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

/// Index of the smallest of `xs`.
fn argmin(xs: &[f64]) -> usize {
    (0..xs.len())
        .min_by(|&a, &b| xs[a].total_cmp(&xs[b]))
        .unwrap_or(0)
}

pub fn run(cfg: &Config) -> Section {
    let reps = cfg.reps(31, 3);
    let target_ns = if cfg.quick { 500_000.0 } else { 4_000_000.0 };
    const N_U64: u64 = 10_000;
    const BLOB: usize = 1 << 20;

    let small = Small {
        id: 1_234_567,
        name: "worker-07/eu".into(),
        score: 97.25,
        tags: vec![7, 300, 70_000],
        ok: true,
    };
    let numbers: Vec<u64> = (0..N_U64)
        .map(|i| i.wrapping_mul(2_654_435_761) % (1 << 40))
        .collect();
    let bytes = random_bytes(BLOB);
    let blob = Blob(bytes.clone());

    // (table title, short name, cells)
    let payloads: Vec<(&str, &str, Vec<Cell>)> = vec![
        (
            "small struct",
            "small",
            payload("small struct", &small, reps, target_ns),
        ),
        (
            "`Vec<u64>`, 10,000 items",
            "`Vec<u64>`",
            payload("Vec<u64>", &numbers, reps, target_ns),
        ),
        (
            "`Vec<u8>`, 1 MiB, plain",
            "`Vec<u8>`",
            payload("plain Vec<u8>", &bytes, reps, target_ns),
        ),
        (
            "`Vec<u8>`, 1 MiB, `serde_bytes`",
            "`serde_bytes`",
            payload("serde_bytes", &blob, reps, target_ns),
        ),
    ];

    let mut tables = Vec::new();
    // Per format: round trip × best and size × smallest, per payload.
    let mut time_ratio: Vec<Vec<f64>> = vec![Vec::new(); Format::ALL.len()];
    let mut size_ratio: Vec<Vec<f64>> = vec![Vec::new(); Format::ALL.len()];
    let mut fastest = Vec::new();
    let mut smallest = Vec::new();
    for (name, _, cells) in &payloads {
        let rt: Vec<f64> = cells.iter().map(|c| c.round_trip).collect();
        let sizes: Vec<f64> = cells.iter().map(|c| c.bytes as f64).collect();
        let (best_t, best_s) = (argmin(&rt), argmin(&sizes));
        fastest.push(best_t);
        smallest.push(best_s);
        for i in 0..cells.len() {
            time_ratio[i].push(rt[i] / rt[best_t]);
            size_ratio[i].push(sizes[i] / sizes[best_s]);
        }
        let unit = Unit::for_best(rt[best_t]);
        let u = unit.name();
        let header = [
            name.to_string(),
            "bytes".into(),
            "× smallest".into(),
            format!("encode {u}"),
            format!("decode {u}"),
            format!("round trip {u}"),
            "× best".into(),
        ];
        let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
        let time_x = ratios(&rt.iter().copied().map(Some).collect::<Vec<_>>());
        let size_x = ratios(&sizes.iter().copied().map(Some).collect::<Vec<_>>());
        for (i, c) in cells.iter().enumerate() {
            t.row(vec![
                Format::ALL[i].label().into(),
                num(c.bytes as f64, 0),
                size_x[i].clone(),
                unit.show(c.encode),
                unit.show(c.decode),
                unit.show(c.round_trip),
                time_x[i].clone(),
            ]);
        }
        tables.push(t);
    }

    // Summary: geometric means over the payloads; balance = their product (lower is better).
    let gm_time: Vec<f64> = time_ratio.iter().map(|v| geo_mean(v)).collect();
    let gm_size: Vec<f64> = size_ratio.iter().map(|v| geo_mean(v)).collect();
    let balance: Vec<f64> = gm_time.iter().zip(&gm_size).map(|(t, s)| t * s).collect();
    let best_balance = argmin(&balance);
    let mut header: Vec<String> = vec!["summary (× best round trip)".into()];
    header.extend(payloads.iter().map(|(_, short, _)| short.to_string()));
    header.extend([
        "time, geo-mean".into(),
        "size, geo-mean".into(),
        "balance".into(),
        "".into(),
    ]);
    let mut summary = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, f) in Format::ALL.iter().enumerate() {
        let mut row = vec![f.label().to_string()];
        row.extend(time_ratio[i].iter().map(|r| format!("{r:.2}")));
        row.extend([
            format!("{:.2}", gm_time[i]),
            format!("{:.2}", gm_size[i]),
            format!("{:.2}", balance[i]),
            if i == best_balance {
                "**best balance**".into()
            } else {
                "".into()
            },
        ]);
        summary.row(row);
    }
    tables.push(summary);

    let label = |i: usize| Format::ALL[i].label();
    let per_payload = payloads
        .iter()
        .enumerate()
        .map(|(p, (_, short, _))| {
            format!(
                "{short}: fastest {}, smallest {}",
                label(fastest[p]),
                label(smallest[p])
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let worst = (0..Format::ALL.len())
        .map(|i| {
            let p = (0..payloads.len())
                .max_by(|&a, &b| time_ratio[i][a].total_cmp(&time_ratio[i][b]))
                .unwrap_or(0);
            format!("{} {:.2}× ({})", label(i), time_ratio[i][p], payloads[p].1)
        })
        .collect::<Vec<_>>()
        .join("; ");
    let pc = Format::ALL
        .iter()
        .position(|&f| f == Format::Postcard)
        .expect("postcard is a candidate");
    let pc_times = time_ratio[pc]
        .iter()
        .map(|r| format!("{r:.2}×"))
        .collect::<Vec<_>>()
        .join(", ");
    let pc_sizes = size_ratio[pc]
        .iter()
        .map(|r| format!("{r:.2}×"))
        .collect::<Vec<_>>()
        .join(", ");
    // "Clearly faster": a round trip at least 1.5× postcard's speed.
    let beaten: Vec<String> = (0..payloads.len())
        .filter(|&p| time_ratio[pc][p] >= 1.5)
        .map(|p| {
            format!(
                "{} is {:.2}× faster on {}",
                label(fastest[p]),
                time_ratio[pc][p],
                payloads[p].1
            )
        })
        .collect();
    let rivals: Vec<String> = (0..Format::ALL.len())
        .filter(|&i| i != pc && gm_time[pc] / gm_time[i] >= 1.5)
        .map(|i| format!("{} ({:.2}×)", label(i), gm_time[pc] / gm_time[i]))
        .collect();
    let verdict = format!(
        "{} On the geometric mean over the four payloads {}; {} has the best balance.",
        if beaten.is_empty() {
            "No format is 1.5× faster than postcard on any payload.".to_string()
        } else {
            format!("Where postcard is clearly beaten: {}.", beaten.join("; "))
        },
        if rivals.is_empty() {
            "no format is 1.5× faster than postcard".to_string()
        } else {
            format!(
                "faster than postcard by 1.5× or more: {}",
                rivals.join(", ")
            )
        },
        label(best_balance)
    );
    let varint = payloads[1].2[pc].bytes as f64 / N_U64 as f64;
    let faster_u64: Vec<String> = (0..Format::ALL.len())
        .filter(|&i| time_ratio[i][1] < time_ratio[pc][1])
        .map(|i| {
            format!(
                "{} ({:.2}×)",
                label(i),
                time_ratio[pc][1] / time_ratio[i][1]
            )
        })
        .collect();

    let notes = vec![
        format!("Per payload — {per_payload}."),
        format!(
            "postcard's round trip is {pc_times} the fastest's (in the order of the tables), its \
             size {pc_sizes} the smallest's. {verdict}"
        ),
        format!("Each format's worst round trip, × best: {worst}."),
        format!(
            "postcard writes every integer wider than a byte as a varint ({varint:.2} bytes \
             per value for the `Vec<u64>`); MessagePack and CBOR write one of 2^32 or more in 9 \
             bytes, bitcode's serde path in 8. The varints make postcard's encoding the \
             smallest; faster than postcard on that payload: {}.",
            if faster_u64.is_empty() {
                "none".to_string()
            } else {
                faster_u64.join(", ")
            }
        ),
        "Balance = (geometric mean over the four payloads of × best round trip) × (geometric \
         mean of × smallest size); lower is better, 1.00 would be fastest and smallest \
         everywhere."
            .into(),
        "postcard has a documented wire format, stable since 1.0; bitcode lists a format stable \
         across major versions as a non-goal (enough between the processes of one binary, not \
         for anything stored). MessagePack is written without field names (`to_vec`), CBOR and \
         JSON are self-describing and write them."
            .into(),
        "Without `serde_bytes` a `Vec<u8>` is a sequence of `u8`, element by element; wrapping \
         it makes it one byte string (a length and a copy) in every format but JSON, which \
         writes an array of numbers either way."
            .into(),
    ];

    let versions =
        crate::peers::crate_versions(&Format::ALL.iter().map(|f| f.krate()).collect::<Vec<_>>());
    Section {
        group: "codec",
        title: "7. Serde formats for the process engine's messages".into(),
        workload: format!(
            "The candidates to replace bincode 1 (unmaintained, RUSTSEC-2025-0141), on one \
             thread: {versions}. Payloads: a small struct `{{ id: u64, name: String (12 chars), \
             score: f64, tags: Vec<u32> (3), ok: bool }}`; a `Vec<u64>` of {} varied values \
             (`i · 2654435761 mod 2^40`); {} MiB of pseudo-random bytes as a plain `Vec<u8>` \
             and with `serde_bytes`. Encode into a fresh `Vec<u8>`, decode into an owned value, \
             and the round trip (both, timed together), each in batches of about {} ms per \
             sample, formats interleaved; medians over {}. Every format's decoded value is \
             checked against the original. postcard `to_allocvec`/`from_bytes`; rmp-serde \
             `to_vec`/`from_slice`; ciborium `into_writer`/`from_reader`; bitcode \
             `serialize`/`deserialize`; serde_json `to_vec`/`from_slice`.",
            num(N_U64 as f64, 0),
            BLOB >> 20,
            target_ns / 1e6,
            repetitions(reps)
        ),
        load: String::new(),
        tables,
        notes,
    }
}
