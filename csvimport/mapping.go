package csvimport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relance-io/relance/schemas"
	"go.yaml.in/yaml/v3"
)

// Kinds of file, in the order they are read; each is one topic.
const (
	KindReminders = "reminders"
	KindPayments  = "payments"
	KindInvoices  = "invoices"
)

// Kinds lists the file kinds.
var Kinds = []string{KindReminders, KindPayments, KindInvoices}

// fields are the logical fields of each kind, in the default layout's
// column order. required are those a row cannot do without (a column or a
// constant must provide them).
var (
	fields = map[string][]string{
		KindReminders: {"event_id", "reminder_id", "invoice_id", "customer_id", "sent_at", "channel", "level", "final_notice",
			"plan", "sender", "amount_due", "currency", "invoice_due_date", "holdout"},
		KindPayments: {"event_id", "payment_id", "customer_id", "paid_at", "method", "currency", "invoice_id", "amount"},
		KindInvoices: {"event_id", "invoice_id", "customer_id", "issued_at", "due_date", "amount", "currency", "status"},
	}
	required = map[string][]string{
		KindReminders: {"reminder_id", "invoice_id", "customer_id", "sent_at", "amount_due", "currency", "invoice_due_date"},
		KindPayments:  {"payment_id", "customer_id", "paid_at", "currency", "invoice_id", "amount"},
		KindInvoices:  {"invoice_id", "customer_id", "issued_at", "due_date", "amount", "currency"},
	}
)

// AttributePrefix marks attribute columns: a column "attr.country" becomes
// the attribute "country" of the reminder or invoice.
const AttributePrefix = "attr."

// Mapping describes a CSV layout: separators, number and date formats, and
// for each file its name, which column holds which field, constant values
// and value translations. The zero value of every field is the default
// layout's (see the package doc); a YAML mapping file only states what
// differs. Unknown keys are errors.
//
// Example (an accounting system's French export):
//
//	separator: ";"
//	decimal: ","
//	thousands: " ."
//	timestamp_formats: ["DD/MM/YYYY HH:mm:ss", "DD/MM/YYYY HH:mm", "DD/MM/YYYY"]
//	date_formats: ["DD/MM/YYYY"]
//	time_zone: Europe/Paris
//	reminders:
//	  file: relances.csv
//	  columns: {reminder_id: "N° relance", invoice_id: "N° facture", customer_id: "Code client",
//	            sent_at: "Date envoi", channel: "Canal", level: "Niveau", amount_due: "Montant dû",
//	            invoice_due_date: "Échéance", sender: "Gestionnaire"}
//	  constants: {currency: EUR, plan: PME}
//	  attributes: {business_unit: "Agence"}
//	  values: {channel: {Courriel: email, "Téléphone": phone}}
type Mapping struct {
	// Separator is the field separator, one character, e.g. ";" or "\t".
	// Default ",".
	Separator string `yaml:"separator"`
	// Decimal is the decimal mark of amounts: "." or ",". Default ".".
	Decimal string `yaml:"decimal"`
	// Thousands lists the characters skipped inside amounts as digit-group
	// separators, e.g. " ." for "1 234,56" and "1.234,56". A space also
	// skips the no-break spaces (U+00A0, U+202F) spreadsheets write.
	// Default none: "1,234.56" is rejected as bad_amount.
	Thousands string `yaml:"thousands"`
	// Amounts says whether amounts are in major units ("major", e.g.
	// "1234.56" EUR, default) or already in minor units ("minor", e.g.
	// "123456" cents).
	Amounts string `yaml:"amounts"`
	// TimestampFormats are tried in order for sent_at, paid_at and
	// issued_at, as Go layouts ("02/01/2006 15:04") or with the tokens
	// YYYY MM DD HH mm ss ("DD/MM/YYYY HH:mm"). A value without a UTC
	// offset is read in the time zone. Default: RFC 3339, "YYYY-MM-DD
	// HH:mm:ss", "YYYY-MM-DDTHH:mm:ss", "YYYY-MM-DD HH:mm", "YYYY-MM-DD".
	TimestampFormats []string `yaml:"timestamp_formats"`
	// DateFormats are tried in order for the calendar dates
	// invoice_due_date and due_date, then the timestamp formats (the date
	// in the time zone is kept). Default "YYYY-MM-DD".
	DateFormats []string `yaml:"date_formats"`
	// TimeZone is the IANA zone of timestamps written without an offset,
	// e.g. "Europe/Paris"; relance import --tz overrides it. Default
	// Europe/Paris.
	TimeZone string `yaml:"time_zone"`

	Reminders Section `yaml:"reminders"`
	Payments  Section `yaml:"payments"`
	Invoices  Section `yaml:"invoices"`
}

// Section is the layout of one file.
type Section struct {
	// File is the file name looked up under the import directory. Default
	// "<kind>.csv": reminders.csv, payments.csv, invoices.csv.
	File string `yaml:"file"`
	// Columns maps a field to the header of the column that holds it, e.g.
	// {invoice_id: "N° facture"}. Fields not listed are looked up under
	// their own name. Headers match case-insensitively, spaces trimmed.
	Columns map[string]string `yaml:"columns"`
	// Constants gives a field the same value on every row, e.g.
	// {currency: EUR}; it is parsed like a cell. A column present in the
	// file wins over the constant only when its cell is not empty.
	Constants map[string]string `yaml:"constants"`
	// Attributes maps an attribute key to a column header, e.g.
	// {business_unit: "Agence"}, on top of the "attr.*" columns.
	// Reminders and invoices only.
	Attributes map[string]string `yaml:"attributes"`
	// Values translates cells of a field before parsing, e.g.
	// {channel: {Courriel: email}, holdout: {Témoin: "true"}}. Matching is
	// exact after trimming spaces; values not listed pass unchanged.
	Values map[string]map[string]string `yaml:"values"`
}

// DefaultMapping is the default layout: comma-separated, decimal point,
// columns named after the fields.
func DefaultMapping() *Mapping {
	m := &Mapping{}
	if err := m.complete(); err != nil {
		panic(err) // the defaults are valid
	}
	return m
}

// LoadMapping reads a YAML mapping file over the defaults and checks it.
func LoadMapping(path string) (*Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return ParseMapping(b, path)
}

// ParseMapping reads a YAML mapping over the defaults and checks it; name
// is used in error messages.
func ParseMapping(b []byte, name string) (*Mapping, error) {
	m := &Mapping{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(m); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("mapping %s: %v (unknown keys are errors: see the csvimport package doc for the keys)", name, err)
	}
	if err := m.complete(); err != nil {
		return nil, fmt.Errorf("mapping %s: %w", name, err)
	}
	return m, nil
}

// Section returns the layout of kind.
func (m *Mapping) Section(kind string) *Section {
	switch kind {
	case KindReminders:
		return &m.Reminders
	case KindPayments:
		return &m.Payments
	case KindInvoices:
		return &m.Invoices
	}
	return nil
}

// complete fills the defaults and validates, naming the key and the fix.
func (m *Mapping) complete() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if m.Separator == "" {
		m.Separator = ","
	}
	if r, n := utf8.DecodeRuneInString(m.Separator); n != len(m.Separator) || r == '"' || r == '\n' || r == '\r' {
		bad(`separator: %q must be one character other than a quote or a newline (e.g. ";")`, m.Separator)
	}
	switch m.Decimal {
	case "":
		m.Decimal = "."
	case ".", ",":
	default:
		bad(`decimal: %q must be "." or ","`, m.Decimal)
	}
	if strings.Contains(m.Thousands, m.Decimal) {
		bad(`thousands: %q contains the decimal mark %q`, m.Thousands, m.Decimal)
	}
	if strings.ContainsAny(m.Thousands, "0123456789-+") {
		bad(`thousands: %q must not contain digits or signs (e.g. " " or ".")`, m.Thousands)
	}
	switch m.Amounts {
	case "":
		m.Amounts = "major"
	case "major", "minor":
	default:
		bad(`amounts: %q must be "major" (1234.56) or "minor" (123456)`, m.Amounts)
	}
	if len(m.TimestampFormats) == 0 {
		m.TimestampFormats = []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}
	}
	if len(m.DateFormats) == 0 {
		m.DateFormats = []string{"2006-01-02"}
	}
	// A format names the year, month and day (YYYY, MM, DD, upper case:
	// lower-case mm is minutes): "dd/mm/yyyy" or "JJ/MM/AAAA" would
	// otherwise turn every row into bad_timestamp.
	for _, fs := range []struct {
		key     string
		formats []string
	}{{"timestamp_formats", m.TimestampFormats}, {"date_formats", m.DateFormats}} {
		for i, f := range fs.formats {
			g := goLayout(f)
			if !strings.Contains(g, "2006") || !strings.Contains(g, "01") || !strings.Contains(g, "02") {
				bad(`%s[%d]: %q names no year, month and day: use YYYY, MM, DD (and HH, mm, ss for the time), e.g. "DD/MM/YYYY HH:mm"`, fs.key, i, f)
			}
			fs.formats[i] = g
		}
	}
	if m.TimeZone == "" {
		m.TimeZone = "Europe/Paris"
	}
	if _, err := time.LoadLocation(m.TimeZone); err != nil {
		bad(`time_zone: %q is not an IANA time zone (e.g. "Europe/Paris", "UTC")`, m.TimeZone)
	}
	for _, kind := range Kinds {
		s := m.Section(kind)
		if s.File == "" {
			s.File = kind + ".csv"
		}
		known := func(what, f string) {
			if !slices.Contains(fields[kind], f) {
				bad(`%s.%s: unknown field %q (fields: %s)`, kind, what, f, strings.Join(fields[kind], ", "))
			}
		}
		for _, f := range sortedKeys(s.Columns) {
			known("columns", f)
		}
		for _, f := range sortedKeys(s.Constants) {
			known("constants", f)
		}
		if c, ok := s.Constants["currency"]; ok && !schemas.KnownCurrency(c) {
			bad(`%s.constants.currency: %q is not an ISO 4217 code (e.g. EUR)`, kind, c)
		}
		for _, f := range sortedKeys(s.Values) {
			known("values", f)
		}
		if kind == KindPayments && len(s.Attributes) > 0 {
			bad(`payments.attributes: payments carry no attributes (put them on reminders or invoices)`)
		}
	}
	return errors.Join(errs...)
}

// goLayout turns "DD/MM/YYYY HH:mm:ss" into the Go layout "02/01/2006
// 15:04:05"; a format that already is a Go layout (contains 2006) is kept.
func goLayout(f string) string {
	if strings.Contains(f, "2006") {
		return f
	}
	return strings.NewReplacer("YYYY", "2006", "MM", "01", "DD", "02", "HH", "15", "mm", "04", "ss", "05").Replace(f)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
