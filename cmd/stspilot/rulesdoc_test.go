package main

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// ruleAreas are the id areas of docs/rules.md.
var ruleAreas = []string{"STS-TXT", "STS-FETCH", "STS-POL", "STS-SEND", "RPT-REC", "RPT-JSON", "RPT-TYPE", "RPT-DEL", "OPS"}

var (
	// ruleDef is a definition in docs/rules.md: "- **STS-POL-15** ...".
	ruleDef = regexp.MustCompile(`(?m)^- \*\*((?:STS|RPT)-[A-Z]+-[0-9]+|OPS-[0-9]+)\*\*`)
	// ruleCite is a citation: "STS-POL-15", with the shorthands the code
	// uses for several of one area: "STS-POL-3/4", "STS-TXT-9, -12",
	// "STS-FETCH-1..10".
	ruleCite = regexp.MustCompile(`\b((?:STS-(?:TXT|FETCH|POL|SEND)|RPT-(?:REC|JSON|TYPE|DEL))|OPS)-([0-9]+)((?:(?:/|, -|\.\.)[0-9]+)*)`)
	// ruleCiteName is the form in Go identifiers: TestX_STS_TXT_3,
	// TestParseRUA_RPT_REC_3_4.
	ruleCiteName = regexp.MustCompile(`((?:STS_(?:TXT|FETCH|POL|SEND)|RPT_(?:REC|JSON|TYPE|DEL)))_([0-9]+)((?:_[0-9]+)*)`)
	ruleMore     = regexp.MustCompile(`(/|, -|\.\.|_)([0-9]+)`)
)

// citedRules returns the rule ids one line cites.
func citedRules(line string) []string {
	var out []string
	add := func(m []string) {
		area := strings.ReplaceAll(m[1], "_", "-")
		n, _ := strconv.Atoi(m[2])
		out = append(out, area+"-"+m[2])
		for _, more := range ruleMore.FindAllStringSubmatch(m[3], -1) {
			k, _ := strconv.Atoi(more[2])
			if more[1] == ".." && k > n && k-n < 50 {
				for i := n + 1; i < k; i++ {
					out = append(out, area+"-"+strconv.Itoa(i))
				}
			}
			out = append(out, area+"-"+more[2])
			n = k
		}
	}
	for _, m := range ruleCite.FindAllStringSubmatch(line, -1) {
		add(m)
	}
	for _, m := range ruleCiteName.FindAllStringSubmatch(line, -1) {
		add(m)
	}
	return out
}

func TestCitedRules(t *testing.T) {
	for line, want := range map[string]string{
		"(STS-POL-15)":                           "STS-POL-15",
		"STS-FETCH-5/6/9, OPS-8":                 "STS-FETCH-5 STS-FETCH-6 STS-FETCH-9 OPS-8",
		"(STS-TXT-9, -12)":                       "STS-TXT-9 STS-TXT-12",
		"RPT-TYPE-9..11":                         "RPT-TYPE-9 RPT-TYPE-10 RPT-TYPE-11",
		"func TestParseRUA_RPT_REC_3_4(t":        "RPT-REC-3 RPT-REC-4",
		"TestTXTSeveralStringsAndRRs_STS_TXT_3(": "STS-TXT-3",
		"unregistered result type (RPT-TYPE)":    "",
		"XSTS-POL-1":                             "",
	} {
		if got := strings.Join(citedRules(line), " "); got != want {
			t.Errorf("citedRules(%q) = %q, want %q", line, got, want)
		}
	}
}

// Every rule id cited anywhere in the repository (Go code and tests, docs,
// goldens, CLI scripts, and the shell scripts: e2e/world's zone and
// policies, e2e/test, .ci/run) is defined in docs/rules.md, once; so is
// every area.
func TestRulesDocDefinesCitedIDs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	for _, m := range ruleDef.FindAllStringSubmatch(string(doc), -1) {
		if defined[m[1]] {
			t.Errorf("docs/rules.md defines %s twice", m[1])
		}
		defined[m[1]] = true
	}
	if len(defined) < 100 {
		t.Fatalf("only %d definitions found in docs/rules.md: the pattern is broken", len(defined))
	}
	for _, a := range ruleAreas {
		if !strings.Contains(string(doc), "\n## "+a+":") {
			t.Errorf("docs/rules.md has no section for %s", a)
		}
	}
	cites := 0
	// citesIn counts the citations per file, to prove the scripts are read.
	citesIn := map[string]int{}
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".txtar", ".golden", ".sh":
		case "":
			// e2e/world, e2e/test, .ci/run: read when a script (#!).
		default:
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			if n == 1 && filepath.Ext(path) == "" && !strings.HasPrefix(sc.Text(), "#!") {
				return nil
			}
			for _, id := range citedRules(sc.Text()) {
				cites++
				citesIn[filepath.ToSlash(path)]++
				if !defined[id] {
					t.Errorf("%s:%d cites %s, which docs/rules.md does not define", path, n, id)
				}
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if cites < 500 {
		t.Errorf("only %d citations found: the walk is broken", cites)
	}
	if citesIn["../../e2e/world"] == 0 {
		t.Error("no citation found in e2e/world: the walk skips the scripts")
	}
}

var (
	// outsideRef names a document that is not in the repository.
	outsideRef = regexp.MustCompile(`(?i)field guide|world\.md|\.\./shared|/work/shared`)
	// docsRef is a docs/ file named in code or prose.
	docsRef = regexp.MustCompile(`\bdocs/([A-Za-z0-9_-]+\.md)\b`)
	// mdLink is the target of a Markdown link.
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// codeSpan is inline code, where brackets are not links.
	codeSpan = regexp.MustCompile("`[^`]*`")
)

// The repository stands alone: no comment or document points at a file
// outside it, every docs/NAME.md it names exists, and every relative link
// of its Markdown resolves.
func TestDocsPointInsideRepository(t *testing.T) {
	root := "../.."
	keep := func(path string) bool {
		ext := filepath.Ext(path)
		return (ext == ".go" || ext == ".md") && filepath.Base(path) != "rulesdoc_test.go"
	}
	eachTreeFile(t, keep, func(path string, data []byte) {
		ext := filepath.Ext(path)
		for n, line := range strings.Split(string(data), "\n") {
			if m := outsideRef.FindString(line); m != "" {
				t.Errorf("%s:%d points outside the repository (%q)", path, n+1, m)
			}
			for _, m := range docsRef.FindAllStringSubmatch(line, -1) {
				if _, err := os.Stat(filepath.Join(root, "docs", m[1])); err != nil {
					t.Errorf("%s:%d names docs/%s, which does not exist", path, n+1, m[1])
				}
			}
			if ext != ".md" {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
				target, _, _ := strings.Cut(m[1], "#")
				if target == "" || strings.Contains(target, ":") {
					continue // an anchor on the same page, or a URL
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), target)); err != nil {
					t.Errorf("%s:%d links to %s, which does not exist", path, n+1, m[1])
				}
			}
		}
	})
}

// eachTreeFile hands fn the content of every file of the repository
// (outside .git and testdata directories) that keep takes.
func eachTreeFile(t *testing.T, keep func(path string) bool, fn func(path string, data []byte)) {
	t.Helper()
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !keep(path) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fn(path, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
