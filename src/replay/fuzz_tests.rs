//! A fuzz test of the reading side: random bytes, and random mutations of valid files, never
//! panic, and every data line read is accounted for exactly once.

use super::clock;
use super::entry::{self, PaperKind};
use super::read;

/// xorshift64*: deterministic, so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const VALID: &[&str] = &[
    "visit_id,clock_in,clock_out,employee_number\r\n12,08:05,2026-11-22 09:10,E000005\r\n13,2026-11-01 01:30-04:00,,\r\n",
    "Visit,Task ID,Done,Comment\n12,44,yes,\"a, b\"\n12,45,no,\n",
    "visit_id,author,written_at,body\n12,E000005,2026-11-22T09:00,\"line one\nline two \"\"quoted\"\"\"\n",
    "\u{feff}Employee number,Visit,Clock in,Clock out,Tasks done,Note,Initials,Tasks\n E000005 ,12,08:00,09:00,44 45,ok,VL,\"44: Bath; 45: Walk\"\n",
];
const ALPHABET: &[u8] = b",\"\r\n \t;:-+0123456789abcxyzTZ\xC3\xA9\xE9\x00\xFF";

fn exercise(bytes: &[u8]) {
    let parsed = read::parse("fuzz.csv", bytes);
    if parsed.headers.is_empty() {
        assert!(parsed.lines.is_empty());
        assert_eq!(parsed.problems.len(), 1, "a refused file says why once");
        return;
    }
    assert_eq!(
        parsed.total as usize,
        parsed.lines.len() + parsed.problems.len(),
        "every data line is either read or refused"
    );
    let Ok(kind) = entry::kind_of(&parsed) else {
        return;
    };
    for raw in parsed.lines.iter().cloned() {
        let line = raw.line;
        match entry::record(raw, kind) {
            Ok(r) => {
                assert!(r.visit_id > 0);
                if kind == PaperKind::Sheet {
                    assert!(r.employee.is_some());
                }
            }
            Err(p) => {
                assert_eq!(p.line, line);
                assert!(p.column <= parsed.headers.len());
                assert!(!p.reason.is_empty());
            }
        }
    }
}

#[test]
fn random_bytes_never_panic_and_every_line_is_accounted_for() {
    let mut rng = Rng(0x5eed_acc0_0000_0001);
    for _ in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect();
        exercise(&bytes);
    }
}

#[test]
fn mutated_valid_files_never_panic_and_every_line_is_accounted_for() {
    let mut rng = Rng(0x5eed_acc0_0000_0002);
    for round in 0..4000 {
        let mut bytes = VALID[round % VALID.len()].as_bytes().to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(3) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                _ if at < bytes.len() => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
                _ => {}
            }
        }
        exercise(&bytes);
    }
}

#[test]
fn random_times_never_panic() {
    let mut rng = Rng(0x5eed_acc0_0000_0003);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    for _ in 0..20000 {
        let len = rng.below(30);
        let bytes: Vec<u8> = (0..len)
            .map(|_| b"0123456789:- TZ+\xC3\xA9"[rng.below(18)])
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(w) = clock::parse(&text) {
            let _ = clock::resolve(
                w,
                day,
                chrono_tz::America::Toronto,
                clock::Ambiguous::Refuse,
            );
        }
    }
    // a valid file's times all parse
    for t in [
        "08:05",
        "2026-11-22 09:10",
        "2026-11-01 01:30-04:00",
        "2026-11-22T09:00",
        "2026-11-22 09:00:30Z",
    ] {
        assert!(clock::parse(t).is_ok(), "{t}");
    }
}
