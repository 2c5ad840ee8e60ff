// Package serve is the built-in policy host and TLS-RPT receiver behind
// `stspilot serve`: it serves the policies the serve publisher leaves in the
// publish directory (STATE/publish/DOMAIN/mta-sts.txt, with the policy id
// in policy.json beside it) at https://mta-sts.DOMAIN/.well-known/mta-sts.txt,
// and stores TLS-RPT reports POSTed to the rua path in its reports
// directory (STATE/reports/ unless told otherwise). It never reads a
// journal: it may run as a user that cannot (docs/serve.md).
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
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/workflow"
)

// MaxPolicySize caps a policy file read from the publish directory: senders
// cap the fetch at 64 KiB (STS-FETCH-10), so a larger file is an error.
const MaxPolicySize = 64 << 10

// Policies reads the serve publisher's files: DOMAIN/mta-sts.txt and its
// id file DOMAIN/policy.json under the publish directory, and nothing
// else (never a journal, never the state directory's listing). Lookup
// stats the files and rereads them only when they changed (a new inode
// from the publisher's rename, or another size or mtime). A request is
// answered from memory instead (cached) while the directories are watched
// (inotify on Linux, read at every request) and report no change, and
// the files were looked at less than MaxUnlooked ago; so a workflow's
// publish is served on the next request without a restart, and a fetch of
// an unchanged policy costs no file access. Safe for concurrent use.
type Policies struct {
	// Dir is the publish directory (STATE/publish).
	Dir string
	// LegacyDir is the directory of the earlier layout (STATE/serve,
	// policies without id files), read for a domain that has no policy
	// under Dir; "" reads none. Its policies are served without an id.
	LegacyDir string
	// Warn is told once per domain served from LegacyDir (nil: nobody).
	Warn func(msg string)

	// fsys is how Policies touches files (nil: the os package); tests
	// audit every path through it.
	fsys files

	mu     sync.Mutex
	cache  map[string]*entry // normalised domain -> its policy
	warned map[string]bool
	// counts are the fetch counters of the (domain, id) served: the
	// last KeptIDs ids of each domain served, listed in ids.
	counts map[countsKey]*FetchCounts
	ids    map[string][]string
	// reports are the report counters of the domains served.
	reports map[string]*ReportCounts
	// valid holds when the files of a domain were last looked at while
	// watched, for the domains with no change reported since; gen counts
	// the changes reported.
	valid map[string]time.Time
	gen   uint64

	// watching is set once a domain's directories are watched.
	watching atomic.Bool
}

// MaxUnlooked is how long a watched policy is answered from memory without
// looking at its files: the watch reports every change of the publish
// directories, this bounds what it cannot see (a parent directory's
// permissions, a link retargeted above them).
const MaxUnlooked = time.Second

// NewPolicies reads the policies the serve publisher leaves in stateDir:
// stateDir/publish, and stateDir/serve of the earlier layout.
func NewPolicies(stateDir string) *Policies {
	return &Policies{
		Dir:       filepath.Join(stateDir, workflow.PublishDir),
		LegacyDir: filepath.Join(stateDir, workflow.LegacyServeDir),
	}
}

// files is the file access of Policies: every path it opens, stats or
// lists.
type files interface {
	Open(name string) (*os.File, error)
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	// Watch has w report changes in dir (a root, or domain's
	// directory); see dirWatch.add.
	Watch(w *dirWatch, p *Policies, dir, domain string, root bool) (ok, missing bool)
}

type osFiles struct{}

func (osFiles) Open(name string) (*os.File, error)         { return os.Open(name) }
func (osFiles) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osFiles) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFiles) Watch(w *dirWatch, p *Policies, dir, domain string, root bool) (ok, missing bool) {
	return w.add(p, dir, domain, root)
}

func (p *Policies) files() files {
	if p.fsys == nil {
		return osFiles{}
	}
	return p.fsys
}

// domainPaths are the files of one domain: its policy and id file under
// Dir, and its policy under LegacyDir ("" when there is none).
type domainPaths struct{ pub, meta, legacy string }

type entry struct {
	paths  *domainPaths
	legacy bool
	// fi is the policy file's FileInfo when data was read; sum is the
	// SHA-256 of data.
	fi   fs.FileInfo
	data []byte
	sum  string
	// mfi is the id file's FileInfo when id was decided (nil: none).
	mfi fs.FileInfo
	id  string
	// counts counts the fetches of (domain, id), reports the domain's
	// reports.
	counts  *FetchCounts
	reports *ReportCounts
	// clen is the Content-Length header's value, len(data).
	clen []string
}

func (e *entry) policy(d string) Policy {
	return Policy{Domain: d, Data: e.data, ID: e.id, Legacy: e.legacy, Counts: e.counts, reports: e.reports, clen: e.clen}
}

// Policy is a policy ready to serve.
type Policy struct {
	Domain string
	Data   []byte
	// ID is the policy id of these exact bytes, from the id file beside
	// them when its hash is theirs ("" when none is: a policy of the
	// earlier layout, or one published without an id).
	ID string
	// Legacy is set when the policy was read from LegacyDir.
	Legacy bool
	// Counts counts its fetches by sender class (the metrics').
	Counts *FetchCounts
	// reports counts the reports POSTed for its domain.
	reports *ReportCounts
	// clen is the Content-Length header's value (shared, never written).
	clen []string
}

// ErrNoPolicy is returned for a domain without a served policy.
var ErrNoPolicy = errors.New("no policy for this domain")

// cached is the policy of domain as last read (domain as Lookup's cache
// key, i.e. normalised), when its directories are watched, no change was
// reported since, and its files were looked at less than MaxUnlooked
// before t (the clock now's); ok is false otherwise, and Lookup looks.
func (p *Policies) cached(domain string, t time.Time) (pol Policy, ok bool) {
	if !p.watching.Load() {
		return Policy{}, false
	}
	// The queue first: a change that happened before this request is
	// applied before the cache is read.
	if !sharedDirWatch().changes() {
		return Policy{}, false
	}
	p.mu.Lock()
	e := p.cache[domain]
	v, ok := p.valid[domain]
	p.mu.Unlock()
	if e == nil || !ok || t.Before(v) || t.Sub(v) >= MaxUnlooked {
		return Policy{}, false
	}
	return e.policy(domain), true
}

// stale drops what the watch reported changed from the cache's validity.
func (p *Policies) stale(domain string, all bool) {
	p.mu.Lock()
	if all {
		clear(p.valid)
	} else {
		delete(p.valid, domain)
	}
	p.gen++
	p.mu.Unlock()
}

// watchDomain has the watch report changes of root (Dir or LegacyDir)
// and of d's directory under it; it reports whether both are watched (a
// missing directory of d through its root, where it would appear).
func (p *Policies) watchDomain(root, d string) bool {
	w := sharedDirWatch()
	if w == nil || root == "" {
		return false
	}
	fsys := p.files()
	if ok, _ := fsys.Watch(w, p, root, "", true); !ok {
		return false
	}
	ok, missing := fsys.Watch(w, p, filepath.Join(root, d), d, false)
	if ok || missing {
		p.watching.Store(true)
	}
	return ok || missing
}

// Lookup returns the policy of domain (normalised by the caller or not),
// looking at its files.
func (p *Policies) Lookup(domain string) (Policy, error) {
	// A name already served is a cache key, so it is normalised already:
	// the normalisation (IDNA, twice) and the paths are done once per
	// domain, not once per request.
	p.mu.Lock()
	old := p.cache[domain]
	gen := p.gen
	p.mu.Unlock()
	d := domain
	if old == nil {
		var err error
		if d, err = domainname.Normalize(domain); err != nil || p.Dir == "" {
			return Policy{}, ErrNoPolicy
		}
		p.mu.Lock()
		old = p.cache[d]
		p.mu.Unlock()
	}
	var paths *domainPaths
	if old != nil {
		paths = old.paths
	} else {
		paths = &domainPaths{pub: filepath.Join(p.Dir, d, workflow.ServePolicyFile), meta: filepath.Join(p.Dir, d, workflow.ServeMetaFile)}
		if p.LegacyDir != "" {
			paths.legacy = filepath.Join(p.LegacyDir, d, workflow.ServePolicyFile)
		}
	}
	fsys := p.files()
	legacy := false
	path := paths.pub
	// Watched before the files are looked at: a change after the look
	// is reported.
	watched := p.watchDomain(p.Dir, d)
	fi, err := fsys.Stat(path)
	if (err != nil || !fi.Mode().IsRegular()) && paths.legacy != "" {
		legacy = true
		path = paths.legacy
		watched = watched && p.watchDomain(p.LegacyDir, d)
		fi, err = fsys.Stat(path)
	}
	if err != nil || !fi.Mode().IsRegular() {
		p.forget(d)
		return Policy{}, ErrNoPolicy
	}
	e := old
	fresh := e == nil || e.legacy != legacy || !sameFile(e.fi, fi)
	if fresh {
		// Read through one descriptor and cache its FileInfo with the
		// bytes: the publisher replaces the file by rename, so an inode's
		// content never changes and the pair cannot mismatch.
		data, ofi, err := readFile(fsys, path, MaxPolicySize)
		if err != nil {
			p.forget(d)
			return Policy{}, fmt.Errorf("policy of %s: %w", d, err)
		}
		e = &entry{paths: paths, legacy: legacy, fi: ofi, data: data, sum: workflow.PolicySHA256(data), clen: []string{strconv.Itoa(len(data))}}
	}
	var mfi fs.FileInfo
	mpath := paths.meta
	if !legacy {
		if m, err := fsys.Stat(mpath); err == nil && m.Mode().IsRegular() {
			mfi = m
		}
	}
	if fresh || (e.mfi == nil) != (mfi == nil) || (mfi != nil && !sameFile(e.mfi, mfi)) {
		ne := *e
		ne.mfi, ne.id = mfi, ""
		if mfi != nil {
			if b, ofi, err := readFile(fsys, mpath, workflow.MaxServeMetaSize); err == nil {
				ne.mfi = ofi
				if m, err := workflow.ParseServeMeta(b); err == nil && m.SHA256 == ne.sum {
					ne.id = m.ID
				}
			}
		}
		if ne.id == "" && !legacy && old != nil && old.sum == ne.sum {
			// The id file is not (or no longer) about these bytes, as
			// between the publisher's two renames: keep the id already
			// verified for them.
			ne.id = old.id
		}
		e = &ne
	}
	p.mu.Lock()
	if p.cache == nil {
		p.cache = map[string]*entry{}
	}
	// The counters are resolved again when the id changed or when they
	// were dropped (the domain forgotten) since old was cached.
	if e.counts == nil || e.counts.id != e.id || p.counts[countsKey{d, e.id}] != e.counts || p.reports[d] != e.reports {
		if e == old {
			ne := *e
			e = &ne
		}
		e.counts = p.countsFor(d, e.id)
		e.reports = p.reportsFor(d)
	}
	p.cache[d] = e
	if p.valid == nil {
		p.valid = map[string]time.Time{}
	}
	if watched && p.gen == gen {
		// No change reported since before the look: answer from
		// memory until one is.
		p.valid[d] = now()
	} else {
		delete(p.valid, d)
	}
	warn := legacy && !p.warned[d] && p.Warn != nil
	if warn {
		if p.warned == nil {
			p.warned = map[string]bool{}
		}
		p.warned[d] = true
	}
	p.mu.Unlock()
	if warn {
		p.Warn(fmt.Sprintf("the policy of %s is served from %s, the layout of the earlier release, without its policy id; the next workflow run on %s publishes it to %s", d, filepath.Dir(path), d, filepath.Join(p.Dir, d)))
	}
	return e.policy(d), nil
}

// forget drops the domain, no longer served, and its fetch counters.
func (p *Policies) forget(d string) {
	p.mu.Lock()
	delete(p.cache, d)
	delete(p.valid, d)
	p.dropCounts(d)
	p.mu.Unlock()
}

// Domains lists the domains with a served policy, sorted: those under Dir
// and those only under LegacyDir.
func (p *Policies) Domains() ([]string, error) {
	seen := map[string]bool{}
	for i, root := range []string{p.Dir, p.LegacyDir} {
		if root == "" {
			continue
		}
		ents, err := p.files().ReadDir(root)
		if errors.Is(err, fs.ErrNotExist) || (i == 1 && err != nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			d, err := domainname.Normalize(e.Name())
			if err != nil || d != e.Name() || seen[d] {
				continue
			}
			if fi, err := p.files().Stat(filepath.Join(root, d, workflow.ServePolicyFile)); err == nil && fi.Mode().IsRegular() {
				seen[d] = true
			}
		}
	}
	ds := slices.Sorted(maps.Keys(seen))
	return ds, nil
}

func sameFile(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// readFile reads at most n bytes of path and returns them with the open
// file's FileInfo.
func readFile(fsys files, path string, n int64) ([]byte, fs.FileInfo, error) {
	f, err := fsys.Open(path)
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

// now is the clock of the access log (a variable for tests).
var now = time.Now
