// Package conn is what the network probes of checks (httpsprobe, smtpprobe)
// share about opening a TCP connection: the exact address to dial, the dial
// itself with the connection bound to the probe's context, and how a
// failed dial or I/O is classified. Each probe words its
// own messages and kinds from the Class.
package conn

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Target is addr:port as a dial target; a port outside 1-65535 is def.
// An IPv4-mapped IPv6 address is dialled as IPv4.
func Target(addr netip.Addr, port, def int) string {
	if port <= 0 || port > 65535 {
		port = def
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)).String()
}

// Dial connects over TCP to exactly target, within ctx (the zero Dialer
// uses no proxy), and binds the connection to ctx: its deadline is ctx's,
// and the end of ctx interrupts any blocked read or write (the deadline
// moves into the past). stop unbinds it, as context.AfterFunc's stop does:
// false when ctx has ended and the interruption is done or under way.
func Dial(ctx context.Context, target string) (c net.Conn, stop func() bool, err error) {
	var d net.Dialer
	c, err = d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	return c, stop, nil
}

// Class is why a dial failed.
type Class int

const (
	// Other is none of the below; the error says what.
	Other Class = iota
	// Refused means nothing listens on the port (ECONNREFUSED).
	Refused
	// Timeout means the deadline passed or the context ended (see IsTimeout).
	Timeout
	// NoRoute means the network or host is unreachable from here, or the
	// local address is not available.
	NoRoute
)

// Classify says why a dial failed.
func Classify(err error) Class {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case IsTimeout(err):
		return Timeout
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.ENETDOWN):
		return NoRoute
	}
	return Other
}

// IsTimeout reports whether err is a deadline, a cancelled context or a
// network timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		(errors.As(err, &ne) && ne.Timeout())
}
