//! When a cadence runs: a tenant-local time on chosen days, mapped to UTC
//! instants with one run per local date whatever DST does (docs/chasing.md).
//!
//! Rules:
//! - Days of the week and days of the month, when both are given, must both
//!   match (AND), so "weekdays, on the 1st and 15th" means exactly that.
//! - A day of the month past the month's end (29–31) means the month's last
//!   day, so "31" is month-end rather than skipping short months.
//! - A run time that does not exist locally (spring-forward gap) runs at the
//!   next minute that does; one that exists twice (fall-back overlap) runs at
//!   the first. Each local date maps to exactly one instant, so DST can never
//!   double or skip a day.

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How far a search for the next run goes before giving up. Any combination
/// of a weekday and a day of the month recurs well within this.
const SEARCH_DAYS: u64 = 3 * 366;

/// A tenant-local time of day at minute precision, written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunAt(NaiveTime);

impl RunAt {
    /// Exactly `HH:MM`, 00:00 to 23:59.
    pub fn parse(raw: &str) -> Option<Self> {
        let bytes = raw.as_bytes();
        let shape_ok = bytes.len() == 5
            && bytes.iter().enumerate().all(|(i, b)| {
                if i == 2 {
                    *b == b':'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !shape_ok {
            return None;
        }
        let hour: u32 = raw.get(0..2)?.parse().ok()?;
        let minute: u32 = raw.get(3..5)?.parse().ok()?;
        Self::new(hour, minute)
    }

    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(Self)
    }

    pub fn time(self) -> NaiveTime {
        self.0
    }
}

impl fmt::Display for RunAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

impl Serialize for RunAt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunAt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        RunAt::parse(&raw).ok_or_else(|| serde::de::Error::custom("run_at must be HH:MM"))
    }
}

/// A day of the week, written `mon` … `sun` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayOfWeek(u8);

impl DayOfWeek {
    const NAMES: [&'static str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    pub fn from_weekday(day: Weekday) -> Self {
        Self(day.num_days_from_monday() as u8)
    }

    pub fn weekday(self) -> Weekday {
        match self.0 {
            0 => Weekday::Mon,
            1 => Weekday::Tue,
            2 => Weekday::Wed,
            3 => Weekday::Thu,
            4 => Weekday::Fri,
            5 => Weekday::Sat,
            _ => Weekday::Sun,
        }
    }

    /// `mon`, `Monday`, `MON`… (English names, any case, short or full).
    pub fn parse(raw: &str) -> Option<Self> {
        raw.trim().parse::<Weekday>().ok().map(Self::from_weekday)
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[usize::from(self.0.min(6))]
    }
}

impl Serialize for DayOfWeek {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DayOfWeek {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        DayOfWeek::parse(&raw).ok_or_else(|| serde::de::Error::custom("not a day of the week"))
    }
}

/// A cadence's timing, stored on the cadence. Empty day lists mean every day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    pub run_at: RunAt,
    #[serde(default)]
    pub days_of_week: Vec<DayOfWeek>,
    /// 1 to 31.
    #[serde(default)]
    pub days_of_month: Vec<u8>,
}

impl Timing {
    pub fn daily(run_at: RunAt) -> Self {
        Self {
            run_at,
            days_of_week: Vec::new(),
            days_of_month: Vec::new(),
        }
    }
}

/// One run: the tenant-local date it belongs to and the instant it happens.
/// The date is what ages are measured on, even when a DST gap pushes the
/// instant past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunSlot {
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
}

/// A cadence's timing in a tenant's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    run_at: RunAt,
    days_of_week: [bool; 7],
    any_weekday: bool,
    days_of_month: [bool; 32],
    any_day_of_month: bool,
    zone: Tz,
}

impl Schedule {
    pub fn new(timing: &Timing, zone: Tz) -> Self {
        let mut days_of_week = [false; 7];
        for day in &timing.days_of_week {
            days_of_week[usize::from(day.0.min(6))] = true;
        }
        let mut days_of_month = [false; 32];
        for &day in &timing.days_of_month {
            if let Some(slot) = days_of_month.get_mut(usize::from(day)) {
                *slot = true;
            }
        }
        Self {
            run_at: timing.run_at,
            days_of_week,
            any_weekday: timing.days_of_week.is_empty(),
            days_of_month,
            any_day_of_month: timing.days_of_month.is_empty(),
            zone,
        }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The tenant-local date of an instant.
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.zone).date_naive()
    }

    pub fn runs_on(&self, date: NaiveDate) -> bool {
        let weekday_ok =
            self.any_weekday || self.days_of_week[date.weekday().num_days_from_monday() as usize];
        weekday_ok && (self.any_day_of_month || self.month_day_matches(date))
    }

    fn month_day_matches(&self, date: NaiveDate) -> bool {
        let day = date.day() as usize;
        if self.days_of_month[day] {
            return true;
        }
        // On a month's last day, days past its end (e.g. 31 in April) match too.
        let last = date
            .checked_add_days(Days::new(1))
            .is_some_and(|next| next.month() != date.month());
        last && self.days_of_month[day + 1..].iter().any(|&d| d)
    }

    /// The instant of the run on `date`, if the cadence runs that day.
    pub fn run_on(&self, date: NaiveDate) -> Option<RunSlot> {
        if !self.runs_on(date) {
            return None;
        }
        self.resolve(date.and_time(self.run_at.time()))
            .map(|at| RunSlot { date, at })
    }

    /// The first existing local minute at or after `local`: DST gaps move
    /// forward, overlaps take the first occurrence.
    fn resolve(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut candidate = local;
        // Real gaps are at most a few hours; a day bounds the search.
        for _ in 0..=24 * 60 {
            if let Some(at) = self.zone.from_local_datetime(&candidate).earliest() {
                return Some(at.with_timezone(&Utc));
            }
            candidate = candidate.checked_add_signed(chrono::TimeDelta::minutes(1))?;
        }
        None
    }

    /// The first run strictly after `instant`.
    pub fn next_run_after(&self, instant: DateTime<Utc>) -> Option<RunSlot> {
        self.first_run_from(self.local_date(instant).pred_opt()?, instant)
    }

    /// The first run on `date` or later that is also strictly after `after`.
    pub fn first_run_from(&self, date: NaiveDate, after: DateTime<Utc>) -> Option<RunSlot> {
        let mut day = date;
        for _ in 0..SEARCH_DAYS {
            if let Some(slot) = self.run_on(day).filter(|s| s.at > after) {
                return Some(slot);
            }
            day = day.succ_opt()?;
        }
        None
    }

    /// The latest run at or before `instant`: the one a late or repeated
    /// evaluation catches up on.
    pub fn last_run_at_or_before(&self, instant: DateTime<Utc>) -> Option<RunSlot> {
        let mut day = self.local_date(instant).succ_opt()?;
        for _ in 0..SEARCH_DAYS {
            if let Some(slot) = self.run_on(day).filter(|s| s.at <= instant) {
                return Some(slot);
            }
            day = day.pred_opt()?;
        }
        None
    }

    /// Every run in `(from, to]`, in order.
    pub fn runs_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = RunSlot> + '_ {
        let mut cursor = from;
        std::iter::from_fn(move || {
            let slot = self.next_run_after(cursor).filter(|s| s.at <= to)?;
            cursor = slot.at;
            Some(slot)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn daily(hh_mm: &str, zone: Tz) -> Schedule {
        Schedule::new(&Timing::daily(RunAt::parse(hh_mm).unwrap()), zone)
    }

    fn days(schedule: &Schedule, from: &str, to: &str) -> Vec<RunSlot> {
        schedule.runs_between(utc(from), utc(to)).collect()
    }

    fn assert_one_run_per_day(runs: &[RunSlot]) {
        for pair in runs.windows(2) {
            assert_eq!(pair[0].date.succ_opt().unwrap(), pair[1].date, "{pair:?}");
            assert!(pair[0].at < pair[1].at);
        }
    }

    #[test]
    fn run_at_is_strict_hh_mm() {
        assert_eq!(RunAt::parse("07:05").unwrap().to_string(), "07:05");
        for bad in [
            "7:05", "24:00", "07:60", "0705", "07:05:00", "+7:05", "ab:cd",
        ] {
            assert!(RunAt::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn new_york_spring_forward_gap_runs_at_the_next_valid_minute() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
        let schedule = daily("02:30", chrono_tz::America::New_York);
        let runs = days(&schedule, "2026-03-06T00:00:00Z", "2026-03-10T23:59:00Z");
        assert_eq!(runs.len(), 5);
        assert_one_run_per_day(&runs);
        let gap = runs.iter().find(|r| r.date == date("2026-03-08")).unwrap();
        assert_eq!(gap.at, utc("2026-03-08T07:00:00Z")); // 03:00 EDT
        let before = runs.iter().find(|r| r.date == date("2026-03-07")).unwrap();
        assert_eq!(before.at, utc("2026-03-07T07:30:00Z")); // 02:30 EST
        let after = runs.iter().find(|r| r.date == date("2026-03-09")).unwrap();
        assert_eq!(after.at, utc("2026-03-09T06:30:00Z")); // 02:30 EDT
    }

    #[test]
    fn new_york_fall_back_overlap_runs_once_at_the_first_occurrence() {
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let schedule = daily("01:30", chrono_tz::America::New_York);
        let runs = days(&schedule, "2026-10-30T00:00:00Z", "2026-11-03T23:59:00Z");
        assert_eq!(runs.len(), 5);
        assert_one_run_per_day(&runs);
        let overlap = runs.iter().find(|r| r.date == date("2026-11-01")).unwrap();
        assert_eq!(overlap.at, utc("2026-11-01T05:30:00Z")); // 01:30 EDT, not EST
                                                             // Asking again after the first occurrence does not find a second one.
        let next = schedule.next_run_after(overlap.at).unwrap();
        assert_eq!(next.date, date("2026-11-02"));
        assert_eq!(next.at, utc("2026-11-02T06:30:00Z"));
    }

    #[test]
    fn ordinary_times_keep_their_local_hour_across_both_changes() {
        let schedule = daily("09:00", chrono_tz::America::New_York);
        let runs = days(&schedule, "2026-01-01T00:00:00Z", "2026-12-31T23:59:00Z");
        assert_eq!(runs.len(), 365);
        assert_one_run_per_day(&runs);
        for run in &runs {
            let local = run.at.with_timezone(&chrono_tz::America::New_York);
            assert_eq!((local.hour(), local.minute()), (9, 0));
            assert_eq!(local.date_naive(), run.date);
        }
    }

    #[test]
    fn london_changes_are_handled_the_same_way() {
        // 2026-03-29: 01:00 GMT jumps to 02:00 BST; 2026-10-25: 02:00 BST back to 01:00 GMT.
        let schedule = daily("01:15", chrono_tz::Europe::London);
        let spring = days(&schedule, "2026-03-27T12:00:00Z", "2026-03-31T12:00:00Z");
        assert_eq!(spring.len(), 4);
        assert_one_run_per_day(&spring);
        let gap = spring
            .iter()
            .find(|r| r.date == date("2026-03-29"))
            .unwrap();
        assert_eq!(gap.at, utc("2026-03-29T01:00:00Z")); // 02:00 BST
        let autumn = days(&schedule, "2026-10-23T12:00:00Z", "2026-10-27T12:00:00Z");
        assert_eq!(autumn.len(), 4);
        assert_one_run_per_day(&autumn);
        let overlap = autumn
            .iter()
            .find(|r| r.date == date("2026-10-25"))
            .unwrap();
        assert_eq!(overlap.at, utc("2026-10-25T00:15:00Z")); // 01:15 BST
        let whole_year = days(
            &daily("09:00", chrono_tz::Europe::London),
            "2026-01-01T00:00:00Z",
            "2026-12-31T23:00:00Z",
        );
        assert_eq!(whole_year.len(), 365);
    }

    #[test]
    fn weekdays_and_month_days_must_both_match() {
        let timing = Timing {
            run_at: RunAt::parse("08:00").unwrap(),
            days_of_week: ["mon", "tue", "wed", "thu", "fri"]
                .iter()
                .map(|d| DayOfWeek::parse(d).unwrap())
                .collect(),
            days_of_month: vec![1, 15],
        };
        let schedule = Schedule::new(&timing, Tz::UTC);
        let runs: Vec<NaiveDate> = days(&schedule, "2026-01-01T00:00:00Z", "2026-03-31T23:00:00Z")
            .into_iter()
            .map(|r| r.date)
            .collect();
        // Feb 1, Feb 15, Mar 1 and Mar 15 2026 are Sundays.
        assert_eq!(runs, [date("2026-01-01"), date("2026-01-15")]);
    }

    #[test]
    fn day_31_means_month_end() {
        let timing = Timing {
            run_at: RunAt::parse("08:00").unwrap(),
            days_of_week: vec![],
            days_of_month: vec![31],
        };
        let schedule = Schedule::new(&timing, Tz::UTC);
        let runs: Vec<NaiveDate> = days(&schedule, "2026-01-01T00:00:00Z", "2026-05-01T00:00:00Z")
            .into_iter()
            .map(|r| r.date)
            .collect();
        assert_eq!(
            runs,
            [
                date("2026-01-31"),
                date("2026-02-28"),
                date("2026-03-31"),
                date("2026-04-30")
            ]
        );
    }

    #[test]
    fn last_run_finds_the_one_to_catch_up() {
        let schedule = daily("09:00", chrono_tz::Europe::London);
        let slot = schedule
            .last_run_at_or_before(utc("2026-06-10T07:00:00Z"))
            .unwrap();
        assert_eq!(slot.date, date("2026-06-09"));
        let slot = schedule
            .last_run_at_or_before(utc("2026-06-10T08:00:00Z"))
            .unwrap();
        assert_eq!(slot.date, date("2026-06-10"));
        assert_eq!(slot.at, utc("2026-06-10T08:00:00Z"));
    }

    #[test]
    fn days_of_week_serialize_short() {
        let day = DayOfWeek::parse("Saturday").unwrap();
        assert_eq!(serde_json::to_string(&day).unwrap(), "\"sat\"");
        assert_eq!(day.weekday(), Weekday::Sat);
        assert!(DayOfWeek::parse("funday").is_none());
    }
}
