package journal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a lock holder: it locks the domain in
// the directory "DIR|DOMAIN", prints "locked" and waits for stdin to close.
const helperEnv = "STSPILOT_JOURNAL_TEST_HOLD"

func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		os.Exit(holdLock(v))
	}
	os.Exit(m.Run())
}

func holdLock(v string) int {
	dir, domain, _ := strings.Cut(v, "|")
	s, err := Open(dir)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	s.Command = "stspilot promote"
	h, err := s.Lock(domain)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := h.Close(); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

// holder starts a child process that holds domain's lock in dir.
func holder(t *testing.T, dir, domain string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir+"|"+domain)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	return cmd, stdin
}

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return t0 }
	return s
}

func lock(t *testing.T, s *Store, domain string) *Handle {
	t.Helper()
	h, err := s.Lock(domain)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	s := openStore(t)
	fi, err := os.Stat(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v, want 0700", fi.Mode().Perm())
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(f); err == nil {
		t.Error("Open accepted a regular file as the state directory")
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/lib/xdg")
	if d, err := DefaultDir(); err != nil || d != "/var/lib/xdg/stspilot" {
		t.Errorf("with XDG_STATE_HOME: %q, %v", d, err)
	}
	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	t.Setenv("HOME", "/home/op")
	if d, err := DefaultDir(); err != nil || d != "/home/op/.local/state/stspilot" {
		t.Errorf("without XDG_STATE_HOME: %q, %v", d, err)
	}
}

func TestSaveLoadRoundTripAndMode(t *testing.T) {
	s := openStore(t)
	h := lock(t, s, "EXAMPLE.com")
	if h.Domain() != "example.com" || h.Path() != filepath.Join(s.Dir(), "example.com.json") {
		t.Fatalf("handle: %s %s", h.Domain(), h.Path())
	}
	j, err := h.Load()
	if j != nil || err != nil {
		t.Fatalf("Load of a new domain: %v, %v", j, err)
	}
	j = full(t)
	j.StageSince = t0.Add(1500 * time.Millisecond).In(time.FixedZone("X", 3600))
	if err := h.Save(j); err != nil {
		t.Fatal(err)
	}
	if !j.StageSince.Equal(t0.Add(time.Second)) || j.StageSince.Location() != time.UTC {
		t.Errorf("Save did not round the caller's times to whole UTC seconds: %v", j.StageSince)
	}
	fi, err := os.Stat(h.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, j) {
		t.Fatalf("Load after Save:\n got %+v\nwant %+v", got, j)
	}
	peek, err := s.Peek("example.com.")
	if err != nil || !reflect.DeepEqual(peek, j) {
		t.Fatalf("Peek: %+v, %v", peek, err)
	}
	if d, err := s.Domains(); err != nil || len(d) != 1 || d[0] != "example.com" {
		t.Fatalf("Domains: %q, %v", d, err)
	}
	if p, err := s.Peek("other.example"); p != nil || err != nil {
		t.Fatalf("Peek of a domain without a journal: %v, %v", p, err)
	}

	// The written-before, written-after pattern across Saves.
	id := got.Append(Entry{Kind: KindTXTDelete, Name: "_mta-sts.example.com"}, t0)
	if err := h.Save(got); err != nil {
		t.Fatal(err)
	}
	if err := got.Finish(id, Done, t0, ""); err != nil {
		t.Fatal(err)
	}
	got.Entry(id).Changed = true
	if err := h.Save(got); err != nil {
		t.Fatal(err)
	}
	again, _ := s.Peek("example.com")
	if e := again.Entry(id); e == nil || e.Status != Done || !e.Changed {
		t.Fatalf("completed entry: %+v", e)
	}
}

func TestSaveRefusesToRewriteHistory(t *testing.T) {
	s := openStore(t)
	h := lock(t, s, "example.com")
	j := full(t) // entries: 1 done, 2 failed, 3 pending
	if err := h.Save(j); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(h.Path())
	tests := []struct {
		name   string
		mutate func(j *Journal)
	}{
		{"drop an entry", func(j *Journal) { j.Entries = j.Entries[1:] }},
		{"drop the last entry", func(j *Journal) { j.Entries = j.Entries[:2] }},
		{"edit a done entry", func(j *Journal) { j.Entries[0].After = "something else" }},
		{"reopen a failed entry", func(j *Journal) { j.Entries[1].Status = Pending }},
		{"replace a pending entry", func(j *Journal) { j.Entries[2].Kind = KindPolicyWrite }},
		{"another domain", func(j *Journal) { j.Domain = "example.org" }},
		{"invalid", func(j *Journal) { j.Stage = "party" }},
	}
	for _, tt := range tests {
		loaded, err := h.Load()
		if err != nil {
			t.Fatal(err)
		}
		tt.mutate(loaded)
		if err := h.Save(loaded); err == nil {
			t.Errorf("%s: saved", tt.name)
		}
		if now, _ := os.ReadFile(h.Path()); !bytes.Equal(now, saved) {
			t.Fatalf("%s: the file changed", tt.name)
		}
	}
	// Completing the pending entry is what Save allows.
	j, _ = h.Load()
	j.Entries[2].Before, j.Entries[2].TTL = "v=STSv1; id=x", 300
	if err := j.Finish(3, Done, t0, ""); err != nil {
		t.Fatal(err)
	}
	if err := h.Save(j); err != nil {
		t.Fatalf("completing a pending entry: %v", err)
	}
}

// A Save interrupted at any stage before the rename leaves the previous
// journal byte-identical and no temporary file behind.
func TestInterruptedSaveKeepsOldFile(t *testing.T) {
	for _, stage := range []string{"write", "sync", "rename"} {
		t.Run(stage, func(t *testing.T) {
			s := openStore(t)
			h := lock(t, s, "example.com")
			if err := h.Save(full(t)); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(h.Path())
			j, _ := h.Load()
			j.Append(Entry{Kind: KindTXTSet, Name: "_mta-sts.example.com"}, t0)
			boom := errors.New("power cut")
			s.hook = func(st string) error {
				if st == stage {
					return boom
				}
				return nil
			}
			if err := h.Save(j); !errors.Is(err, boom) {
				t.Fatalf("Save: %v, want the hook's error", err)
			}
			after, _ := os.ReadFile(h.Path())
			if !bytes.Equal(before, after) {
				t.Fatal("the journal changed")
			}
			if names := dirNames(t, s.Dir()); strings.Contains(names, ".tmp-") {
				t.Fatalf("temporary file left: %s", names)
			}
			s.hook = nil
			if err := h.Save(j); err != nil {
				t.Fatalf("Save after the failure: %v", err)
			}
		})
	}
}

func dirNames(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return strings.Join(n, " ")
}

// A process killed mid-Save leaves a temporary file; it is never read as
// the journal, and the next Lock removes it.
func TestKilledSaveTempFileIsIgnoredAndCleaned(t *testing.T) {
	s := openStore(t)
	h := lock(t, s, "example.com")
	if err := h.Save(full(t)); err != nil {
		t.Fatal(err)
	}
	h.Close()
	tmp := filepath.Join(s.Dir(), ".example.com.json.tmp-12345")
	os.WriteFile(tmp, []byte(`{"schema":"stspilot.journal/v1","dom`), 0o600)
	other := filepath.Join(s.Dir(), ".example.org.json.tmp-1")
	os.WriteFile(other, nil, 0o600)
	if j, err := s.Peek("example.com"); err != nil || len(j.Entries) != 3 {
		t.Fatalf("Peek with a temp file around: %v", err)
	}
	lock(t, s, "example.com")
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Error("Lock left the temporary file of an interrupted Save")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("Lock removed another domain's temporary file")
	}
}

func TestLockHeldByAnotherProcess(t *testing.T) {
	s := openStore(t)
	cmd, stdin := holder(t, s.Dir(), "example.com")

	_, err := s.Lock("Example.com")
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while a child holds it: %v, want *LockedError", err)
	}
	host, _ := os.Hostname()
	if le.Holder.PID != cmd.Process.Pid || le.Holder.Host != host || le.Holder.Command != "stspilot promote" || le.Holder.Since.IsZero() {
		t.Fatalf("holder %+v, want pid %d on %s", le.Holder, cmd.Process.Pid, host)
	}
	for _, want := range []string{"example.com", fmt.Sprintf("pid %d", cmd.Process.Pid), "stspilot promote", "since"} {
		if !strings.Contains(le.Error(), want) {
			t.Errorf("%q does not say %q", le.Error(), want)
		}
	}
	// Other domains are not affected, and Peek needs no lock.
	lock(t, s, "example.org")
	if _, err := s.Peek("example.com"); err != nil {
		t.Fatal(err)
	}

	// The holder exits normally: the lock is free.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	h := lock(t, s, "example.com")
	if h.Holder().PID != os.Getpid() {
		t.Fatalf("holder after takeover: %+v", h.Holder())
	}
}

// A holder killed with SIGKILL leaves its lock file with its pid in it;
// the kernel dropped the flock, so the next Lock takes it over.
func TestStaleLockFileIsTakenOver(t *testing.T) {
	s := openStore(t)
	cmd, _ := holder(t, s.Dir(), "example.com")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	b, _ := os.ReadFile(filepath.Join(s.Dir(), "example.com.lock"))
	if !bytes.Contains(b, []byte(fmt.Sprintf(`"pid":%d`, cmd.Process.Pid))) {
		t.Fatalf("the killed holder's lock file: %s", b)
	}
	h := lock(t, s, "example.com")
	b, _ = os.ReadFile(filepath.Join(s.Dir(), "example.com.lock"))
	if !bytes.Contains(b, []byte(fmt.Sprintf(`"pid":%d`, os.Getpid()))) {
		t.Fatalf("lock file after takeover: %s", b)
	}
	fi, _ := os.Stat(filepath.Join(s.Dir(), "example.com.lock"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v", fi.Mode().Perm())
	}
	if h.Run() != fmt.Sprintf("20261129T050000Z-%d", os.Getpid()) {
		t.Errorf("Run() = %q", h.Run())
	}
}

func TestLockInSameProcessAndClose(t *testing.T) {
	s := openStore(t)
	h, err := s.Lock("example.com")
	if err != nil {
		t.Fatal(err)
	}
	var le *LockedError
	if _, err := s.Lock("example.com"); !errors.As(err, &le) || le.Holder.PID != os.Getpid() {
		t.Fatalf("second Lock in the same process: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := h.Save(full(t)); err == nil {
		t.Fatal("Save after Close")
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir(), "example.com.lock")); len(b) != 0 {
		t.Errorf("Close left the holder in the lock file: %s", b)
	}
	h2, err := s.LockAs("example.com", "stspilot\x1b]0;owned\x07 teardown")
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if h2.Holder().Command != "stspilot]0;owned teardown" || s.Command == h2.Holder().Command {
		t.Errorf("LockAs recorded %q (store command %q)", h2.Holder().Command, s.Command)
	}
	if _, err := s.Lock("../example.com"); err == nil {
		t.Fatal("Lock accepted a path")
	}
}

// failingLockFile fails at one step of writeHolder.
type failingLockFile struct {
	failAt string
	synced bool
}

var errDiskFull = errors.New("no space left on device")

func (f *failingLockFile) Truncate(int64) error {
	if f.failAt == "truncate" {
		return errDiskFull
	}
	return nil
}

func (f *failingLockFile) WriteAt(b []byte, _ int64) (int, error) {
	if f.failAt == "write" {
		return 0, errDiskFull
	}
	return len(b), nil
}

func (f *failingLockFile) Sync() error {
	if f.failAt == "sync" {
		return errDiskFull
	}
	f.synced = true
	return nil
}

// A lock file whose holder cannot be written is an error at every step
// (the error of the write and of the fsync was once lost), and LockAs then
// gives the lock back.
func TestLockFileWriteFailure(t *testing.T) {
	s := openStore(t)
	for _, step := range []string{"truncate", "write", "sync"} {
		f := &failingLockFile{failAt: step}
		if err := s.writeHolder(f, []byte("{}\n")); !errors.Is(err, errDiskFull) {
			t.Errorf("writeHolder failing at %s: %v, want the failure", step, err)
		}
	}
	f := &failingLockFile{}
	if err := s.writeHolder(f, []byte("{}\n")); err != nil || !f.synced {
		t.Fatalf("writeHolder: %v, synced %v", err, f.synced)
	}

	s.hook = func(st string) error {
		if st == "lock" {
			return errDiskFull
		}
		return nil
	}
	if h, err := s.Lock("example.com"); !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "example.com.lock") {
		t.Fatalf("Lock with a failing lock file write: %v, %v", h, err)
	}
	s.hook = nil
	h := lock(t, s, "example.com") // the failed Lock released the flock
	if h.Holder().PID != os.Getpid() {
		t.Fatalf("holder %+v", h.Holder())
	}
}

// corruptions are files a journal can turn into; each must be reported as
// *CorruptError, survive Load and Save byte for byte, and be movable aside
// only by Quarantine.
var corruptions = map[string][]byte{
	"bad json":       []byte(`{"schema": "stspilot.journal/v1", "domain": "example.com", "entries": [}`),
	"binary":         {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff},
	"truncated":      nil, // filled from a real journal
	"empty":          {},
	"other domain":   []byte(`{"schema": "stspilot.journal/v1", "domain": "example.org", "stage": "", "entries": []}`),
	"unknown fields": []byte(`{"schema": "stspilot.journal/v1", "domain": "example.com", "stage": "", "cloudflare_api_token": "x", "entries": []}`),
}

func TestCorruptJournalIsLeftUntouched(t *testing.T) {
	good, _ := Encode(full(t))
	corruptions["truncated"] = good[:len(good)-40]
	for name, data := range corruptions {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			path := filepath.Join(s.Dir(), "example.com.json")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			h := lock(t, s, "example.com")
			_, err := h.Load()
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Path != path || ce.Reason == "" {
				t.Fatalf("Load: %v, want *CorruptError for %s", err, path)
			}
			if !strings.Contains(err.Error(), "left untouched") {
				t.Errorf("%q does not say the file is left alone", err)
			}
			if _, err := s.Peek("example.com"); !errors.As(err, &ce) {
				t.Errorf("Peek: %v", err)
			}
			j, _ := New("example.com")
			if err := h.Save(j); !errors.As(err, &ce) {
				t.Fatalf("Save over a corrupt journal: %v", err)
			}
			// Save without a Load first refuses too.
			h.Close()
			h2 := lock(t, s, "example.com")
			if err := h2.Save(j); !errors.As(err, &ce) {
				t.Fatalf("Save without Load over a corrupt journal: %v", err)
			}
			if now, _ := os.ReadFile(path); !bytes.Equal(now, data) {
				t.Fatal("the corrupt journal changed")
			}

			dst, err := h2.Quarantine()
			if err != nil {
				t.Fatal(err)
			}
			if dst != path+".corrupt-20261129T050000Z" {
				t.Errorf("quarantined to %s", dst)
			}
			if moved, _ := os.ReadFile(dst); !bytes.Equal(moved, data) {
				t.Fatal("quarantine changed the bytes")
			}
			if err := h2.Save(j); err != nil {
				t.Fatalf("Save after Quarantine: %v", err)
			}
			if d, _ := s.Domains(); len(d) != 1 {
				t.Errorf("Domains lists quarantined files: %q", d)
			}
		})
	}
}

func TestQuarantineRefusals(t *testing.T) {
	s := openStore(t)
	h := lock(t, s, "example.com")
	if _, err := h.Quarantine(); err == nil || !strings.Contains(err.Error(), "no journal") {
		t.Fatalf("Quarantine without a journal: %v", err)
	}
	if err := h.Save(full(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Quarantine(); err == nil || !strings.Contains(err.Error(), "valid journal") {
		t.Fatalf("Quarantine of a valid journal: %v", err)
	}
	// Two quarantines in the same second get different names.
	os.WriteFile(h.Path(), []byte("x"), 0o600)
	first, err := h.Quarantine()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(h.Path(), []byte("y"), 0o600)
	second, err := h.Quarantine()
	if err != nil || second == first {
		t.Fatalf("second quarantine: %s, %v", second, err)
	}
	if b, _ := os.ReadFile(first); string(b) != "x" {
		t.Fatal("the second quarantine overwrote the first")
	}
}

func TestNewerSchemaIsRefusedAndKept(t *testing.T) {
	s := openStore(t)
	data := []byte(`{"schema": "stspilot.journal/v4", "domain": "example.com", "new_thing": {"a": 1}}` + "\n")
	path := filepath.Join(s.Dir(), "example.com.json")
	os.WriteFile(path, data, 0o600)
	h := lock(t, s, "example.com")
	_, err := h.Load()
	var se *SchemaError
	if !errors.As(err, &se) || se.Path != path || se.Found != "stspilot.journal/v4" {
		t.Fatalf("Load: %v", err)
	}
	j, _ := New("example.com")
	if err := h.Save(j); !errors.As(err, &se) {
		t.Fatalf("Save over a newer journal: %v", err)
	}
	if _, err := h.Quarantine(); err == nil {
		t.Fatal("quarantined a newer journal instead of asking for an upgrade")
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, data) {
		t.Fatal("the newer journal changed")
	}
}

func TestNonRegularJournalFiles(t *testing.T) {
	s := openStore(t)
	path := filepath.Join(s.Dir(), "example.com.json")
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	good, _ := Encode(full(t))
	os.WriteFile(target, good, 0o600)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, err := s.Peek("example.com"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Peek through a symlink: %v", err)
	}
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek("example.com"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Peek of a FIFO: %v", err)
	}
	os.Remove(path)
	os.Symlink(target, filepath.Join(s.Dir(), "example.org.lock"))
	if _, err := s.Lock("example.org"); err == nil {
		t.Fatal("Lock followed a symlinked lock file")
	}
}

func TestSizeCapOnRead(t *testing.T) {
	s := openStore(t)
	path := filepath.Join(s.Dir(), "example.com.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: a valid start, then zeros past the cap.
	f.WriteString(`{"schema": "stspilot.journal/v1", "domain": "example.com", "entries": []}`)
	f.Truncate(MaxSize + 1)
	f.Close()
	var ce *CorruptError
	if _, err := s.Peek("example.com"); !errors.As(err, &ce) || !strings.Contains(ce.Reason, "limit") {
		t.Fatalf("Peek of an oversized journal: %v", err)
	}
}

// Peek while another goroutine saves a growing journal never sees a
// partial document: every read decodes, and the history never shrinks.
func TestPeekDuringSavesSeesWholeDocuments(t *testing.T) {
	s := openStore(t)
	h := lock(t, s, "example.com")
	j := full(t)
	if err := h.Save(j); err != nil {
		t.Fatal(err)
	}
	const saves = 40
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		last, reads := 0, 0
		for {
			select {
			case <-stop:
				if reads == 0 {
					errs <- errors.New("no reads")
				}
				return
			default:
			}
			p, err := s.Peek("example.com")
			if err != nil {
				errs <- err
				return
			}
			if len(p.Entries) < last {
				errs <- fmt.Errorf("history shrank from %d to %d entries", last, len(p.Entries))
				return
			}
			last = len(p.Entries)
			reads++
		}
	}()
	pad := strings.Repeat("policy line\r\n", 100) // big enough that a write is not one syscall's worth of luck
	for i := 0; i < saves; i++ {
		id := j.Append(Entry{Kind: KindPolicyWrite, Name: "https://mta-sts.example.com/.well-known/mta-sts.txt", PolicyText: pad}, t0)
		if err := h.Save(j); err != nil {
			t.Fatal(err)
		}
		j.Finish(id, Done, t0, "")
		if err := h.Save(j); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if p, _ := s.Peek("example.com"); len(p.Entries) != 3+saves {
		t.Fatalf("%d entries", len(p.Entries))
	}
}

// TestOpenExisting: the read-only opener never creates the state
// directory; a missing one holds no journals, and a write fails.
func TestOpenExisting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	st, err := OpenExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	if j, err := st.Peek("example.com"); j != nil || err != nil {
		t.Errorf("Peek in a missing directory: %v, %v", j, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("OpenExisting created %s: %v", dir, err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := OpenExisting(file); err == nil {
		t.Error("a file as the state directory was accepted")
	}
}
