//! `ln` and `exp` without libm: `f64::ln`/`exp` call libm's `log`/`exp`,
//! and linking libm into libgoheap.so would cost every preloaded process a
//! third of a MiB of resident pages for the two functions the sampler needs.
//! Both reduce the argument with its binary exponent and sum a short series
//! (error below 1e-14 relative, far finer than sampling needs).

const LN2: f64 = core::f64::consts::LN_2;

/// Natural logarithm of a positive, finite `x`.
pub fn ln(x: f64) -> f64 {
    debug_assert!(x > 0.0 && x.is_finite());
    // x = m·2^e with m in [1/√2, √2): then s = (m-1)/(m+1) is within ±0.172
    // and ln m = 2·atanh(s) = 2·(s + s³/3 + s⁵/5 + …).
    let (mut m, mut e) = split(x);
    if m > core::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    for k in 0..10 {
        sum += term / (2 * k + 1) as f64;
        term *= s2;
    }
    e as f64 * LN2 + 2.0 * sum
}

/// `e^x` for finite `x` (0 below the smallest normal result).
pub fn exp(x: f64) -> f64 {
    // x = k·ln2 + r with |r| ≤ ln2/2: e^x = 2^k·e^r, e^r by its Taylor series.
    let q = x / LN2;
    if q < -1022.0 {
        return 0.0;
    }
    if q > 1023.0 {
        return f64::INFINITY;
    }
    // Rounding by casts: `f64::round` may itself be a libm call.
    let k = if q >= 0.0 {
        (q + 0.5) as i64
    } else {
        (q - 0.5) as i64
    };
    let r = x - k as f64 * LN2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..18 {
        term *= r / n as f64;
        sum += term;
    }
    sum * f64::from_bits(((k + 1023) as u64) << 52)
}

/// `x = m·2^e` with `m` in [1, 2), for a positive normal or subnormal `x`.
fn split(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    if exponent == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = split(x * (1u64 << 54) as f64);
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1023u64 << 52));
    (m, exponent - 1023)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_matches_std_across_magnitudes() {
        // Both sides of the reduction's boundaries, 1/√2 and √2.
        use core::f64::consts::{FRAC_1_SQRT_2, SQRT_2};
        for &x in &[
            1e-300,
            1e-20,
            0.001,
            0.3,
            0.5,
            FRAC_1_SQRT_2,
            FRAC_1_SQRT_2 * 1.001,
            1.0,
            SQRT_2 * 0.999,
            SQRT_2,
            SQRT_2 * 1.001,
            2.0,
            10.0,
            1e10,
            5e-324,
        ] {
            let (a, b) = (ln(x), x.ln());
            assert!(
                (a - b).abs() <= 1e-13 * b.abs().max(1.0),
                "ln({x}) = {a}, std {b}"
            );
        }
    }

    #[test]
    fn exp_matches_std_across_magnitudes() {
        for &x in &[
            -745.0, -700.0, -20.0, -1.0, -0.5, -1e-9, 0.0, 0.3, 1.0, 5.0, 700.0,
        ] {
            let (a, b) = (exp(x), x.exp());
            assert!(
                (a - b).abs() <= 1e-13 * b.abs().max(1e-300),
                "exp({x}) = {a}, std {b}"
            );
        }
    }
}
