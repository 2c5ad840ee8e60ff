// Package serve is the built-in policy host and TLS-RPT receiver behind
// `stspilot serve`: it serves the policies the serve publisher leaves in the
// state directory (STATE/serve/DOMAIN/mta-sts.txt) at
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt, and stores TLS-RPT
// reports POSTed to the rua path under STATE/reports/.
//
// It is built to be the host senders cannot trip over (field failures 1 to
// 4): the exact bytes, status 200, Content-Type text/plain, never a
// redirect (STS-FETCH-5, -6, -9), bounded in every dimension a hostile client
// could stretch.
package serve

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
)

// MaxPolicySize caps a policy file read from the state directory: senders
// cap the fetch at 64 KiB (STS-FETCH-10), so a larger file is an error.
const MaxPolicySize = 64 << 10

// Policies reads the serve publisher's files from a state directory. It
// stats the file on every lookup and rereads it only when it changed (a new
// inode from the publisher's rename, or another size or mtime), so a
// workflow's publish is served on the next request without a restart.
// Safe for concurrent use.
type Policies struct {
	StateDir string

	mu    sync.Mutex
	cache map[string]*entry // normalised domain -> its policy
}

type entry struct {
	fi   fs.FileInfo
	data []byte
	// jfi is the journal file's FileInfo when id was computed (nil: none).
	jfi fs.FileInfo
	id  string
}

// Policy is a policy ready to serve.
type Policy struct {
	Domain string
	Data   []byte
	// ID is the policy id the journal gives these exact bytes ("" when the
	// journal cannot tell, e.g. it is not readable by this user).
	ID string
}

// ErrNoPolicy is returned for a domain without a served policy.
var ErrNoPolicy = errors.New("no policy for this domain")

// Lookup returns the policy of domain (normalised by the caller or not).
func (p *Policies) Lookup(domain string) (Policy, error) {
	d, err := domainname.Normalize(domain)
	if err != nil {
		return Policy{}, ErrNoPolicy
	}
	path, err := workflow.ServePolicyPath(p.StateDir, d)
	if err != nil {
		return Policy{}, ErrNoPolicy
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		p.forget(d)
		return Policy{}, ErrNoPolicy
	}
	p.mu.Lock()
	e := p.cache[d]
	p.mu.Unlock()
	fresh := e == nil || !sameFile(e.fi, fi)
	if fresh {
		// Read through one descriptor and cache its FileInfo with the
		// bytes: the publisher replaces the file by rename, so an inode's
		// content never changes and the pair cannot mismatch.
		data, ofi, err := readFile(path, MaxPolicySize)
		if err != nil {
			p.forget(d)
			return Policy{}, fmt.Errorf("policy of %s: %w", d, err)
		}
		e = &entry{fi: ofi, data: data}
	}
	jpath := filepath.Join(p.StateDir, d+".json")
	jfi, jerr := os.Stat(jpath)
	if jerr != nil {
		jfi = nil
	}
	if fresh || (e.jfi == nil) != (jfi == nil) || (jfi != nil && !sameFile(e.jfi, jfi)) {
		ne := *e
		ne.jfi, ne.id = jfi, ""
		if jfi != nil {
			ne.id = policyID(p.StateDir, d, ne.data)
		}
		e = &ne
	}
	p.mu.Lock()
	if p.cache == nil {
		p.cache = map[string]*entry{}
	}
	p.cache[d] = e
	p.mu.Unlock()
	return Policy{Domain: d, Data: e.data, ID: e.id}, nil
}

func (p *Policies) forget(d string) {
	p.mu.Lock()
	delete(p.cache, d)
	p.mu.Unlock()
}

// Domains lists the domains with a served policy, sorted.
func (p *Policies) Domains() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(p.StateDir, workflow.ServeDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ds []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d, err := domainname.Normalize(e.Name())
		if err != nil || d != e.Name() {
			continue
		}
		if fi, err := os.Stat(filepath.Join(p.StateDir, workflow.ServeDir, d, workflow.ServePolicyFile)); err == nil && fi.Mode().IsRegular() {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	return ds, nil
}

func sameFile(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// policyID finds the id the journal of d gives the exact bytes data: the
// live policy, the one being rolled out, or the newest policy-write entry
// with this text.
func policyID(stateDir, d string, data []byte) string {
	s, err := journalStore(stateDir)
	if err != nil {
		return ""
	}
	j, err := s.Peek(d)
	if err != nil || j == nil {
		return ""
	}
	text := string(data)
	if j.Intent != nil && j.Intent.Target != nil && j.Intent.Target.Text == text && j.Intent.Target.ID != "" {
		return j.Intent.Target.ID
	}
	if j.Policy != nil && j.Policy.Text == text && j.Policy.ID != "" {
		return j.Policy.ID
	}
	for i := len(j.Entries) - 1; i >= 0; i-- {
		if e := j.Entries[i]; e.PolicyID != "" && e.PolicyText == text {
			return e.PolicyID
		}
	}
	return ""
}

var (
	storeMu sync.Mutex
	stores  = map[string]*journal.Store{}
)

// journalStore opens the journal store of stateDir once. journal.Open
// creates the directory when missing; serve's state directory exists.
func journalStore(dir string) (*journal.Store, error) {
	storeMu.Lock()
	defer storeMu.Unlock()
	if s := stores[dir]; s != nil {
		return s, nil
	}
	s, err := journal.Open(dir)
	if err != nil {
		return nil, err
	}
	stores[dir] = s
	return s, nil
}

// readFile reads at most n bytes of path and returns them with the open
// file's FileInfo.
func readFile(path string, n int64) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, n+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(b)) > n {
		return nil, nil, fmt.Errorf("larger than %d bytes", n)
	}
	return b, fi, nil
}

func readCapped(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("larger than %d bytes", n)
	}
	return b, nil
}

// now is the clock of the access log (a variable for tests).
var now = time.Now
