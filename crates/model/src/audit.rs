//! Which page of the audit log to read (`GET /api/v1/audit?offset=&limit=&refused=`), shared
//! by the server (which pages) and the web app (which asks): newest first, `limit` entries from
//! `offset`, refused requests left out when `refused=false`. The answer is the page's entries
//! (a JSON array); its `X-Total-Count` header says how many match in all.

use crate::action::{AuditEntry, ResultStatus};

/// The most entries one page holds (the trail keeps 1000 acted and 1000 refused).
pub const LIMIT_MAX: usize = 2000;

/// The web app's page size.
pub const PAGE: usize = 50;

/// The header that carries how many entries match, whatever the page.
pub const TOTAL_HEADER: &str = "x-total-count";

/// A page of the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditQuery {
    pub offset: usize,
    pub limit: usize,
    /// Whether refused requests are included.
    pub refused: bool,
}

impl Default for AuditQuery {
    /// Everything: what the endpoint answered before it had pages.
    fn default() -> AuditQuery {
        AuditQuery { offset: 0, limit: LIMIT_MAX, refused: true }
    }
}

impl AuditQuery {
    /// Reads a query string; unknown parameters are ignored, bad values refused.
    pub fn parse(query: &str) -> Result<AuditQuery, String> {
        let mut q = AuditQuery::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || value.parse::<usize>().map_err(|_| format!("{key} must be a whole number, not {value:?}"));
            match key {
                "offset" => q.offset = number()?,
                "limit" => q.limit = number()?,
                "refused" => {
                    q.refused = match value {
                        "true" => true,
                        "false" => false,
                        other => return Err(format!("refused must be true or false, not {other:?}")),
                    }
                }
                _ => {}
            }
        }
        if q.limit == 0 || q.limit > LIMIT_MAX {
            return Err(format!("limit must be 1 to {LIMIT_MAX}"));
        }
        Ok(q)
    }

    /// The query string that [`AuditQuery::parse`] reads back.
    pub fn to_query(&self) -> String {
        format!("offset={}&limit={}&refused={}", self.offset, self.limit, self.refused)
    }

    /// The page of `entries` (newest first) and how many match in all.
    pub fn page(&self, entries: impl IntoIterator<Item = AuditEntry>) -> (Vec<AuditEntry>, usize) {
        let mut total = 0;
        let mut page = Vec::new();
        for e in entries.into_iter().filter(|e| self.refused || e.status != ResultStatus::Refused) {
            if total >= self.offset && page.len() < self.limit {
                page.push(e);
            }
            total += 1;
        }
        (page, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize, status: ResultStatus) -> AuditEntry {
        AuditEntry {
            time: format!("2026-12-01T10:{n:02}:00Z"),
            user: "ann".into(),
            groups: Vec::new(),
            action: None,
            target: None,
            token: None,
            status,
            message: format!("entry {n}"),
            reason: None,
        }
    }

    #[test]
    fn queries_read_back_and_bad_values_are_refused() {
        let q = AuditQuery { offset: 50, limit: 50, refused: false };
        assert_eq!(AuditQuery::parse(&q.to_query()), Ok(q));
        assert_eq!(AuditQuery::parse(""), Ok(AuditQuery::default()));
        assert_eq!(AuditQuery::parse("limit=10&other=x"), Ok(AuditQuery { limit: 10, ..AuditQuery::default() }));
        assert!(AuditQuery::parse("offset=-1").is_err());
        assert!(AuditQuery::parse("limit=0").is_err());
        assert!(AuditQuery::parse(&format!("limit={}", LIMIT_MAX + 1)).is_err());
        assert!(AuditQuery::parse("refused=maybe").is_err());
    }

    #[test]
    fn a_page_is_a_slice_of_what_matches_with_the_total() {
        let all: Vec<AuditEntry> =
            (0..7).map(|n| entry(n, if n % 3 == 0 { ResultStatus::Refused } else { ResultStatus::Accepted })).collect();
        let (page, total) = AuditQuery { offset: 2, limit: 3, refused: true }.page(all.clone());
        assert_eq!(
            (page.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), total),
            (vec!["entry 2", "entry 3", "entry 4"], 7)
        );
        let (page, total) = AuditQuery { offset: 2, limit: 3, refused: false }.page(all.clone());
        assert_eq!(
            (page.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), total),
            (vec!["entry 4", "entry 5"], 4)
        );
        let (page, total) = AuditQuery { offset: 10, limit: 3, refused: true }.page(all);
        assert!(page.is_empty() && total == 7, "past the end: nothing, and the total");
    }
}
