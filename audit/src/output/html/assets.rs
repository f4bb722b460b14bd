//! The page's fixed parts: its style sheet (`style.css`) and script (`script.js`), both inline
//! in the page, and the Content-Security-Policy that allows exactly those two, by hash.

/// Standard base64 (with padding), for the CSP hashes.
pub(super) fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(char::from(A[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn csp_hash(text: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    format!("'sha256-{}'", base64(d.as_ref()))
}

/// The page's Content-Security-Policy: nothing may load (no images, fonts, frames or
/// connections), only our own style and script apply (by hash), no forms, no base URL.
/// (`frame-ancestors` is not allowed in a `<meta>` policy: browsers ignore it there, with a
/// console error.)
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

/// The page's style sheet (inline in `<style>`; its hash is in the policy).
pub(super) const STYLE: &str = concat!("\n", include_str!("style.css"));

/// The page's script (inline in `<script>`; its hash is in the policy).
pub(super) const SCRIPT: &str = concat!("\n", include_str!("script.js"));
