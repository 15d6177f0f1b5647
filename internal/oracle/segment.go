package oracle

import (
	"strconv"
	"time"

	"github.com/relance-io/relance/schemas"
)

// DefaultDPDEdges are the default dpd bucket edges of SPEC §4: preventive
// (< 0), 0-30, 30-60, 60-90 and 90+.
var DefaultDPDEdges = []int{0, 30, 60, 90}

// MonthOf is the calendar month of t in tz, as its first day:
// "2026-03-01".
func MonthOf(t time.Time, tz *time.Location) string {
	return t.In(tz).Format("2006-01") + "-01"
}

// DPD is r's days past due: the date of sent_at in tz minus the invoice due
// date, in days (negative before the due date).
func DPD(r *schemas.Reminder, tz *time.Location) int {
	y, m, d := r.SentAt.In(tz).Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(r.InvoiceDueDate) / (24 * time.Hour))
}

// DPDBucket labels dpd with the ascending edges: "preventive" below the
// first edge, "90+" from the last one (for a last edge of 90), else the
// edges around it ("30-60" for 30 ≤ dpd < 60).
func DPDBucket(dpd int, edges []int) string {
	if dpd < edges[0] {
		return "preventive"
	}
	for i := 1; i < len(edges); i++ {
		if dpd < edges[i] {
			return strconv.Itoa(edges[i-1]) + "-" + strconv.Itoa(edges[i])
		}
	}
	return strconv.Itoa(edges[len(edges)-1]) + "+"
}

// Segment is SegmentWith under the default dpd edges.
func Segment(r *schemas.Reminder, dim string, tz *time.Location) string {
	return SegmentWith(r, dim, tz, DefaultDPDEdges)
}

// SegmentWith is r's value for the segment dimension dim (SPEC §4):
// channel, level, final_notice ("final" or "not_final"), dpd_bucket (dpd
// from the date of sent_at in tz, bucketed by the ascending edges, see
// DPDBucket), sender, plan, all ("all"), and for any other name the
// attribute of that key ("" when r has none). The named dimensions take
// precedence over attributes of the same name.
func SegmentWith(r *schemas.Reminder, dim string, tz *time.Location, edges []int) string {
	switch dim {
	case "channel":
		return r.Channel
	case "level":
		return strconv.Itoa(int(r.Level))
	case "final_notice":
		if r.FinalNotice {
			return "final"
		}
		return "not_final"
	case "dpd_bucket":
		return DPDBucket(DPD(r, tz), edges)
	case "sender":
		return r.Sender
	case "plan":
		return r.Plan
	case "all":
		return "all"
	}
	return r.Attributes[dim]
}
