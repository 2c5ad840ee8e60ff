package serve

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"syscall"
)

// dirWatch tells Policies which domains' files may have changed since
// their policy was read, so that a fetch of an unchanged policy is served
// from memory instead of looking at the files (two stats) on every
// request. On Linux it is an inotify instance on the publish directories;
// its queue is read without blocking at every request (one system call,
// on an empty queue a cheap one), before the cache is consulted, so a
// publish that finished before a request arrived is seen by that request,
// as when every request looked at the files. A process has one, shared by
// its Policies (an inotify instance is a scarce per-user resource).
type dirWatch struct {
	mu sync.Mutex // held while reading and applying events
	fd int
	// wds maps a watch to what it watches for which Policies: a root
	// (Dir or LegacyDir, domain "") or the directory of a domain.
	wds    map[int32][]watchRef
	failed bool
	buf    [16 << 10]byte
}

type watchRef struct {
	p      *Policies
	domain string
	root   bool
}

var processWatch struct {
	once sync.Once
	w    *dirWatch
}

const (
	// Everything that changes what a directory holds or a file in it.
	watchDirMask = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
		syscall.IN_CLOSE_WRITE | syscall.IN_MODIFY | syscall.IN_ATTRIB |
		syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ONLYDIR
	// A root's entries (the domain directories) and the root itself.
	watchRootMask = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO |
		syscall.IN_ATTRIB | syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ONLYDIR
)

// sharedDirWatch is the process's inotify instance, started at the first
// call; nil when there is none to have (then every lookup looks at the
// files).
func sharedDirWatch() *dirWatch {
	processWatch.once.Do(func() {
		fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
		if err == nil {
			processWatch.w = &dirWatch{fd: fd, wds: map[int32][]watchRef{}}
		}
	})
	return processWatch.w
}

// add watches dir for p, a root or the directory of domain. It reports
// whether dir is watched, and whether it does not exist.
func (w *dirWatch) add(p *Policies, dir, domain string, root bool) (ok, missing bool) {
	mask := uint32(watchDirMask)
	if root {
		mask = watchRootMask
	}
	wd, err := syscall.InotifyAddWatch(w.fd, dir, mask)
	if err != nil {
		return false, errors.Is(err, syscall.ENOENT)
	}
	ref := watchRef{p: p, domain: domain, root: root}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed {
		return false, false
	}
	if !slices.Contains(w.wds[int32(wd)], ref) {
		w.wds[int32(wd)] = append(w.wds[int32(wd)], ref)
	}
	return true, false
}

// changes reads the events queued so far and tells every Policies which
// of its domains they concern. It reports false when the watch failed;
// then nothing may be trusted to it anymore.
func (w *dirWatch) changes() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed {
		return false
	}
	for {
		n, err := syscall.Read(w.fd, w.buf[:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EAGAIN) {
			return true
		}
		if err != nil || n <= 0 {
			w.failed = true
			w.staleAll()
			return false
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			// struct inotify_event: wd, mask, cookie, len, name.
			ev := w.buf[off:n]
			wd := int32(binary.NativeEndian.Uint32(ev[0:]))
			mask := binary.NativeEndian.Uint32(ev[4:])
			next := off + syscall.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(ev[12:]))
			if next > n {
				break
			}
			name := w.buf[off+syscall.SizeofInotifyEvent : next]
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			off = next
			if mask&syscall.IN_Q_OVERFLOW != 0 {
				w.staleAll()
				continue
			}
			for _, ref := range w.wds[wd] {
				switch {
				case !ref.root:
					ref.p.stale(ref.domain, false)
				case len(name) > 0 && mask&(syscall.IN_DELETE_SELF|syscall.IN_MOVE_SELF|syscall.IN_IGNORED) == 0:
					// An entry of the root: the directory of the
					// domain of its name.
					ref.p.stale(string(name), false)
				default:
					// The root itself.
					ref.p.stale("", true)
				}
			}
			if mask&syscall.IN_IGNORED != 0 {
				// The directory is gone (or no longer watched): a later
				// lookup watches it again.
				delete(w.wds, wd)
			}
		}
	}
}

// staleAll tells every Policies that anything may have changed; w.mu held.
func (w *dirWatch) staleAll() {
	seen := map[*Policies]bool{}
	for _, refs := range w.wds {
		for _, ref := range refs {
			if !seen[ref.p] {
				seen[ref.p] = true
				ref.p.stale("", true)
			}
		}
	}
}
