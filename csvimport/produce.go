package csvimport

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
)

// WriteRejects writes the rejects as CSV: a header, then per rejected row
// its file, line, reason, detail, and the row's cells as one CSV line
// (comma-separated, quoted as needed).
func (res *Result) WriteRejects(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"file", "line", "reason", "detail", "row"})
	for _, r := range res.Rejects {
		var b strings.Builder
		rw := csv.NewWriter(&b)
		rw.Write(r.Row)
		rw.Flush()
		cw.Write([]string{r.File, fmt.Sprint(r.Line), r.Reason, r.Detail, strings.TrimRight(b.String(), "\n")})
	}
	cw.Flush()
	return cw.Error()
}

// Rejected is the number of rejected rows.
func (res *Result) Rejected() int { return len(res.Rejects) }

// Events is the number of events made (records to produce).
func (res *Result) Events() int { return len(res.Reminders) + len(res.Payments) + len(res.Invoices) }

// WriteSummary prints one line per file: rows read, imported, rejected by
// reason, e.g.
//
//	payments.csv: 9 rows read, 7 imported as 5 payments, 2 rejected (bad_amount 1, payment_rejected 1)
func (res *Result) WriteSummary(w io.Writer) {
	for _, f := range res.Files {
		fmt.Fprintf(w, "%s: %d rows read, %d imported", f.Path, f.Rows, f.Imported)
		if f.Kind == KindPayments {
			fmt.Fprintf(w, " as %d payments", f.Events)
		}
		rejected := f.Rows - f.Imported
		fmt.Fprintf(w, ", %d rejected", rejected)
		if rejected > 0 {
			var parts []string
			for _, reason := range sortedKeys(f.Rejected) {
				parts = append(parts, fmt.Sprintf("%s %d", reason, f.Rejected[reason]))
			}
			fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
		}
		fmt.Fprintln(w)
	}
}
