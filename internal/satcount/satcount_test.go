package satcount

import (
	"math"
	"testing"
)

func TestAdd(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{
		{0, 0, 0},
		{1, 2, 3},
		{math.MaxInt64, 0, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64 - 1, 1, math.MaxInt64},
		{math.MaxInt64 - 1, 2, math.MaxInt64},
		{1 << 62, 1 << 62, math.MaxInt64},
		{-5, 3, 3},
	} {
		if got := Add(tc.a, tc.b); got != tc.want {
			t.Errorf("Add(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	n := int64(5)
	if AddTo(&n, 1) || n != 6 || !AddTo(&n, math.MaxInt64) || !Saturated(n) {
		t.Errorf("AddTo: %d", n)
	}
	if Mul(1<<32, 1<<32) != Max || Mul(3, 4) != 12 || Mul(0, Max) != 0 {
		t.Error("Mul")
	}
}
