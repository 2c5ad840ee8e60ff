// Package satcount adds counts that come from untrusted input (session
// counts of TLS-RPT reports) without wrapping around: a sum that would
// pass math.MaxInt64 stays there (saturates), so that two reports of
// 2^63-1 sessions add up to "at least 2^63-1", never to a negative number.
package satcount

import (
	"math"
	"strconv"
)

// Max is the value a saturated sum holds.
const Max = math.MaxInt64

// Add returns a+b for counts (a, b >= 0), or Max when the sum would pass
// it. A negative operand (not a count) is taken as 0.
func Add(a, b int64) int64 {
	a, b = max(a, 0), max(b, 0)
	if a > Max-b {
		return Max
	}
	return a + b
}

// AddTo adds b to *a (see Add) and reports whether the sum saturated.
func AddTo(a *int64, b int64) bool {
	*a = Add(*a, b)
	return *a == Max
}

// Mul returns a*b for counts (a, b >= 0), or Max when the product would
// pass it.
func Mul(a, b int64) int64 {
	a, b = max(a, 0), max(b, 0)
	if a == 0 || b == 0 {
		return 0
	}
	if a > Max/b {
		return Max
	}
	return a * b
}

// Saturated reports whether n is a saturated sum: the true count is at
// least Max and may be more.
func Saturated(n int64) bool { return n == Max }

// String writes n for people: "more than 9223372036854775806" when it is
// saturated (the true count did not fit), else the number.
func String(n int64) string {
	if Saturated(n) {
		return "more than " + strconv.FormatInt(n-1, 10)
	}
	return strconv.FormatInt(n, 10)
}
