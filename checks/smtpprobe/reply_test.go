package smtpprobe

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unicode"
	"unicode/utf8"
)

func newReader(s string) *bufio.Reader {
	return bufio.NewReaderSize(strings.NewReader(s), maxLine)
}

// TestReadReply covers the reply grammar of RFC 5321 §4.2 as senders read
// it (STS-SEND-8: a sender must parse the greeting and EHLO to find
// STARTTLS), and the size limits that protect the prober.
func TestReadReply(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		code   int
		lines  []string
		errHas string
	}{
		{"single line", "220 mx.example.com ESMTP\r\n", 220, []string{"mx.example.com ESMTP"}, ""},
		{"bare LF accepted", "220 mx ESMTP\n", 220, []string{"mx ESMTP"}, ""},
		{"code only", "250\r\n", 250, []string{""}, ""},
		{"multi-line", "250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n", 250, []string{"mx", "PIPELINING", "STARTTLS"}, ""},
		{"continuation with empty text", "220-\r\n220 ok\r\n", 220, []string{"", "ok"}, ""},
		{"5xx", "554 5.7.1 go away\r\n", 554, []string{"5.7.1 go away"}, ""},
		{"code changes", "250-mx\r\n251 x\r\n", 0, nil, "changes from 250 to 251"},
		{"bad separator", "220_mx\r\n", 0, nil, "malformed"},
		{"short", "22\r\n", 0, nil, "malformed"},
		{"letters", "abc def\r\n", 0, nil, "malformed"},
		{"first digit 1", "120 wait\r\n", 0, nil, "malformed"},
		{"first digit 6", "620 x\r\n", 0, nil, "malformed"},
		{"second digit 6", "260 x\r\n", 0, nil, "malformed"},
		{"empty line", "\r\n", 0, nil, "malformed"},
		{"closed mid-line", "220 mx", 0, nil, "closed in the middle"},
		{"line too long", "220 " + strings.Repeat("x", maxLine) + "\r\n", 0, nil, "longer than 4096"},
		{"longest line accepted", "220 " + strings.Repeat("x", maxLine-6) + "\r\n", 220, []string{strings.Repeat("x", maxLine-6)}, ""},
		{"too many lines", strings.Repeat("220-x\r\n", maxReplyLines) + "220 x\r\n", 0, nil, "more than 100 lines"},
		{"most lines accepted", strings.Repeat("220-x\r\n", maxReplyLines-1) + "220 x\r\n", 220, slices.Repeat([]string{"x"}, maxReplyLines), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := readReply(newReader(tt.in))
			if tt.errHas != "" {
				var pe *protoError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want a protocol error containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil || r.code != tt.code || !slices.Equal(r.lines, tt.lines) {
				t.Fatalf("readReply = %d %q, %v; want %d %q", r.code, r.lines, err, tt.code, tt.lines)
			}
		})
	}
	t.Run("clean EOF is returned as is", func(t *testing.T) {
		if _, err := readReply(newReader("")); !errors.Is(err, io.EOF) {
			t.Fatalf("err = %v, want io.EOF", err)
		}
	})
	t.Run("consecutive replies", func(t *testing.T) {
		br := newReader("220 hi\r\n250-a\r\n250 b\r\n")
		r1, err1 := readReply(br)
		r2, err2 := readReply(br)
		if err1 != nil || err2 != nil || r1.code != 220 || r2.code != 250 || len(r2.lines) != 2 {
			t.Fatalf("got %v %v, %v %v", r1, err1, r2, err2)
		}
	})
}

func TestEHLOKeywords(t *testing.T) {
	r := reply{code: 250, lines: []string{
		"mx.example.com Hello [192.0.2.1]", "PIPELINING", "size 35882577", " 8BITMIME", "AUTH=LOGIN PLAIN",
		"-BAD", "", "X\x00Y", "starttls", strings.Repeat("A", 65),
	}}
	want := []string{"PIPELINING", "SIZE", "8BITMIME", "STARTTLS"}
	if got := ehloKeywords(r); !slices.Equal(got, want) {
		t.Errorf("ehloKeywords = %q, want %q (AUTH=LOGIN is not a keyword, only AUTH is)", got, want)
	}
	if got := ehloKeywords(reply{code: 250, lines: []string{"mx"}}); len(got) != 0 {
		t.Errorf("single-line EHLO: %q, want no keywords", got)
	}
	if got := ehloKeywords(reply{code: 250}); len(got) != 0 {
		t.Errorf("empty reply: %q", got)
	}
}

func TestSanitize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"mx.example.com ESMTP Postfix", 200, "mx.example.com ESMTP Postfix"},
		{"red \x1b[31mtext", 200, "red ?[31mtext"},
		{"tab\there\r", 200, "tab?here?"},
		{"bad \xff utf8", 200, "bad ? utf8"},
		{"héllo", 200, "héllo"},
		{strings.Repeat("a", 10), 5, "aaaaa..."},
		{"aaaé", 4, "aaa..."}, // é is two bytes: not cut inside it
	} {
		if got := sanitize(tt.in, tt.n); got != tt.want {
			t.Errorf("sanitize(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestDialError covers the connect failures that loopback cannot produce.
func TestDialError(t *testing.T) {
	sys := func(e syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", e)}
	}
	ctx := context.Background()
	for _, tt := range []struct {
		err  error
		kind string
	}{
		{sys(syscall.ECONNREFUSED), KindRefused},
		{sys(syscall.ENETUNREACH), KindUnreachable},
		{sys(syscall.EHOSTUNREACH), KindUnreachable},
		{sys(syscall.EADDRNOTAVAIL), KindUnreachable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, KindTimeout},
		{errors.New("something else"), KindUnreachable},
	} {
		if kind, err := dialError(ctx, "192.0.2.1:25", tt.err); kind != tt.kind || err == nil {
			t.Errorf("dialError(%v) = %q, %v; want %q", tt.err, kind, err, tt.kind)
		}
	}
}

// FuzzReadReply feeds arbitrary server output to the reply reader: it must
// never panic, and what it accepts must respect the grammar and the limits.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 mx.example.com ESMTP\r\n",
		"250-mx\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n",
		"554 5.7.1 no\r\n",
		"220-a\n220 b\n",
		"250-x\r\n251 y\r\n",
		"220",
		"\x16\x03\x01\x00\x05hello",
		"220 \x1b[2J\xff\xfe\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(data)), maxLine)
		for range 10 {
			r, err := readReply(br)
			if err != nil {
				if strings.ContainsFunc(err.Error(), func(c rune) bool { return c < ' ' || c == 0x7f }) {
					t.Fatalf("error carries control characters: %q", err)
				}
				return
			}
			if r.code < 200 || r.code > 559 || len(r.lines) == 0 || len(r.lines) > maxReplyLines {
				t.Fatalf("accepted reply %d with %d lines", r.code, len(r.lines))
			}
			for _, l := range r.lines {
				if len(l) > maxLine || strings.ContainsAny(l, "\n") {
					t.Fatalf("accepted line %q", l)
				}
			}
			txt := r.text()
			if len(txt) > maxText+3 || !utf8.ValidString(txt) || strings.ContainsFunc(txt, func(c rune) bool { return !unicode.IsPrint(c) }) {
				t.Fatalf("text() = %q", txt)
			}
			for _, k := range ehloKeywords(r) {
				if !validKeyword(k) || k != strings.ToUpper(k) {
					t.Fatalf("keyword %q", k)
				}
			}
		}
	})
}
