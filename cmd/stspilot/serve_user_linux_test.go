package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/testca"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/serve"
)

// The user and group set-up of docs/serve.md, for real: the operator (root
// here) owns the state directory, its journals 0600 and lock files in it;
// STATE is 0710 and STATE/publish 2750 in the group; serve runs as another
// user (uid 65534) in that group with a reports directory of its own. It
// serves the policy with the id file's id, stores a report, and stops with
// 130, never having been able to read a journal.
func TestServeRunsAsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run serve as another user")
	}
	const uid, gid = 65534, 64999 // nobody, and a group of its own for the test
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The binary, where the serve user may run it.
	bin := filepath.Join(base, "stspilot")
	self, rerr := os.ReadFile(os.Args[0])
	if rerr != nil {
		t.Fatal(rerr)
	}
	must(t, os.WriteFile(bin, self, 0o755))

	// The operator's state directory: a journal, then the group set-up.
	state := filepath.Join(base, "state")
	st, oerr := journal.Open(state)
	must(t, oerr)
	h, lerr := st.Lock("a.test")
	must(t, lerr)
	j, _ := journal.New("a.test")
	policy := "version: STSv1\nmode: testing\nmx: mx1.a.test\nmax_age: 86400\n"
	j.Policy = &journal.Policy{Text: policy, ID: "20261206000000journal0", PolicyTerms: journal.PolicyTerms{Mode: "testing", MaxAge: 86400, MX: []string{"mx1.a.test"}}}
	must(t, h.Save(j))
	h.Close()
	publish := filepath.Join(state, "publish")
	must(t, os.Mkdir(publish, 0o750))
	must(t, os.Chown(state, 0, gid))
	must(t, os.Chmod(state, 0o710))
	must(t, os.Chown(publish, 0, gid))
	must(t, os.Chmod(publish, 0o750|fs.ModeSetgid))
	// The workflow publishes (the serve publisher, as the operator).
	_, perr := (&workflow.Serve{StateDir: state}).PublishID(context.Background(), "a.test", []byte(policy), "20261206120000abcdefgh")
	must(t, perr)
	if fi, _ := os.Stat(filepath.Join(state, "a.test.json")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode %v, want 0600 (unreadable to serve's user)", fi.Mode())
	}

	// The set-up holds: serve's user cannot read a journal, or list STATE.
	cred := &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{gid}}
	for _, args := range [][]string{{"cat", filepath.Join(state, "a.test.json")}, {"ls", state}} {
		probe := exec.Command(args[0], args[1:]...)
		probe.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, cerr := probe.CombinedOutput(); cerr == nil {
			t.Fatalf("%v as uid %d succeeded: the test's set-up is wrong\n%s", args, uid, out)
		}
	}

	// Serve's own directory, and its certificate.
	reports := filepath.Join(base, "serve-reports")
	must(t, os.Mkdir(reports, 0o750))
	must(t, os.Chown(reports, uid, gid))
	must(t, os.Chmod(reports, 0o750|fs.ModeSetgid))
	ca := testca.MustNew(t, testca.Options{Name: "serve user test CA", NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	certDir := filepath.Join(base, "certs")
	must(t, os.Mkdir(certDir, 0o755))
	certFile, keyFile := ca.MustWritePEM(t, certDir, testca.Leaf{Names: []string{"mta-sts.a.test"}, CommonName: "mta-sts.a.test", NotAfter: time.Now().Add(time.Hour)})
	must(t, os.Chown(keyFile, uid, gid))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	// Outside the group, serve refuses to start and says why, rather than
	// answering 404 for every domain.
	outsider := exec.Command(bin, "--config", "/dev/null", "serve", "--listen", addr, "--state-dir", state,
		"--reports-dir", reports, "--tls-cert", certFile, "--tls-key", keyFile, "--rua-path", "-")
	outsider.Env = []string{mainEnv + "=1", "HOME=/nonexistent"}
	outsider.Dir = "/"
	outsider.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	out, oerr := outsider.CombinedOutput()
	var oee *exec.ExitError
	if !errors.As(oerr, &oee) || oee.ExitCode() != exitFailure || !strings.Contains(string(out), "reading the publish directory") {
		t.Errorf("serve outside the group: %v\n%s\nwant exit %d naming the publish directory", oerr, out, exitFailure)
	}
	cmd := exec.Command(bin, "--config", "/dev/null", "serve", "--listen", addr, "--state-dir", state,
		"--reports-dir", reports, "--tls-cert", certFile, "--tls-key", keyFile, "--access-log", "-")
	cmd.Env = []string{mainEnv + "=1", "HOME=/nonexistent", "PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stderr syncBuf
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()

	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "mta-sts.a.test"},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	url := "https://mta-sts.a.test/.well-known/mta-sts.txt"
	var resp *http.Response
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err = c.Get(url)
		if err == nil || time.Now().After(deadline) {
			break
		}
		select {
		case werr := <-done:
			done <- werr
			t.Fatalf("serve exited: %v\n%s", werr, stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		t.Fatalf("GET: %v\n%s", err, stderr.String())
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != policy {
		t.Fatalf("policy fetch as uid %d: %d %q\n%s", uid, resp.StatusCode, body, stderr.String())
	}
	report, err := os.ReadFile(filepath.Join(reportCorpus, "rfc8460-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The receiver takes reports about the domain of its host only.
	report = bytes.ReplaceAll(report, []byte(`"policy-domain": "company-y.example"`), []byte(`"policy-domain": "a.test"`))
	resp, err = c.Post("https://mta-sts.a.test/tlsrpt", "application/tlsrpt+json", bytes.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("report POST: %d, want 201\n%s", resp.StatusCode, stderr.String())
	}
	stored, _ := filepath.Glob(filepath.Join(reports, "a.test", "*", "*.json.gz"))
	if len(stored) != 1 {
		t.Fatalf("stored reports %v", stored)
	}
	if fi, serr := os.Stat(stored[0]); serr != nil || fi.Mode().Perm() != 0o640 || fi.Sys().(*syscall.Stat_t).Uid != uid || fi.Sys().(*syscall.Stat_t).Gid != gid {
		t.Errorf("stored report %v %v, want 0640 owned by serve's user in its group", fi, serr)
	}

	must(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err = <-done:
		done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("serve after SIGTERM: %v, want exit %d\n%s", err, exitInterrupted, stderr.String())
	}
	var logged bool
	for _, line := range strings.Split(stderr.String(), "\n") {
		var e serve.AccessEntry
		if json.Unmarshal([]byte(line), &e) == nil && e.Domain == "a.test" && e.Status == 200 {
			logged = true
			if e.PolicyID != "20261206120000abcdefgh" {
				t.Errorf("access log policy id %q, want the id file's", e.PolicyID)
			}
		}
	}
	if !logged {
		t.Errorf("no access log line for the fetch:\n%s", stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "permission denied") || strings.Contains(s, "warning") {
		t.Errorf("serve's stderr:\n%s", s)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
