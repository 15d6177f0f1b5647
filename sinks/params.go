package sinks

// The checks QueryNamed makes on the parameters the named queries share,
// before running one: a named query compares labels and keys, so a value
// it does not know would not fail — it would read as a segment or a
// horizon with nothing in it.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relance-io/relance/stream"
)

// checkParams makes the parameters the named queries share mean what the
// caller meant, or says why they cannot: the horizon becomes the label the
// pipeline stores ("36h" is stored as "36h0m0s", "360h" as "15d") and,
// when the query reads the join's results (stored), must be one the store
// holds — the SQL compares labels, so any other text would read as a
// horizon with nothing collected; the time zone must exist; see also
// checkDimension and checkDPDEdges.
func checkParams(ctx context.Context, pq ParamQuerier, params map[string]string, stored bool) error {
	if tz, ok := params["tz"]; ok {
		if _, err := time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" {
			return fmt.Errorf("tz %q: unknown time zone: want an IANA name such as Europe/Paris or UTC", tz)
		}
	}
	if err := checkDPDEdges(params); err != nil {
		return err
	}
	if d, ok := params["dimension"]; ok {
		if err := checkDimension(ctx, pq, d); err != nil {
			return err
		}
	}
	v, ok := params["horizon"]
	if !ok {
		return nil
	}
	h, err := stream.ParseHorizon(v)
	if err != nil {
		return err
	}
	params["horizon"] = h.String()
	if !stored {
		return nil
	}
	held, err := StoredHorizons(ctx, pq, h)
	if err != nil || held == nil {
		return err
	}
	return fmt.Errorf("horizon %s: the store holds no outcome for it (it holds %s): pick one of those, or add it to the pipeline's horizons and replay", h, strings.Join(held, ", "))
}

// Dimensions are the segment dimensions of the named queries (SPEC §4)
// besides the reminders' attribute keys; see relance_segment in
// sql/migrations/0010_kpi_functions.sql.
var Dimensions = []string{"channel", "level", "final_notice", "dpd_bucket", "sender", "plan", "all"}

// HasDimension reports whether d is one of Dimensions or an attribute key
// some reminder of the store carries; a store without reminders has every
// dimension (with nothing in it).
func HasDimension(ctx context.Context, pq ParamQuerier, d string) (bool, error) {
	if slices.Contains(Dimensions, d) {
		return true, nil
	}
	rows, err := pq.QueryParams(ctx, "SELECT 1 FROM reminders WHERE mapContains(attributes, {d:String}) LIMIT 1", map[string]string{"d": d})
	if err != nil || len(rows.Data) > 0 {
		return err == nil, err
	}
	rows, err = pq.QueryParams(ctx, "SELECT 1 FROM reminders LIMIT 1", nil)
	return err == nil && len(rows.Data) == 0, err
}

// checkDimension refuses a dimension the store does not have (see
// HasDimension): any other word (a typo, "Channel") would read as an
// attribute nobody has and put everything in one blank segment.
func checkDimension(ctx context.Context, pq ParamQuerier, d string) error {
	ok, err := HasDimension(ctx, pq, d)
	if ok || err != nil {
		return err
	}
	rows, err := pq.QueryParams(ctx, "SELECT DISTINCT arrayJoin(mapKeys(attributes)) AS k FROM reminders ORDER BY k LIMIT 50", nil)
	if err != nil {
		return err
	}
	var keys []string
	for _, r := range rows.Data {
		keys = append(keys, r[0])
	}
	return fmt.Errorf("dimension %q: neither a dimension (%s) nor an attribute key of the reminders (%s)", d, strings.Join(Dimensions, ", "), strings.Join(keys, ", "))
}

// checkDPDEdges accepts days-past-due edges that are whole days, at least
// one, strictly ascending: others would mislabel the buckets.
func checkDPDEdges(params map[string]string) error {
	v, ok := params["dpd_edges"]
	if !ok {
		return nil
	}
	bad := fmt.Errorf("dpd_edges %q: want whole days, strictly ascending, in brackets (e.g. [0,30,60,90])", v)
	inner, open := strings.CutPrefix(strings.TrimSpace(v), "[")
	inner, closed := strings.CutSuffix(inner, "]")
	if !open || !closed || strings.TrimSpace(inner) == "" {
		return bad
	}
	prev := int64(math.MinInt64)
	for _, f := range strings.Split(inner, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || n <= prev {
			return bad
		}
		prev = n
	}
	return nil
}

// StoredHorizons returns nil when the store holds outcomes for horizon h
// or holds none at all, else the horizon labels it holds, in ascending
// order. Finding h stops at its first row; the full list is read only
// when h is missing.
func StoredHorizons(ctx context.Context, pq ParamQuerier, h stream.Horizon) ([]string, error) {
	label := map[string]string{"h": h.String()}
	rows, err := pq.QueryParams(ctx, "SELECT 1 FROM reminder_outcomes WHERE horizon = {h:String} LIMIT 1", label)
	if err != nil || len(rows.Data) > 0 {
		return nil, err
	}
	rows, err = pq.QueryParams(ctx, "SELECT horizon FROM reminder_outcomes GROUP BY horizon ORDER BY any(horizon_seconds)", nil)
	if err != nil || len(rows.Data) == 0 {
		return nil, err
	}
	held := make([]string, len(rows.Data))
	for i, r := range rows.Data {
		held[i] = r[0]
	}
	return held, nil
}
