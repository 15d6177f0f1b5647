package schemas

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSchemas_EveryFieldHasDoc(t *testing.T) {
	// Rule: the .avsc files are the data contract users read: every record
	// and field, nested ones included, carries a "doc".
	var walk func(path string, rec map[string]any)
	walk = func(path string, rec map[string]any) {
		if doc, _ := rec["doc"].(string); doc == "" {
			t.Errorf("%s: record has no doc", path)
		}
		for _, f := range rec["fields"].([]any) {
			fm := f.(map[string]any)
			name := path + "." + fm["name"].(string)
			if doc, _ := fm["doc"].(string); doc == "" {
				t.Errorf("%s: field has no doc", name)
			}
			if typ, ok := fm["type"].(map[string]any); ok && typ["type"] == "array" {
				if item, ok := typ["items"].(map[string]any); ok && item["type"] == "record" {
					walk(name, item)
				}
			}
		}
	}
	for _, rt := range recordTypes {
		var rec map[string]any
		if err := json.Unmarshal([]byte(rt.schema), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["namespace"] != "io.relance" {
			t.Errorf("%s: namespace %v, want io.relance", rt.name, rec["namespace"])
		}
		walk(rt.name, rec)
	}
}

func TestSchemas_ReaderDefaultsAreGoZeroValues(t *testing.T) {
	// Rule: a field absent from an old writer decodes as the Go zero value,
	// which is only right if every reader default in the .avsc files is the
	// zero value of its Go field (false, {}, "", 0). Change the decoder if a
	// non-zero default is ever added.
	zero := map[kind]any{kBool: false, kStringMap: map[string]any{}, kString: "", kLong: float64(0), kInt: float64(0)}
	for _, rt := range recordTypes {
		var rec map[string]any
		if err := json.Unmarshal([]byte(rt.schema), &rec); err != nil {
			t.Fatal(err)
		}
		for i, f := range rec["fields"].([]any) {
			fm := f.(map[string]any)
			def, ok := fm["default"]
			if !ok {
				continue
			}
			k := rt.fields[i].kind
			if want, known := zero[k]; !known || !reflect.DeepEqual(def, want) {
				t.Errorf("%s.%s: default %v is not the Go zero value of a %s", rt.name, fm["name"], def, k)
			}
		}
	}
	if !reminderType.fields[13].hasDefault || !reminderType.fields[14].hasDefault {
		t.Error("reminder holdout and attributes must have defaults (BACKWARD evolution depends on it)")
	}
}

func TestSubject_TopicNameStrategy(t *testing.T) {
	// Rule: subjects are "<topic>-value".
	for topic, want := range map[string]string{TopicReminders: "reminders-value", TopicPayments: "payments-value", TopicInvoices: "invoices-value"} {
		if got := Subject(topic); got != want {
			t.Errorf("Subject(%q) = %q, want %q", topic, got, want)
		}
	}
}
