package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The dependency rule of the layout (README.md, "Layout and the import rule"):
//
//	cmd -> tui -> workflow -> {checks, dnsprovider} -> internal
//
// A package may import packages of its own layer or of lower layers;
// checks and dnsprovider never import each other; internal/ is the leaf
// that every layer may use and that imports no other layer; nothing
// outside cmd/ imports cmd/. Packages outside the layout (e2e, tools) may import any
// layer but cmd/; layout packages may not import them.
var layers = map[string]int{
	"internal":    -1,
	"checks":      0,
	"dnsprovider": 0,
	"workflow":    1,
	"tui":         2,
	"cmd":         3,
}

// top is the first path element of pkg inside module, "" for the module
// root, or ok=false for a package outside the module.
func top(module, pkg string) (string, bool) {
	if pkg == module {
		return "", true
	}
	rest, ok := strings.CutPrefix(pkg, module+"/")
	if !ok {
		return "", false
	}
	first, _, _ := strings.Cut(rest, "/")
	return first, true
}

// checkEdge returns an error when package from may not import package to.
func checkEdge(module, from, to string) error {
	toTop, inModule := top(module, to)
	if !inModule {
		return nil // the standard library and third-party modules
	}
	fromTop, _ := top(module, from)
	if toTop == "cmd" && fromTop != "cmd" {
		return fmt.Errorf("%s imports %s: nothing imports cmd", from, to)
	}
	fromRank, fromIn := layers[fromTop]
	if !fromIn {
		return nil // outside the layout: anything but cmd
	}
	toRank, toIn := layers[toTop]
	switch {
	case !toIn:
		return fmt.Errorf("%s imports %s, which is outside the layout (%s)", from, to, layerList())
	case toRank > fromRank:
		return fmt.Errorf("%s imports %s: %s may not import upward into %s", from, to, fromTop, toTop)
	case toRank == fromRank && toTop != fromTop:
		return fmt.Errorf("%s imports %s: %s and %s never import each other", from, to, fromTop, toTop)
	}
	return nil
}

func layerList() string {
	return "cmd -> tui -> workflow -> {checks, dnsprovider} -> internal"
}

// TestCheckEdge proves the checker can fail: a table of allowed and
// forbidden edges.
func TestCheckEdge(t *testing.T) {
	const m = "github.com/stspilot/stspilot"
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"cmd/stspilot", "tui/textout", true},
		{"cmd/stspilot", "workflow", true},
		{"cmd/stspilot", "checks", true},
		{"cmd/stspilot", "dnsprovider/memory", true},
		{"tui", "workflow/journal", true},
		{"tui/textout", "checks", true},
		{"workflow", "checks/mtasts", true},
		{"workflow", "dnsprovider", true},
		{"checks", "checks/dnsprobe", true},
		{"checks/smtpprobe", "checks/certs", true},
		{"e2e", "checks/checktest", true},
		{"cmd/stspilot", "github.com/spf13/cobra", true},
		{"checks", "internal/redact", true},
		{"dnsprovider/cloudflare", "internal", true},
		{"workflow/journal", "internal/redact", true},
		{"tui/textout", "internal/redact", true},
		{"cmd/stspilot", "internal/redact", true},
		{"internal/a", "internal/b", true},
		{"e2e", "internal/redact", true},

		{"checks", "dnsprovider", false},
		{"dnsprovider/memory", "checks/mtasts", false},
		{"checks", "workflow", false},
		{"checks/mtasts", "tui/textout", false},
		{"workflow", "tui", false},
		{"dnsprovider", "workflow/journal", false},
		{"tui/textout", "cmd/stspilot", false},
		{"e2e", "cmd/stspilot", false},
		{"workflow", "cmd/stspilot", false},
		{"checks", "e2e", false},
		{"checks", "", false}, // the module root is outside the layout
		{"internal/redact", "checks", false},
		{"internal", "dnsprovider/memory", false},
		{"internal/redact", "workflow", false},
		{"internal/redact", "tui/textout", false},
		{"internal/redact", "cmd/stspilot", false},
		{"internal/redact", "e2e", false},
	}
	for _, tt := range tests {
		from, to := m+"/"+tt.from, m+"/"+tt.to
		if tt.to == "" {
			to = m
		}
		if strings.Contains(tt.to, ".com/") {
			to = tt.to
		}
		err := checkEdge(m, from, to)
		if (err == nil) != tt.ok {
			t.Errorf("checkEdge(%s -> %s) = %v, want ok=%v", tt.from, tt.to, err, tt.ok)
		}
	}
}

type listedPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Deps         []string
}

// goList runs `go list -e -json args...` at the module root.
func goList(t *testing.T, args ...string) (module string, pkgs []listedPackage) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list imports: %v", err)
	}
	out, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	cmd := exec.Command(gobin, "list", "-m")
	cmd.Dir = root
	if out, err = cmd.Output(); err != nil {
		t.Fatal(err)
	}
	module = strings.TrimSpace(string(out))

	cmd = exec.Command(gobin, append([]string{"list", "-e", "-json"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err = cmd.Output(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return module, pkgs
}

// TestImportLayers checks every import (test imports included) of every
// package of the module against the layout.
func TestImportLayers(t *testing.T) {
	module, pkgs := goList(t, "./...")
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	seen := 0
	for _, p := range pkgs {
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			if imp == p.ImportPath {
				continue // the external test package importing its package
			}
			seen++
			if err := checkEdge(module, p.ImportPath, imp); err != nil {
				t.Error(err)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no imports seen: the listing is broken")
	}
}

// TestTextoutWithoutBubbleTea: scripted output must not pull in the TUI
// runtime, directly or through another package.
func TestTextoutWithoutBubbleTea(t *testing.T) {
	_, pkgs := goList(t, "-deps", "./tui/textout")
	var all []string
	for _, p := range pkgs {
		all = append(all, p.ImportPath)
	}
	if !slices.Contains(all, "github.com/charmbracelet/lipgloss") {
		t.Fatalf("lipgloss missing from the deps of tui/textout: the listing is broken: %v", all)
	}
	for _, d := range all {
		if strings.HasPrefix(d, "github.com/charmbracelet/bubbletea") {
			t.Errorf("tui/textout depends on %s", d)
		}
	}
}
