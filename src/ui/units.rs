//! The one way acc shows a size to a person: binary units (KiB, MiB, GiB), as the progress
//! bars do. JSON and manifests carry bytes.

pub fn size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", b / (KIB * KIB * KIB))
    } else if bytes >= 1 << 20 {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.1} KiB", b / KIB)
    }
}

/// A rate in the same units.
pub fn rate(bytes: u64, seconds: f64) -> String {
    format!("{}/s", size((bytes as f64 / seconds.max(0.001)) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(size(512), "0.5 KiB");
        assert_eq!(size(3 << 20), "3.0 MiB");
        assert_eq!(size(5 << 30), "5.0 GiB");
        assert_eq!(rate(2 << 20, 2.0), "1.0 MiB/s");
    }
}
