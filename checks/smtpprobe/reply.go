package smtpprobe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/stspilot/stspilot/internal/printable"
)

// Limits on what a server may send. Every one of them is far above what a
// real MTA sends (RFC 5321 §4.5.3.1.5 caps a reply line at 512 octets) and far
// below what would hurt the prober.
const (
	// maxLine is the longest reply line accepted, CRLF included; it is also
	// the size of the bufio.Reader, so a line is never held twice.
	maxLine = 4 << 10
	// maxReplyLines caps the lines of one multi-line reply.
	maxReplyLines = 100
	// maxRead caps every byte read on one connection: SMTP replies before
	// and after STARTTLS and the TLS handshake (certificate chain included).
	// A real exchange reads well under 16 KiB.
	maxRead = 128 << 10
	// maxText caps the reply text kept for messages (Banner, errors).
	maxText = 200
)

// errReadLimit is returned once a connection has read maxRead bytes.
var errReadLimit = fmt.Errorf("the server sent more than %d KiB", maxRead>>10)

// protoError is a violation of the SMTP reply syntax (RFC 5321 §4.2) or of a
// size limit. Its text is safe to show: server bytes in it are sanitised.
type protoError struct{ msg string }

func (e *protoError) Error() string { return e.msg }

func protof(format string, args ...any) error {
	return &protoError{msg: fmt.Sprintf(format, args...)}
}

// reply is one complete, possibly multi-line, SMTP reply.
type reply struct {
	code int
	// lines holds the text after "NNN-" or "NNN " of each line, without the
	// line ending and unsanitised (callers sanitise what they display).
	lines []string
}

// text is the first line of the reply, sanitised and truncated for display.
func (r reply) text() string {
	if len(r.lines) == 0 {
		return ""
	}
	return sanitize(r.lines[0], maxText)
}

// String renders the reply as "554 first line" for error messages.
func (r reply) String() string {
	if t := r.text(); t != "" {
		return fmt.Sprintf("%d %s", r.code, t)
	}
	return fmt.Sprintf("%d", r.code)
}

// readReply reads one SMTP reply (RFC 5321 §4.2): lines "NNN-text" followed
// by a last line "NNN text" or "NNN", all with the same code. A bare LF is
// accepted as a line ending; a line longer than maxLine (the size of br's
// buffer), more than maxReplyLines lines, a malformed code or a code that
// changes within the reply are protocol errors. Read errors are returned
// wrapped so that callers can classify them (timeouts, closed connections).
func readReply(br *bufio.Reader) (reply, error) {
	var r reply
	for {
		raw, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return reply{}, protof("reply line longer than %d bytes (or no line ending), starting %q", br.Size(), sanitize(string(raw), 40))
		case err != nil && len(raw) > 0 && errors.Is(err, io.EOF):
			return reply{}, protof("connection closed in the middle of a reply line: %q", sanitize(string(raw), 40))
		case err != nil:
			return reply{}, err
		}
		line := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
		code, last, text, ok := parseLine(line)
		if !ok {
			return reply{}, protof("malformed reply line %q", sanitize(line, 60))
		}
		if r.lines == nil {
			r.code = code
		} else if code != r.code {
			return reply{}, protof("reply code changes from %d to %d within one reply", r.code, code)
		}
		r.lines = append(r.lines, text)
		if last {
			return r, nil
		}
		if len(r.lines) >= maxReplyLines {
			return reply{}, protof("reply has more than %d lines", maxReplyLines)
		}
	}
}

// parseLine splits one reply line (without its line ending) into the code,
// whether it is the last line of the reply, and the text. The code is three
// digits, the first 2 to 5 (RFC 5321 §4.2.1); it is followed by "-" (more
// lines follow), " " or nothing (last line).
func parseLine(line string) (code int, last bool, text string, ok bool) {
	if len(line) < 3 {
		return 0, false, "", false
	}
	for i := range 3 {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", false
		}
	}
	if line[0] < '2' || line[0] > '5' || line[1] > '5' {
		return 0, false, "", false
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, true, "", true
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], true
	case '-':
		return code, false, line[4:], true
	}
	return 0, false, "", false
}

// ehloKeywords returns the extension keywords of an EHLO reply: the first
// word of every line after the first, upper-cased (RFC 5321 §4.1.1.1: the
// first line carries the server's domain, the others one ehlo-line each).
// Words that are not valid ehlo-keywords (ALPHA / DIGIT, then also "-") are
// dropped rather than repeated back.
func ehloKeywords(r reply) []string {
	var kw []string
	for _, l := range r.lines[min(1, len(r.lines)):] {
		w, _, _ := strings.Cut(strings.TrimLeft(l, " "), " ")
		if validKeyword(w) {
			kw = append(kw, strings.ToUpper(w))
		}
	}
	return kw
}

func validKeyword(w string) bool {
	if w == "" || len(w) > 64 || w[0] == '-' {
		return false
	}
	for i := range len(w) {
		c := w[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// sanitize makes server-supplied text safe to print: invalid UTF-8 and
// non-printable runes (terminal escapes included) become "?", and the result
// is cut to at most n bytes on a rune boundary, with "..." when cut.
func sanitize(s string, n int) string {
	return printable.Shorten(printable.ReplaceUnprintable(s, '?'), n, "...")
}

// limitConn fails reads once maxRead bytes have been read in total, so that
// neither the SMTP dialogue nor the TLS handshake can be fed without end.
type limitConn struct {
	net.Conn
	left int
}

func (c *limitConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errReadLimit
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	return n, err
}
