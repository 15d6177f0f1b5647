package schemas

import (
	"errors"
	"testing"
)

// The seed corpus under testdata/fuzz/ holds valid values (from a fresh
// registry: ids 1 reminder, 2 payment, 3 invoice), their truncations, bad
// magic, another record type and block-count bombs; f.Add adds the same
// from live encodings.

func FuzzDecodeReminder(f *testing.F) {
	// Rule: decoding arbitrary bytes never panics and fails only with a
	// *DecodeError; whatever decodes re-encodes and decodes to the same value.
	s, _, _ := newSerde(f)
	r := sampleReminder()
	valid, err := s.EncodeReminder(&r)
	if err != nil {
		f.Fatal(err)
	}
	rid, pid, _ := s.SchemaIDs()
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte{1, 0, 0, 0, 1})
	f.Add(frame(rid, append(make([]byte, 14), zigzag(1<<30)...)))
	f.Add(frame(pid, []byte{0, 0, 0, 0, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := s.DecodeReminder(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("error %T %v is not a *DecodeError with a reason", err, err)
			}
			return
		}
		again, err := s.EncodeReminder(&got)
		if err != nil {
			t.Fatalf("decoded value does not re-encode: %v", err)
		}
		if _, err := s.DecodeReminder(again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
	})
}

func FuzzDecodePayment(f *testing.F) {
	// Rule: as FuzzDecodeReminder, for payments (arrays of records).
	s, _, _ := newSerde(f)
	p := samplePayment()
	valid, err := s.EncodePayment(&p)
	if err != nil {
		f.Fatal(err)
	}
	_, pid, _ := s.SchemaIDs()
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add([]byte{0, 0, 0})
	f.Add(frame(pid, append([]byte{0, 0, 0, 0, 0, 0}, zigzag(1<<30)...)))
	f.Add(frame(pid, append([]byte{0, 0, 0, 0, 0, 0}, zigzag(-3)...)))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := s.DecodePayment(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("error %T %v is not a *DecodeError with a reason", err, err)
			}
			return
		}
		again, err := s.EncodePayment(&got)
		if err != nil {
			t.Fatalf("decoded value does not re-encode: %v", err)
		}
		if _, err := s.DecodePayment(again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
	})
}

func FuzzDecodeInvoice(f *testing.F) {
	// Rule: as FuzzDecodeReminder, for invoices (a map of attributes, a
	// date).
	s, _, _ := newSerde(f)
	inv := sampleInvoice()
	valid, err := s.EncodeInvoice(&inv)
	if err != nil {
		f.Fatal(err)
	}
	rid, _, iid := s.SchemaIDs()
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add([]byte{0, 0, 0, 0})
	f.Add(frame(iid, append(make([]byte, 8), zigzag(1<<30)...)))
	f.Add(frame(iid, append(make([]byte, 8), zigzag(-(1<<31))...)))
	f.Add(frame(rid, valid[5:]))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := s.DecodeInvoice(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason == "" {
				t.Fatalf("error %T %v is not a *DecodeError with a reason", err, err)
			}
			return
		}
		again, err := s.EncodeInvoice(&got)
		if err != nil {
			t.Fatalf("decoded value does not re-encode: %v", err)
		}
		if _, err := s.DecodeInvoice(again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
	})
}
