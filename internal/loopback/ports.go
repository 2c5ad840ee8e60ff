package loopback

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// PortTries bounds how many ports the same-port functions try before they
// give up.
const PortTries = 50

// Pair is a UDP socket and a TCP listener on the same host and port, as an
// authoritative DNS server needs.
type Pair struct {
	UDP net.PacketConn
	TCP net.Listener
}

// Addr is the pair's host:port.
func (p Pair) Addr() string { return p.UDP.LocalAddr().String() }

// Port is the pair's port.
func (p Pair) Port() int { return p.UDP.LocalAddr().(*net.UDPAddr).Port }

// Close closes both sockets.
func (p Pair) Close() {
	_ = p.UDP.Close()
	_ = p.TCP.Close()
}

// ListenPair binds UDP and TCP on host at one port the kernel picks.
//
// The kernel picks the UDP port without regard to TCP, so the TCP bind on
// that port fails now and then ("address already in use") when a TCP
// socket of any process holds it. ListenPair then closes the UDP socket
// and tries a fresh port, PortTries times at most.
func ListenPair(host string) (Pair, error) {
	ps, err := ListenPairs(host)
	if err != nil {
		return Pair{}, err
	}
	return ps[0], nil
}

// ListenPairs binds a Pair on each of hosts, all on one port, trying fresh
// ports as ListenPair does. The first host picks the port.
func ListenPairs(hosts ...string) ([]Pair, error) {
	var out []Pair
	err := samePort(hosts, func(host string, port int) (int, error) {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil && port == 0 {
			return 0, pickError{err}
		} else if err != nil {
			return 0, err
		}
		port = pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			_ = pc.Close()
			return 0, err
		}
		out = append(out, Pair{UDP: pc, TCP: l})
		return port, nil
	}, func() {
		for _, p := range out {
			p.Close()
		}
		out = nil
	})
	return out, err
}

// ListenTCP binds a TCP listener on each of hosts, all on one port, trying
// fresh ports as ListenPair does. The first host picks the port.
func ListenTCP(hosts ...string) ([]net.Listener, error) {
	var out []net.Listener
	err := samePort(hosts, func(host string, port int) (int, error) {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil && port == 0 {
			return 0, pickError{err}
		} else if err != nil {
			return 0, err
		}
		out = append(out, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}, func() {
		for _, l := range out {
			_ = l.Close()
		}
		out = nil
	})
	return out, err
}

// retried is called before every fresh try (a hook for the tests).
var retried = func() {}

// pickError is a failure of the kernel to pick a port at all: no retry
// helps it.
type pickError struct{ err error }

func (e pickError) Error() string { return e.err.Error() }
func (e pickError) Unwrap() error { return e.err }

// samePort calls bind(host, port) for every host, the first with port 0
// (bind returns the port it got) and the others with that port. When a
// bind fails it calls closeAll and starts over with a fresh port,
// PortTries times at most; a pickError ends it at once.
func samePort(hosts []string, bind func(host string, port int) (int, error), closeAll func()) error {
	if len(hosts) == 0 {
		return errors.New("loopback: no host to listen on")
	}
	var last error
	for try := range PortTries {
		if try > 0 {
			retried()
		}
		port, ok := 0, true
		for i, h := range hosts {
			p, err := bind(h, port)
			if err != nil {
				var pe pickError
				if errors.As(err, &pe) {
					closeAll()
					return fmt.Errorf("loopback: listen on %s: %w", h, pe.err)
				}
				last, ok = err, false
				break
			}
			if i == 0 {
				port = p
			}
		}
		if ok {
			return nil
		}
		closeAll()
	}
	return fmt.Errorf("loopback: no port free on all of %v after %d tries: %w", hosts, PortTries, last)
}
