package workflow

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// commandText is what the engine must not write into a message: a flag
// ("--wait") or an instruction to run a command ("use promote", "run
// stspilot check"). The engine speaks types (Code, Workflow); cmd and
// textout turn them into flags and commands.
var commandText = regexp.MustCompile(`(^|[\s("'])--[a-z][a-z-]+|\b(?i:run|use|pass|try|rerun)\s+(stspilot\s+)?(rollout|promote|rollback|teardown|check|serve|watch|status|wizard|demo|reports|providers|migrate)\b`)

// TestNoCommandsInEngineMessages reads every non-test Go file under
// workflow/ and fails on a string literal that names a flag or tells the
// user to run a command.
func TestNoCommandsInEngineMessages(t *testing.T) {
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if m := commandText.FindString(s); m != "" {
				t.Errorf("%s: %q names a flag or a command (%q): say it in types", fset.Position(lit.Pos()), s, strings.TrimSpace(m))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("read %d files under workflow/: the walk is broken", files)
	}
}
