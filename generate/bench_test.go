package generate

import "testing"

// Generating the default year must stay well under 2 s on one core: the
// demo has a one-minute budget on a 2-core machine.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	p := DefaultParams()
	for b.Loop() {
		if _, err := Generate(p); err != nil {
			b.Fatal(err)
		}
	}
}
