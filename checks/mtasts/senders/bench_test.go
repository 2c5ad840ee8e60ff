package senders

import (
	"strings"
	"testing"
)

// BenchmarkEmulateHealthy is the common case: one small policy.
func BenchmarkEmulateHealthy(b *testing.B) {
	in := healthy()
	for b.Loop() {
		Emulate(in)
	}
}

// BenchmarkEmulateLarge feeds a body just over the 64 KiB cap made of short
// lines, which the uncapped implementations parse in full (STS-FETCH-10).
func BenchmarkEmulateLarge(b *testing.B) {
	in := withBody(policyWith(strings.Repeat("ext: "+strings.Repeat("a", 94)+"\n", 700)))
	for b.Loop() {
		Emulate(in)
	}
}

// BenchmarkEmulateManyBadLines: 64 KiB of lines the lenient parsers skip.
func BenchmarkEmulateManyBadLines(b *testing.B) {
	in := withBody(policyWith(strings.Repeat("x\n", 30000)))
	for b.Loop() {
		Emulate(in)
	}
}
