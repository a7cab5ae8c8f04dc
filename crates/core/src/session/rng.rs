//! A tiny deterministic random source seeded by the shell: the machine itself has no source of
//! randomness, so tests reproduce every jitter and id.

/// xorshift64*: enough for backoff jitter and correlation ids, reproducible in tests.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is a fixed point of xorshift; any other constant will do.
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A random base-36 string of `len` characters (the official client's talk-stream ids).
    pub fn base36(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        (0..len)
            .map(|_| char::from(DIGITS[(self.next_u64() % 36) as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_floats_stay_in_range_and_ids_have_the_length() {
        let mut r = Rng::new(0);
        for _ in 0..1000 {
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        let id = r.base36(11);
        assert_eq!(id.len(), 11);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
