package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// EDNSSize is the EDNS0 UDP payload size advertised in every query, and the
// size of the buffer a UDP reply is read into. 1232 octets is the DNS flag
// day 2020 value: a reply of that size fits, with its IP and UDP headers,
// in the 1280-octet IPv6 minimum MTU, so it is never fragmented (fragments
// are often dropped, and can be spoofed). A larger answer comes back with
// the TC bit set and is asked again over TCP, whose messages the protocol
// caps at 64 KiB.
const EDNSSize = 1232

// DefaultTimeout bounds one exchange with one server when the caller gives
// no timeout.
const DefaultTimeout = 3 * time.Second

// Tries is how many times an exchange sends its query over UDP to a server
// that does not answer, as a stub resolver does (the C library's resolv.conf
// "options attempts:2"): one lost datagram, the query's or the reply's,
// costs one try, not the lookup. The exchange's timeout is split evenly
// between the tries; every resend carries the same ID, so a late reply to
// an earlier one is taken as well.
const Tries = 2

// ErrBadReply is matched (errors.Is) by the error of an exchange whose reply
// does not answer the question: malformed, QR bit not set, another opcode,
// ID, name, type or class.
var ErrBadReply = errors.New("reply does not match the question")

// ReplyError is a reply that does not answer the question. It matches
// ErrBadReply, and unwraps to miekg/dns's error when there is one.
type ReplyError struct {
	Reason string
	Err    error
}

func (e *ReplyError) Error() string        { return e.Reason }
func (e *ReplyError) Unwrap() error        { return e.Err }
func (e *ReplyError) Is(target error) bool { return target == ErrBadReply }

// Exchange asks q at server (IP:PORT, or HOST:PORT, which the dialer
// resolves) over UDP, and again over TCP when the UDP reply has the TC bit
// set, and returns the reply. q is not modified; what is sent is a copy
// with an EDNS0 OPT record advertising EDNSSize, unless q has one.
//
// A UDP query that gets no reply within its share of the time is sent
// again, Tries times in all (see Tries), on the same socket and with the
// same ID; the first reply with that ID ends the wait.
//
// The whole exchange (every UDP try and the TCP retry) is bounded by
// timeout (DefaultTimeout when not positive) and by ctx: the deadline
// bounds every dial, write and read, and ctx ending closes the connection,
// which ends a blocked read at once.
//
// The reply must answer q (miekg/dns checks the ID; a UDP reply with another
// ID is ignored): otherwise the error matches ErrBadReply. A reply without a
// question section is accepted only with an error rcode (some servers send
// REFUSED or FORMERR that way). Any rcode is returned as is: what it means
// is the caller's business.
//
// On failure the error is, in this order: ctx's cause when ctx ended;
// context.DeadlineExceeded when ctx's deadline passed; an error wrapping
// context.DeadlineExceeded that says "no reply within" timeout when the
// timeout passed; a *ReplyError; or the network error.
func Exchange(ctx context.Context, q *dns.Msg, server string, timeout time.Duration) (*dns.Msg, error) {
	return ExchangeTries(ctx, q, server, timeout, Tries)
}

// ExchangeTries is [Exchange] sending an unanswered UDP query tries times
// in all (Tries when not positive, at most MaxAttempts), as a resolv.conf's
// "options attempts:N" asks (see [ResolvConf]); timeout still bounds the
// whole exchange and is split evenly between the tries.
func ExchangeTries(ctx context.Context, q *dns.Msg, server string, timeout time.Duration, tries int) (*dns.Msg, error) {
	if tries <= 0 {
		tries = Tries
	}
	tries = min(tries, MaxAttempts)
	if !slog.Default().Enabled(ctx, slog.LevelDebug) {
		return exchange(ctx, q, server, timeout, tries)
	}
	start := time.Now()
	reply, err := exchange(ctx, q, server, timeout, tries)
	args := []any{"server", server, "took", time.Since(start).Round(time.Microsecond)}
	if len(q.Question) == 1 {
		args = append(args, "name", q.Question[0].Name, "type", dns.TypeToString[q.Question[0].Qtype])
	}
	if reply != nil {
		args = append(args, "rcode", dns.RcodeToString[reply.Rcode], "answers", len(reply.Answer))
	}
	if err != nil {
		args = append(args, "err", err)
	}
	slog.DebugContext(ctx, "dns query", args...) // stspilot --debug
	return reply, err
}

func exchange(ctx context.Context, q *dns.Msg, server string, timeout time.Duration, tries int) (*dns.Msg, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if len(q.Question) != 1 {
		return nil, fmt.Errorf("dnsclient: a query has one question, not %d", len(q.Question))
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	q = q.Copy()
	if q.IsEdns0() == nil {
		q.SetEdns0(EDNSSize, false)
	}
	errTimeout := fmt.Errorf("no reply within %v: %w", timeout, context.DeadlineExceeded)
	qctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer cancel()

	reply, err := sendTries(qctx, "udp", server, q, timeout, tries)
	if err == nil && reply.Truncated {
		reply, err = sendTries(qctx, "tcp", server, q, timeout, 1)
	}
	if err != nil {
		var de *dns.Error
		if errors.As(err, &de) {
			err = &ReplyError{Reason: err.Error(), Err: err}
		}
		return nil, deadlineCause(ctx, qctx, errTimeout, err)
	}
	if err := Matches(reply, q); err != nil {
		return nil, err
	}
	return reply, nil
}

// sendTries sends q to server over network ("udp" or "tcp") and reads the
// reply, sending q again on the same connection when a try's share of the
// time passes without one: tries sends, the time left before ctx's
// deadline split evenly between them (the last one waits until that
// deadline). Only a try that timed out is followed by another; an error or
// a reply ends the exchange. The context's deadline bounds every read and
// write, and cancelling the context closes the connection, which ends a
// blocked read at once.
func sendTries(ctx context.Context, network, server string, q *dns.Msg, timeout time.Duration, tries int) (*dns.Msg, error) {
	c := &dns.Client{Net: network, UDPSize: EDNSSize, Timeout: timeout}
	co, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { co.Close() })
	defer stop()
	share := timeout / time.Duration(tries)
	if d, ok := ctx.Deadline(); ok {
		share = time.Until(d) / time.Duration(tries)
	}
	for try := 1; ; try++ {
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if try < tries {
			tctx, cancel = context.WithTimeout(ctx, share)
		}
		reply, _, err := c.ExchangeWithConnContext(tctx, q, co)
		cancel()
		var ne net.Error
		if err == nil || try >= tries || ctx.Err() != nil || !errors.As(err, &ne) || !ne.Timeout() {
			return reply, err
		}
	}
}

// deadlineCause returns what ended a failed exchange: the caller's context
// (ctx), the exchange's timeout (qctx, errTimeout), or err itself. A read
// deadline can expire an instant before the context's timer fires, so an
// expired deadline counts even while Err is still nil.
func deadlineCause(ctx, qctx context.Context, errTimeout, err error) error {
	expired := func(c context.Context) bool {
		d, ok := c.Deadline()
		return ok && !time.Now().Before(d)
	}
	var ne net.Error
	timedOut := errors.As(err, &ne) && ne.Timeout()
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case timedOut && expired(ctx):
		return context.DeadlineExceeded
	case qctx.Err() != nil, timedOut && expired(qctx):
		return errTimeout
	}
	return err
}

// Matches checks that reply answers q, as Exchange does: QR set, opcode
// QUERY, and the question of q (name compared without regard to case). A
// reply without a question section is accepted only with an error rcode.
// The error is a *ReplyError.
func Matches(reply, q *dns.Msg) error {
	bad := func(format string, a ...any) error {
		return &ReplyError{Reason: fmt.Sprintf(format, a...)}
	}
	if !reply.Response {
		return bad("QR bit not set")
	}
	if reply.Opcode != dns.OpcodeQuery {
		return bad("opcode %s", dns.OpcodeToString[reply.Opcode])
	}
	if len(reply.Question) == 0 {
		if reply.Rcode == dns.RcodeSuccess || reply.Rcode == dns.RcodeNameError {
			return bad("no question section")
		}
		return nil
	}
	if len(reply.Question) != 1 {
		return bad("%d questions", len(reply.Question))
	}
	got, want := reply.Question[0], q.Question[0]
	if !strings.EqualFold(got.Name, want.Name) || got.Qtype != want.Qtype || got.Qclass != want.Qclass {
		return bad("reply is for %s %s %s", got.Name, dns.ClassToString[got.Qclass], dns.TypeToString[got.Qtype])
	}
	return nil
}
