//! Exact fixed-point amounts.
//!
//! Values are kept as integers in units of `10^-decimals` (cents by default)
//! so that sums over millions of records are exact: no float drift between a
//! total and the sum of its parts, which the audit's equations rely on.

/// Parses a non-negative decimal into fixed-point units of `10^-decimals`.
///
/// Accepts `123`, `123.4`, `0.05`, and `123,4` when `comma` is true (decimal
/// comma, allowed with the `;` delimiter). Rejects signs other than a leading
/// `+`, exponents, thousands separators, and more fractional digits than
/// `decimals` (rounding would silently change a contributor's value).
pub fn parse_amount(text: &str, decimals: u32, comma: bool) -> Result<i64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("missing value".into());
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        return Err(format!("negative value '{text}'"));
    }
    let sep = |c: char| c == '.' || (comma && c == ',');
    let (int, frac) = match s.find(sep) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        let grouped =
            s.contains([' ', '\u{a0}', '\u{202f}', '\'']) || s.matches(['.', ',']).count() > 1;
        let hint = if grouped {
            " (write it without thousands separators, e.g. 1234.50)"
        } else {
            ""
        };
        return Err(format!("value '{text}' is not a number{hint}"));
    }
    if frac.len() > decimals as usize {
        return Err(format!(
            "value '{text}' has more than {decimals} decimal place(s)"
        ));
    }
    let too_big = || format!("value '{text}' is too large");
    let mut units: i64 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add((b - b'0') as i64))
            .ok_or_else(too_big)?;
    }
    for _ in frac.len()..decimals as usize {
        units = units.checked_mul(10).ok_or_else(too_big)?;
    }
    Ok(units)
}

/// Formats fixed-point units with exactly `decimals` fractional digits.
pub fn format_amount(units: i64, decimals: u32) -> String {
    if decimals == 0 {
        return units.to_string();
    }
    let scale = 10i64.pow(decimals);
    let sign = if units < 0 { "-" } else { "" };
    let u = units.unsigned_abs();
    let s = scale as u64;
    format!(
        "{sign}{}.{:0width$}",
        u / s,
        u % s,
        width = decimals as usize
    )
}

/// Formats a real bound (protection level, audit interval) given in units,
/// rounded outward to the unit grid so that a printed requirement is never
/// weaker than the computed one. `up` rounds towards +inf, otherwise -inf.
pub fn format_bound(units: f64, decimals: u32, up: bool) -> String {
    if units.is_infinite() {
        return if units > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    // Snap values within solver noise of a grid point before rounding.
    let snapped = units.round();
    let r = if (units - snapped).abs() < 1e-6 {
        snapped
    } else if up {
        units.ceil()
    } else {
        units.floor()
    };
    format_amount(r as i64, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points_and_commas() {
        assert_eq!(parse_amount("123", 2, false), Ok(12300));
        assert_eq!(parse_amount("123.4", 2, false), Ok(12340));
        assert_eq!(parse_amount(" 0.05 ", 2, false), Ok(5));
        assert_eq!(parse_amount(".5", 2, false), Ok(50));
        assert_eq!(parse_amount("7.", 2, false), Ok(700));
        assert_eq!(parse_amount("123,45", 2, true), Ok(12345));
        assert!(parse_amount("123,45", 2, false).is_err());
        assert_eq!(parse_amount("42", 0, false), Ok(42));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(parse_amount("", 2, false).unwrap_err().contains("missing"));
        assert!(parse_amount("-1", 2, false)
            .unwrap_err()
            .contains("negative"));
        assert!(parse_amount("1e3", 2, false).is_err());
        assert!(parse_amount("abc", 2, false).is_err());
        assert!(parse_amount(".", 2, false).is_err());
        assert!(parse_amount("1.234", 2, false)
            .unwrap_err()
            .contains("decimal"));
        assert!(parse_amount("99999999999999999999", 2, false)
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn formats() {
        assert_eq!(format_amount(12345, 2), "123.45");
        assert_eq!(format_amount(5, 2), "0.05");
        assert_eq!(format_amount(-5, 2), "-0.05");
        assert_eq!(format_amount(42, 0), "42");
        assert_eq!(format_bound(10.2, 2, true), "0.11");
        assert_eq!(format_bound(10.2, 2, false), "0.10");
        assert_eq!(format_bound(10.0000001, 2, true), "0.10");
        assert_eq!(format_bound(f64::INFINITY, 2, true), "inf");
    }
}
