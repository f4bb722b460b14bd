//! Times: the history stores Unix milliseconds (UTC); people see them in their local zone (`TZ`,
//! else `/etc/localtime`), machines get RFC 3339 with the local offset.

use chrono::{DateTime, Local, TimeZone as _, Utc};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn local_time(ms: i64) -> Option<DateTime<Local>> {
    Local.timestamp_millis_opt(ms).single()
}

/// `2026-11-30 22:15` in the local zone (with seconds when `seconds`).
pub fn local(ms: i64) -> String {
    local_time(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

/// `2026-11-30 22:15:03 +01:00` in the local zone: for tables where runs minutes apart matter.
pub fn local_long(ms: i64) -> String {
    local_time(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
    )
}

/// RFC 3339 with the local offset, to the millisecond, for `--format json`.
pub fn rfc3339(ms: i64) -> String {
    local_time(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
    )
}

/// `20261130T221503Z`: UTC, compact, for run ids.
pub fn utc_compact(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().map_or_else(
        || ms.to_string(),
        |t| t.format("%Y%m%dT%H%M%SZ").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(utc_compact(0), "19700101T000000Z");
        let r = rfc3339(1_000);
        assert_eq!(
            DateTime::parse_from_rfc3339(&r).unwrap().timestamp_millis(),
            1_000,
            "{r}"
        );
        assert_eq!(local(0).len(), "1970-01-01 00:00".len());
        assert!(now_ms() > 1_700_000_000_000);
    }
}
