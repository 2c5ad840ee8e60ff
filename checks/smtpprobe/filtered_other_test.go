//go:build !linux

package smtpprobe_test

import "testing"

func filteredPort(t *testing.T) int {
	t.Skip("simulating a filtered port needs Linux accept-queue behaviour")
	return 0
}
