//! Deterministic randomness and id encodings for the catalog.
//!
//! Every value is derived by hashing (seed, kind, index, field), never from a shared stream, so
//! one artist's data does not depend on how many artists exist or in which order things are
//! generated. Ids are unique by construction: each embeds a bijective encoding of its key.

/// splitmix64's increment.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's finaliser. Every step (add, xor-shift, odd multiply) is invertible, so this is a
/// bijection on u64: distinct keys always give distinct outputs.
pub(crate) const fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A bijection on u32 (xor-shift and odd multiplies), used where ids are 32 bits wide.
pub(crate) const fn mix32(x: u32) -> u32 {
    let mut z = x;
    z ^= z >> 16;
    z = z.wrapping_mul(0x7feb_352d);
    z ^= z >> 15;
    z = z.wrapping_mul(0x846c_a68b);
    z ^ (z >> 16)
}

/// FNV-1a of a field name: a stable tag that keeps fields' streams apart.
pub(crate) const fn tag(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
        i += 1;
    }
    h
}

/// Hash of a seed and a path of parts.
pub(crate) fn hash(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix64(seed), |h, p| mix64(h ^ mix64(*p)))
}

/// A small deterministic stream (splitmix64), started from a hashed path.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, parts: &[u64]) -> Rng {
        Rng(hash(seed, parts))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }

    /// Uniform in `0..n` (`0` when `n == 0`). The modulo bias is irrelevant at these sizes.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub(crate) fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive.saturating_sub(lo) + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Index into weights, chosen with probability proportional to each weight.
    pub(crate) fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut r = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len().saturating_sub(1)
    }

    pub(crate) fn base62(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| BASE62[self.below(62) as usize] as char)
            .collect()
    }
}

pub(crate) const BASE62: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in base 62, exactly `width` digits (most significant first). Injective for
/// `n < 62^width`, so fixed-width encodings of distinct numbers never collide.
pub(crate) fn base62_fixed(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Decodes [`base62_fixed`]; `None` on a character outside the alphabet.
pub(crate) fn base62_decode(s: &str) -> Option<u64> {
    s.bytes().try_fold(0u64, |acc, c| {
        let d = BASE62.iter().position(|b| *b == c)? as u64;
        acc.checked_mul(62)?.checked_add(d)
    })
}

/// 11 base-62 digits hold any u64, so `base62_fixed(mix64(key ^ salt), 11)` is a unique
/// 11-character token per key.
pub(crate) const U64_BASE62_WIDTH: usize = 11;

pub(crate) fn unique_token(salt: u64, key: u64) -> String {
    base62_fixed(mix64(key ^ salt), U64_BASE62_WIDTH)
}

/// An affine permutation of `0..modulus`: `x -> (a*x + b) mod m`, a bijection when
/// `gcd(a, m) == 1`. Used for short ids (4 base-62 digits) that must stay unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Affine {
    a: u64,
    b: u64,
    m: u64,
}

impl Affine {
    /// `m = 62^4 = 2^4 * 31^4`, so any `a` that is odd and not a multiple of 31 is coprime.
    pub(crate) fn base62x4(seed: u64, salt: u64) -> Affine {
        let m = 62u64.pow(4);
        let mut rng = Rng::new(seed, &[salt]);
        let mut a = rng.below(m) | 1;
        while a.is_multiple_of(31) {
            a = (a + 2) % m;
        }
        Affine {
            a,
            b: rng.below(m),
            m,
        }
    }

    pub(crate) fn modulus(&self) -> u64 {
        self.m
    }

    pub(crate) fn apply(&self, x: u64) -> u64 {
        ((self.a as u128 * (x % self.m) as u128 + self.b as u128) % self.m as u128) as u64
    }

    /// The inverse map (for looking an index up from an id).
    pub(crate) fn invert(&self, y: u64) -> u64 {
        let inv = mod_inverse(self.a, self.m);
        let shifted = (y % self.m + self.m - self.b % self.m) % self.m;
        ((shifted as u128 * inv as u128) % self.m as u128) as u64
    }
}

/// Modular inverse by the extended Euclid algorithm (`a` and `m` coprime).
fn mod_inverse(a: u64, m: u64) -> u64 {
    let (mut old_r, mut r) = (a as i128, m as i128);
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    old_s.rem_euclid(m as i128) as u64
}

/// A hex id of 7 or 8 digits, unique per `key` (for `key < 2^32 - 2^24`): the key is shifted
/// into `[2^24, 2^32)` and permuted by cycle-walking, which keeps the permutation inside that
/// range, so the hex form never has fewer than 7 digits.
pub(crate) fn hex_id(salt: u32, key: u32) -> String {
    const LOW: u32 = 1 << 24;
    let start = key.wrapping_add(LOW);
    let perm = |x: u32| mix32(x ^ salt) ^ salt;
    // mix32(x ^ s) ^ s is a bijection; cycle-walking restricts it to [LOW, 2^32).
    let mut v = perm(start);
    while v < LOW {
        v = perm(v);
    }
    format!("{v:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        for n in [0u64, 1, 61, 62, 12_345, 62u64.pow(4) - 1] {
            assert_eq!(base62_decode(&base62_fixed(n, 4)), Some(n));
        }
        assert_eq!(base62_fixed(u64::MAX, U64_BASE62_WIDTH).len(), 11);
        assert_eq!(base62_decode(&base62_fixed(u64::MAX, 11)), Some(u64::MAX));
        let f = Affine::base62x4(7, 9);
        for x in [0u64, 1, 2, 999, 123_456] {
            assert_eq!(f.invert(f.apply(x)), x);
        }
    }

    #[test]
    fn hex_ids_are_seven_or_eight_digits_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for k in 0..200_000u32 {
            let id = hex_id(0xdead_beef, k);
            assert!((7..=8).contains(&id.len()), "{id}");
            assert!(seen.insert(id));
        }
    }
}
