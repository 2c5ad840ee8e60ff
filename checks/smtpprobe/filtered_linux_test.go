package smtpprobe_test

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// filteredPort returns a loopback port whose SYNs go unanswered, as behind a
// firewall that drops port 25: a listener whose accept queue (backlog 0) is
// full and never accepted from. Linux drops SYNs to a full queue unless
// net.ipv4.tcp_abort_on_overflow is set; the test is skipped then.
func filteredPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), 0) }); err != nil || lerr != nil {
		t.Skipf("cannot shrink the backlog: %v %v", err, lerr)
	}
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	for range 8 {
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return l.Addr().(*net.TCPAddr).Port
			}
			t.Skipf("cannot fill the accept queue: %v", err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the accept queue never filled")
	return 0
}
