package csvimport

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// rowError is why one row is rejected: a stable machine reason (the
// rejects file and the summary group by it) and a detail for humans.
type rowError struct {
	reason string
	detail string
}

func (e *rowError) Error() string { return e.reason + ": " + e.detail }

func rejectf(reason, format string, a ...any) *rowError {
	return &rowError{reason: reason, detail: fmt.Sprintf(format, a...)}
}

// Reject reasons of the import itself; validation failures use the
// schemas.Reason* labels (negative_amount, unknown_currency,
// zero_timestamp, far_future_timestamp, amount_overflow, ...).
const (
	ReasonBadCSV               = "bad_csv"               // the line is not valid CSV (quotes)
	ReasonWrongFieldCount      = "wrong_field_count"     // more or fewer cells than the header
	ReasonBadTimestamp         = "bad_timestamp"         // matches none of the timestamp formats
	ReasonBadDate              = "bad_date"              // matches none of the date formats
	ReasonBadAmount            = "bad_amount"            // not a decimal number, or more decimals than the currency has
	ReasonBadEncoding          = "bad_encoding"          // a cell is not UTF-8 (a Windows-1252 or Latin-1 export)
	ReasonBadInteger           = "bad_integer"           // level is not an integer
	ReasonBadBoolean           = "bad_boolean"           // final_notice or holdout is not a boolean
	ReasonDuplicate            = "duplicate"             // the same event again (same key, same content): skipped
	ReasonConflictingDuplicate = "conflicting_duplicate" // same key as an earlier row, different content
	ReasonInconsistentPayment  = "inconsistent_payment"  // rows of one payment_id disagree on customer, time, method or currency
	ReasonPaymentRejected      = "payment_rejected"      // another row of the same payment was rejected
)

// missingReason is the reason for an empty required field, e.g.
// missing_reminder_id (missing_invoice_id is also the schemas' label).
func missingReason(field string) string { return "missing_" + field }

// parseAmount reads a decimal amount in major units ("1234.56", "-12,5",
// "1 234,56" with thousands " ") into minor units of a currency with the
// given number of decimals, exactly (no float): "12.5" EUR → 1250. More
// decimals than the currency has are an error unless they are zeros.
// Thousands separators are accepted only between groups of three digits
// of the integer part: "1.234,56" with thousands "." is 1234.56, but
// "1234.56" or "12.5" there is not an amount — dropping the "." would read
// it 100 times too large.
func (m *Mapping) parseAmount(s string, decimals int) (int64, *rowError) {
	orig := s
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if m.Amounts == "minor" {
		decimals = 0
	}
	intPart, frac, _ := strings.Cut(s, m.Decimal)
	if m.Thousands != "" {
		isSep := func(r rune) bool {
			return strings.ContainsRune(m.Thousands, r) || (r == '\u00a0' || r == '\u202f') && strings.ContainsRune(m.Thousands, ' ')
		}
		var ok bool
		if intPart, ok = ungroup(intPart, isSep); !ok || strings.IndexFunc(frac, isSep) >= 0 {
			return 0, rejectf(ReasonBadAmount, "%q is not an amount: thousands separators (%q) must separate groups of three digits of the integer part, before the decimal mark %q", orig, m.Thousands, m.Decimal)
		}
	}
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return 0, rejectf(ReasonBadAmount, "%q is not an amount (decimal mark %q, thousands separators %q)", orig, m.Decimal, m.Thousands)
	}
	if len(frac) > decimals {
		if strings.Trim(frac[decimals:], "0") != "" {
			return 0, rejectf(ReasonBadAmount, "%q has more decimals than the currency's %d", orig, decimals)
		}
		frac = frac[:decimals]
	}
	frac += strings.Repeat("0", decimals-len(frac))
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, rejectf("amount_overflow", "%q does not fit in 64-bit minor units", orig)
	}
	if neg {
		n = -n
	}
	return n, nil
}

// ungroup removes the thousands separators of an integer part, which must
// stand between groups of three digits (the first group has one to
// three): "1 234 567" → "1234567"; "1234 5" or "12  345" is refused.
func ungroup(s string, isSep func(rune) bool) (string, bool) {
	if strings.IndexFunc(s, isSep) < 0 {
		return s, true
	}
	var b strings.Builder
	group, groups := 0, 0
	for _, r := range s {
		if isSep(r) {
			if group == 0 || (groups == 0 && group > 3) || (groups > 0 && group != 3) {
				return "", false
			}
			groups++
			group = 0
			continue
		}
		b.WriteRune(r)
		group++
	}
	if group != 3 {
		return "", false
	}
	return b.String(), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTimestamp reads an instant with the first matching format; a value
// without an offset is in loc. Milliseconds are kept (Avro
// timestamp-millis).
func (m *Mapping) parseTimestamp(s string, loc *time.Location) (time.Time, *rowError) {
	s = strings.TrimSpace(s)
	for _, f := range m.TimestampFormats {
		if t, err := time.ParseInLocation(f, s, loc); err == nil {
			return t.UTC().Truncate(time.Millisecond), nil
		}
	}
	return time.Time{}, rejectf(ReasonBadTimestamp, "%q matches none of the timestamp formats %q", s, m.TimestampFormats)
}

// parseDate reads a calendar date (midnight UTC, as the schemas hold
// dates) with the date formats, then the timestamp formats (the date in
// loc).
func (m *Mapping) parseDate(s string, loc *time.Location) (time.Time, *rowError) {
	s = strings.TrimSpace(s)
	for _, f := range m.DateFormats {
		if t, err := time.Parse(f, s); err == nil {
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
		}
	}
	if t, err := m.parseTimestamp(s, loc); err == nil {
		y, mo, d := t.In(loc).Date()
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC), nil
	}
	return time.Time{}, rejectf(ReasonBadDate, "%q matches none of the date formats %q", s, m.DateFormats)
}

var (
	trueWords  = []string{"true", "1", "yes", "y", "oui", "o", "vrai", "x", "t"}
	falseWords = []string{"false", "0", "no", "n", "non", "faux", "f", ""}
)

// parseBool reads true/false, 1/0, yes/no, oui/non, vrai/faux, x/empty
// (case-insensitive); anything else is an error.
func parseBool(s string) (bool, *rowError) {
	v := strings.ToLower(strings.TrimSpace(s))
	for _, w := range trueWords {
		if v == w {
			return true, nil
		}
	}
	for _, w := range falseWords {
		if v == w {
			return false, nil
		}
	}
	return false, rejectf(ReasonBadBoolean, "%q is not a boolean (true/false, 1/0, yes/no, oui/non)", s)
}

func parseLevel(s string) (int32, *rowError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, rejectf(ReasonBadInteger, "level %q is not a whole number ≥ 0", s)
	}
	return int32(n), nil
}
