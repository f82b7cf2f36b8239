//! An iCalendar (RFC 5545) event for a scheduled meeting, for "add to calendar".

use time::OffsetDateTime;
use time::macros::format_description;

use super::records::MeetingRow;

fn stamp(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// Escape TEXT values (RFC 5545 §3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Fold lines longer than 75 octets (RFC 5545 §3.1).
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
    out
}

/// The calendar file; instant meetings start at creation and last an hour.
pub fn calendar(row: &MeetingRow, link: &str, now_ms: i64) -> String {
    let start = row.starts_at.unwrap_or(row.created_at);
    let end = start + i64::from(row.duration_min.unwrap_or(60)) * 60_000;
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Convene//Meetings//EN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@convene", row.id),
        format!("DTSTAMP:{}", stamp(now_ms)),
        format!("DTSTART:{}", stamp(start)),
        format!("DTEND:{}", stamp(end)),
        format!("SUMMARY:{}", text(&row.title)),
        format!("DESCRIPTION:{}", text(&format!("Join: {link}"))),
        format!("URL:{link}"),
        format!("LOCATION:{}", text(link)),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ids::{MeetingId, WorkspaceId};

    #[test]
    fn calendar_has_the_schedule_escaped_and_folded() {
        let row = MeetingRow {
            id: MeetingId::new(),
            workspace_id: WorkspaceId::new(),
            code: "abc-defg-hjk".into(),
            title: "Plan; review, 周会".into(),
            created_by: None,
            channel_id: None,
            starts_at: Some(1_767_225_600_000),
            duration_min: Some(30),
            allow_guests: true,
            lobby: false,
            locked: false,
            max_participants: 50,
            created_at: 0,
            ended_at: None,
        };
        let link = format!("https://chat.example.com/m/abc-defg-hjk{}", "x".repeat(80));
        let ics = calendar(&row, &link, 0);
        assert!(ics.contains("DTSTART:20260101T000000Z\r\n"), "{ics}");
        assert!(ics.contains("DTEND:20260101T003000Z\r\n"));
        assert!(ics.contains("SUMMARY:Plan\\; review\\, 周会\r\n"));
        assert!(ics.lines().all(|l| l.len() <= 75), "{ics}");
        assert!(ics.contains("\r\n "), "long lines are folded");
    }
}
