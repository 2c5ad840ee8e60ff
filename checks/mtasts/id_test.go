package mtasts

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"testing"
	"time"
)

func TestNewIDKnownValue(t *testing.T) {
	at := time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)
	// computed outside Go: python3 hashlib.sha256 + base64.b32encode
	const want = "20240305060708w4g2esbj"
	if got := NewID(at, []byte(msPolicy)); got != want {
		t.Errorf("NewID = %q, want %q", got, want)
	}
	// and the same recipe written out here
	sum := sha256.Sum256([]byte(msPolicy))
	inline := "20240305060708" + strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:8]
	if got := NewID(at, []byte(msPolicy)); got != inline {
		t.Errorf("NewID = %q, want %q", got, inline)
	}
	if got := NewID(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), nil); got != "200001010000004oymiquy" {
		t.Errorf("NewID(empty) = %q", got)
	}
}

// STS-TXT-9 / design invariant 4: every id is valid; STS-TXT-10: it changes
// with the content.
func TestNewIDShape_STS_TXT_9(t *testing.T) {
	at := time.Date(2031, 12, 31, 23, 59, 59, 999, time.FixedZone("x", -5*3600))
	id := NewID(at, []byte(lfPolicy))
	if len(id) != 22 || !ValidID(id) {
		t.Fatalf("NewID = %q: want 22 letters and digits", id)
	}
	if !strings.HasPrefix(id, "20320101045959") {
		t.Errorf("NewID = %q: the time must be in UTC", id)
	}
	if NewID(at, []byte(lfPolicy+"x")) == id {
		t.Errorf("STS-TXT-10: new content must give a new id")
	}
}

func TestParseIDRoundTrip(t *testing.T) {
	at := time.Date(2025, 2, 28, 13, 14, 15, 0, time.UTC)
	id := NewID(at, []byte(googlePolicy))
	got, hash, ok := ParseID(id)
	if !ok || !got.Equal(at) || got.Location() != time.UTC || hash != id[14:] {
		t.Errorf("ParseID(%q) = %v, %q, %v", id, got, hash, ok)
	}
	rec, match := VerifyID(id, []byte(googlePolicy))
	if !rec || !match {
		t.Errorf("VerifyID(same bytes) = %v, %v", rec, match)
	}
	rec, match = VerifyID(id, []byte(strings.ReplaceAll(googlePolicy, "\r\n", "\n")))
	if !rec || match {
		t.Errorf("VerifyID(other bytes) = %v, %v; want recognised, not matching", rec, match)
	}
}

func TestParseIDOpaque_STS_TXT_10(t *testing.T) {
	for _, id := range []string{
		"",
		"1",
		"20240101T000000Z",
		"20240305060708w4g2esb",   // 21
		"20240305060708w4g2esbjj", // 23
		"20241305060708w4g2esbj",  // month 13
		"20240230060708w4g2esbj",  // 30 February
		"20240305250708w4g2esbj",  // hour 25
		"20240305060760w4g2esbj",  // second 60
		"20240305060708W4G2ESBJ",  // upper case
		"20240305060708w4g2esb1",  // '1' is not base32
		"20240305060708w4g2esb8",  // nor '8'
		"2024030506070xw4g2esbj",  // a letter in the time
		"+0240305060708w4g2esbj",
	} {
		if _, _, ok := ParseID(id); ok {
			t.Errorf("ParseID(%q) recognised an id that is not of the scheme", id)
		}
		if rec, match := VerifyID(id, []byte(msPolicy)); rec || match {
			t.Errorf("VerifyID(%q) = %v, %v; want opaque", id, rec, match)
		}
	}
}
