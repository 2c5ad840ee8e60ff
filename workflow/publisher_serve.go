package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stspilot/stspilot/internal/atomicfile"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/envfile"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/journal"
)

// PublishDir is the directory under the state directory where the serve
// publisher leaves policies for `stspilot serve`:
// STATE/publish/DOMAIN/mta-sts.txt beside STATE/publish/DOMAIN/policy.json.
// It is all serve reads: the journals beside it stay the operator's alone
// (docs/serve.md, the user and group set-up).
const PublishDir = "publish"

// ServePolicyFile is the file name of a policy under PublishDir/DOMAIN.
const ServePolicyFile = "mta-sts.txt"

// ServeMetaFile is the file name, beside the policy, of its id and hash
// (ServeMeta), so that serve knows the policy id without a journal.
const ServeMetaFile = "policy.json"

// LegacyServeDir is where the serve publisher of earlier releases left
// policies (STATE/serve/DOMAIN/mta-sts.txt), and serve read them. For one
// release the publisher keeps a state directory that has it up to date as
// well (a serve process of the earlier release may still be running), and
// serve falls back to it for a domain without a policy under PublishDir.
const LegacyServeDir = "serve"

// MaxServeMetaSize caps the id file read by serve: it is a few dozen bytes.
const MaxServeMetaSize = 4 << 10

// Modes of the publish directory: the operator's user writes, the group
// (stspilot, docs/serve.md) reads, others nothing. A set-group-ID bit on a
// parent directory is kept on the directories created under it, so the
// group set once on STATE/publish carries to every domain.
const (
	publishDirMode  fs.FileMode = 0o750
	publishFileMode fs.FileMode = 0o640
)

// ServeMeta is the id file of a served policy: its id and the SHA-256 of
// its exact bytes. Serve believes the id only for bytes with that hash.
type ServeMeta struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
}

// ParseServeMeta reads an id file; it checks the id's syntax
// (^[A-Za-z0-9]{1,32}$) and the hash's (64 lower-case hex digits).
func ParseServeMeta(b []byte) (ServeMeta, error) {
	var m ServeMeta
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return ServeMeta{}, fmt.Errorf("%s: %w", ServeMetaFile, err)
	}
	if dec.More() {
		return ServeMeta{}, fmt.Errorf("%s: more than one JSON value", ServeMetaFile)
	}
	if !txtrecord.ValidSTSID(m.ID) {
		return ServeMeta{}, fmt.Errorf("%s: invalid policy id", ServeMetaFile)
	}
	if h, err := hex.DecodeString(m.SHA256); err != nil || len(h) != sha256.Size || hex.EncodeToString(h) != m.SHA256 {
		return ServeMeta{}, fmt.Errorf("%s: sha256 is not 64 lower-case hex digits", ServeMetaFile)
	}
	return m, nil
}

// PolicySHA256 is the hash an id file gives for policy: the ledger's
// hash (journal.PolicyHash), so one policy has one hash everywhere.
func PolicySHA256(policy []byte) string { return journal.PolicyHash(string(policy)) }

// PublishDomainDir is the directory of the (normalised) domain's policy
// and id file under stateDir/PublishDir.
func PublishDomainDir(stateDir, domain string) (string, error) {
	d, err := domainname.Normalize(domain)
	if err != nil {
		return "", err
	}
	return filepath.Join(stateDir, PublishDir, d), nil
}

// ServePolicyPath is where the serve publisher writes the policy of the
// (normalised) domain in stateDir, and where `stspilot serve` reads it.
func ServePolicyPath(stateDir, domain string) (string, error) {
	dir, err := PublishDomainDir(stateDir, domain)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, ServePolicyFile), nil
}

// IDPublisher is a Publisher that keeps the policy id beside the bytes;
// the engine hands it the id of the policy it publishes.
type IDPublisher interface {
	Publisher
	// PublishID is Publish with the policy's id.
	PublishID(ctx context.Context, domain string, policy []byte, id string) (Published, error)
}

// Serve hands the policy to the built-in host (`stspilot serve`) through
// STATE/publish: DOMAIN/mta-sts.txt and DOMAIN/policy.json, files 0640 in
// directories 0750, so that serve may run as another user in the group of
// the publish directory without reading anything else of the state
// directory.
type Serve struct {
	// StateDir is the state directory, as an absolute path.
	StateDir string
}

func (s *Serve) Spec() string { return "serve" }

// Publish writes the policy without an id: the id file is removed first,
// so serve logs no id for these bytes rather than another policy's.
func (s *Serve) Publish(ctx context.Context, domain string, policy []byte) (Published, error) {
	return s.PublishID(ctx, domain, policy, "")
}

// PublishID writes STATE/publish/DOMAIN/policy.json (id and hash), then
// STATE/publish/DOMAIN/mta-sts.txt, each atomically (temporary file,
// fsync, rename). In that order serve never sees the new bytes without
// their id file; in between it sees the old bytes beside an id file whose
// hash is not theirs, and keeps the id it had for them. Serve reads the
// policy on the next request.
func (s *Serve) PublishID(ctx context.Context, domain string, policy []byte, id string) (Published, error) {
	path, err := ServePolicyPath(s.StateDir, domain)
	out := Published{Where: path}
	if err != nil {
		return out, fmt.Errorf("serve publisher: %w", err)
	}
	if id != "" && !txtrecord.ValidSTSID(id) {
		return out, fmt.Errorf("serve publisher: invalid policy id %q", id)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	dir := filepath.Dir(path)
	metaPath := filepath.Join(dir, ServeMetaFile)
	var meta []byte
	if id != "" {
		meta, _ = json.Marshal(ServeMeta{ID: id, SHA256: PolicySHA256(policy)})
		meta = append(meta, '\n')
	}
	if w := s.legacy(domain, policy); w != "" {
		out.Warnings = append(out.Warnings, w)
	}
	oldMeta, merr := readSmall(metaPath, MaxServeMetaSize)
	metaOK := (id == "" && errors.Is(merr, fs.ErrNotExist)) || (id != "" && merr == nil && bytes.Equal(oldMeta, meta))
	if old, err := readSmall(path, int64(len(policy))+1); err == nil && bytes.Equal(old, policy) && metaOK {
		return out, nil
	}
	if err := mkdirShared(filepath.Join(s.StateDir, PublishDir), dir); err != nil {
		return out, fmt.Errorf("serve publisher: %w", err)
	}
	if !metaOK {
		if id == "" {
			if err := os.Remove(metaPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return out, fmt.Errorf("serve publisher: %w", err)
			}
		} else if err := atomicfile.Write(metaPath, meta, publishFileMode); err != nil {
			return out, fmt.Errorf("serve publisher: %w", err)
		}
	}
	if old, err := readSmall(path, int64(len(policy))+1); err == nil && bytes.Equal(old, policy) {
		return out, nil
	}
	if err := atomicfile.Write(path, policy, publishFileMode); err != nil {
		return out, fmt.Errorf("serve publisher: %w", err)
	}
	out.Changed = true
	return out, nil
}

// legacy keeps STATE/serve/DOMAIN/mta-sts.txt up to date when the state
// directory has STATE/serve (laid out by an earlier release, whose serve
// may still be running); a new state directory never gets one. A failure
// is a warning: the served gate finds out what serve really answers.
func (s *Serve) legacy(domain string, policy []byte) string {
	root := filepath.Join(s.StateDir, LegacyServeDir)
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return ""
	}
	d, err := domainname.Normalize(domain)
	if err != nil {
		return ""
	}
	path := filepath.Join(root, d, ServePolicyFile)
	if old, err := readSmall(path, int64(len(policy))+1); err == nil && bytes.Equal(old, policy) {
		return ""
	}
	// The modes of the earlier release: its serve may run as another user.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Sprintf("the copy of the policy in the earlier layout (%s) was not updated: %v", path, err)
	}
	if err := atomicfile.Write(path, policy, 0o644); err != nil {
		return fmt.Sprintf("the copy of the policy in the earlier layout (%s) was not updated: %v", path, err)
	}
	return ""
}

// Remove deletes the policy, then its id file and the now empty domain
// directory (and the copy in the earlier layout, if any): serve answers 404
// for the domain from then on. A missing file is not an error.
func (s *Serve) Remove(ctx context.Context, domain string) (Published, error) {
	path, err := ServePolicyPath(s.StateDir, domain)
	out := Published{Where: path}
	if err != nil {
		return out, fmt.Errorf("serve publisher: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	dir := filepath.Dir(path)
	legacy := filepath.Join(s.StateDir, LegacyServeDir, filepath.Base(dir), ServePolicyFile)
	for _, p := range []string{path, legacy} {
		switch err := os.Remove(p); {
		case err == nil:
			out.Changed = true
			_ = os.Remove(filepath.Join(filepath.Dir(p), ServeMetaFile))
			_ = os.Remove(filepath.Dir(p)) // only if empty; a leftover directory is harmless
			if serr := atomicfile.SyncDir(filepath.Dir(filepath.Dir(p))); serr != nil {
				return out, serr
			}
		case errors.Is(err, os.ErrNotExist):
			if p == path {
				// An id file left without its policy is removed all the same.
				_ = os.Remove(filepath.Join(dir, ServeMetaFile))
				_ = os.Remove(dir)
			}
		default:
			return out, fmt.Errorf("serve publisher: %w", err)
		}
	}
	return out, nil
}

// mkdirShared creates dir and the missing directories between root and it
// (root included) with mode 0750, exactly, keeping the set-group-ID bit of
// the parent so that the group of the publish directory carries down.
func mkdirShared(root, dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if dir != root {
		if err := mkdirShared(root, parent); err != nil {
			return err
		}
	} else if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(dir, publishDirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	mode := publishDirMode
	if pfi, err := os.Stat(parent); err == nil && pfi.Mode()&fs.ModeSetgid != 0 {
		mode |= fs.ModeSetgid
	}
	return os.Chmod(dir, mode)
}

// readSmall reads path when it is a regular file of at most n bytes, with
// the one capped reader of small files (envfile.ReadFile).
func readSmall(path string, n int64) ([]byte, error) {
	return envfile.ReadFile(path, envfile.ReadOptions{Max: n})
}
