//go:build !linux

package serve

// dirWatch is Linux's inotify watch (watch_linux.go); elsewhere there is
// none and every lookup looks at the files.
type dirWatch struct{}

func sharedDirWatch() *dirWatch { return nil }

func (w *dirWatch) add(p *Policies, dir, domain string, root bool) (ok, missing bool) {
	return false, false
}

func (w *dirWatch) changes() bool { return false }
