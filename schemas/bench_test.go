package schemas

import "testing"

// The decode benchmarks measure the hot path of ingestion: a known writer id
// (no registry call), header, pre-scan, goavro decode, mapping to the struct.

func BenchmarkDecodeReminder(b *testing.B) {
	s, _, _ := newSerde(b)
	r := sampleReminder()
	v, err := s.EncodeReminder(&r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DecodeReminder(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePayment(b *testing.B) {
	s, _, _ := newSerde(b)
	p := samplePayment()
	v, err := s.EncodePayment(&p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DecodePayment(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeReminder(b *testing.B) {
	s, _, _ := newSerde(b)
	r := sampleReminder()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.EncodeReminder(&r); err != nil {
			b.Fatal(err)
		}
	}
}
