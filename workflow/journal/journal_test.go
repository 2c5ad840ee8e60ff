package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/mtasts"
)

var t0 = time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)

const policyText = "version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n"

// full returns a journal with every field set, as the engine would leave
// it in the middle of a promote.
func full(t testing.TB) *Journal {
	t.Helper()
	j, err := New("Example.COM.")
	if err != nil {
		t.Fatal(err)
	}
	j.Stage, j.StageSince = checks.StageTesting, t0
	j.Ladder = "testing@86400:14d,enforce@86400:7d,enforce@604800:30d,enforce@2592000"
	j.Provider, j.Publish = "rfc2136", "webroot:/srv/www"
	j.Policy = &Policy{Text: policyText, ID: "20261129050000abcdefgh", PolicyTerms: PolicyTerms{Mode: "testing", MaxAge: 86400, MX: []string{"mx1.example.com"}}, ServedAt: t0, PublishedAt: t0.Add(time.Minute)}
	j.TLSRPT = &TLSRPT{Record: "v=TLSRPTv1; rua=mailto:tlsrpt@example.com", SetAt: t0}
	j.Ledger = []LedgerPolicy{
		{Hash: PolicyHash("version: STSv1\r\nmode: enforce\r\nmx: old.example.com\r\nmax_age: 604800\r\n"), ID: "old1", PolicyTerms: PolicyTerms{Mode: "enforce", MaxAge: 604800, MX: []string{"old.example.com"}}, PublishedAt: t0.Add(-30 * 24 * time.Hour), ReplacedAt: t0, TXTTTL: 3600, Assumed: true},
		{Hash: PolicyHash(policyText), ID: "20261129050000abcdefgh", PolicyTerms: PolicyTerms{Mode: "testing", MaxAge: 86400, MX: []string{"mx1.example.com"}}, PublishedAt: t0.Add(time.Minute)},
	}
	j.Intent = &Intent{Workflow: "promote", Target: &Policy{Text: strings.Replace(policyText, "testing", "enforce", 1), ID: "20261213050000ijklmnop", PolicyTerms: PolicyTerms{Mode: "enforce", MaxAge: 86400}}, RUA: "mailto:tlsrpt@example.com", Run: "20261213T050000Z-42", StartedAt: t0.Add(14 * 24 * time.Hour)}
	j.SetWindow(Window{Kind: WindowSoak, Start: t0, Seconds: 14 * 86400, NotBefore: t0.Add(14 * 24 * time.Hour), Reason: "soak of testing@86400"})
	j.SetWindow(Window{Kind: WindowTeardown, Start: t0, Seconds: 86400, NotBefore: t0.Add(24 * time.Hour), Ended: t0.Add(25 * time.Hour)})
	id := j.Append(Entry{Run: "20261129T050000Z-41", Workflow: "rollout", Step: "1-publish-policy", Kind: KindPolicyWrite, Name: "https://mta-sts.example.com/.well-known/mta-sts.txt", After: policyText, PolicyText: policyText, PolicyID: "20261129050000abcdefgh", MaxAge: 86400, Changed: true}, t0)
	if err := j.Finish(id, Done, t0.Add(time.Second), ""); err != nil {
		t.Fatal(err)
	}
	id = j.Append(Entry{Run: "20261129T050000Z-41", Workflow: "rollout", Step: "3-set-sts", Kind: KindTXTSet, Name: "_mta-sts.example.com", Before: "v=STSv1; id=old1", After: "v=STSv1; id=20261129050000abcdefgh;", PolicyID: "20261129050000abcdefgh", TTL: 3600, MaxAge: 86400, Changed: true}, t0.Add(2*time.Second))
	if err := j.Finish(id, Failed, t0.Add(3*time.Second), "rfc2136: update refused (REFUSED)"); err != nil {
		t.Fatal(err)
	}
	j.Append(Entry{Run: "20261213T050000Z-42", Workflow: "promote", Step: "3-set-sts", Kind: KindTXTSet, Name: "_mta-sts.example.com"}, t0.Add(14*24*time.Hour))
	return j
}

func TestNewNormalisesTheDomain(t *testing.T) {
	j, err := New("Bücher.Example.")
	if err != nil {
		t.Fatal(err)
	}
	if j.Domain != "xn--bcher-kva.example" || j.Schema != Schema || j.Entries == nil {
		t.Fatalf("New: %+v", j)
	}
	if err := j.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	j := full(t)
	b, err := Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte("}\n")) || bytes.HasSuffix(b, []byte("\n\n")) {
		t.Errorf("the file must end in exactly one newline")
	}
	if !bytes.HasPrefix(b, []byte("{\n  \"schema\": \"stspilot.journal/v3\",\n  \"domain\": \"example.com\",\n  \"stage\": \"testing\",")) {
		t.Errorf("field order or indentation changed:\n%.200s", b)
	}
	if bytes.Contains(b, []byte(`\u003c`)) || !bytes.Contains(b, []byte(`\r\n`)) {
		t.Errorf("policy text not kept readable")
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, j) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, j)
	}
	again, err := Encode(got)
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("second encoding differs (%v):\n%s\n---\n%s", err, again, b)
	}
}

func TestEntryLifecycle(t *testing.T) {
	j, _ := New("example.com")
	a := j.Append(Entry{Kind: KindPolicyWrite, Name: "https://mta-sts.example.com/.well-known/mta-sts.txt"}, t0)
	b := j.Append(Entry{Kind: KindTXTSet, Name: "_mta-sts.example.com", Started: t0.Add(-time.Hour)}, t0)
	if a != 1 || b != 2 {
		t.Fatalf("ids %d, %d; want 1, 2", a, b)
	}
	if e := j.Entry(b); e == nil || e.Status != Pending || !e.Started.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("entry %d: %+v", b, e)
	}
	if p := j.Pending(); len(p) != 2 {
		t.Fatalf("pending: %+v", p)
	}
	if err := j.Finish(a, Done, t0, ""); err != nil {
		t.Fatal(err)
	}
	if err := j.Finish(a, Failed, t0, "again"); err == nil {
		t.Error("finished an entry twice")
	}
	if err := j.Finish(b, Pending, t0, ""); err == nil {
		t.Error("finished an entry as pending")
	}
	if err := j.Finish(99, Done, t0, ""); err == nil {
		t.Error("finished an entry that does not exist")
	}
	if p := j.Pending(); len(p) != 1 || p[0].ID != b {
		t.Fatalf("pending after finishing %d: %+v", a, p)
	}
	if j.Entry(0) != nil || j.Entry(3) != nil {
		t.Error("Entry found ids that do not exist")
	}

	j.SetWindow(Window{Kind: WindowSoak, Seconds: 1})
	j.SetWindow(Window{Kind: WindowSoak, Seconds: 2})
	if len(j.Windows) != 1 || j.Window(WindowSoak).Seconds != 2 {
		t.Fatalf("SetWindow did not replace: %+v", j.Windows)
	}
	j.ClearWindow(WindowSoak)
	if j.Window(WindowSoak) != nil || len(j.Windows) != 0 {
		t.Fatalf("ClearWindow: %+v", j.Windows)
	}
}

func TestDecodeRefusesBadDocuments(t *testing.T) {
	good, err := Encode(full(t))
	if err != nil {
		t.Fatal(err)
	}
	set := func(from, to string) []byte {
		if !bytes.Contains(good, []byte(from)) {
			t.Fatalf("fixture lacks %q", from)
		}
		return bytes.Replace(good, []byte(from), []byte(to), 1)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"blank", []byte(" \n"), "empty file"},
		{"binary", []byte("\x1f\x8b\x08\x00\xff\xfe"), "not UTF-8"},
		{"truncated", good[:len(good)/2], "unexpected end"},
		{"array", []byte(`[1,2]`), "not a JSON object"},
		{"no schema", []byte(`{"domain":"example.com"}`), `no "schema"`},
		{"foreign schema", []byte(`{"schema":"terraform/v4"}`), "unknown schema"},
		{"v0", []byte(`{"schema":"stspilot.journal/v0"}`), "unknown schema"},
		{"trailing data", append(append([]byte{}, good...), []byte("{}")...), "after"},
		{"unknown field", set(`"domain":`, `"token": "x", "domain":`), `unknown field "token"`},
		{"bad domain", set(`"domain": "example.com"`, `"domain": "../etc"`), "invalid domain"},
		{"domain not normal", set(`"domain": "example.com"`, `"domain": "Example.com"`), "not in normal form"},
		{"bad stage", set(`"stage": "testing"`, `"stage": "party"`), "unknown stage"},
		{"bad mode", set(`"mode": "testing"`, `"mode": "Testing"`), "mode"},
		{"bad policy id", set(`"id": "20261129050000abcdefgh"`, `"id": "has space"`), "1 to 32 letters and digits"},
		{"bad status", set(`"status": "done"`, `"status": "maybe"`), "status"},
		{"bad kind", set(`"kind": "policy-write"`, `"kind": "Policy Write"`), "kind"},
		{"repeated id", set(`"id": 2,`, `"id": 1,`), "ids must increase"},
		{"max_age too large", set(`"max_age": 86400,`+"\n      \"ttl\"", `"max_age": 31557601,`+"\n      \"ttl\""), "max_age"},
		{"no start", set(`"started": "2026-11-29T05:00:00Z"`, `"started": "0001-01-01T00:00:00Z"`), "no start time"},
		{"bad time", set(`"started": "2026-11-29T05:00:00Z"`, `"started": "yesterday"`), "invalid"},
		{"duplicate window", set(`"kind": "teardown"`, `"kind": "soak"`), "second"},
	}
	for _, tt := range tests {
		j, err := Decode(tt.data)
		if err == nil {
			t.Errorf("%s: decoded %+v", tt.name, j)
			continue
		}
		if j != nil {
			t.Errorf("%s: a journal with the error", tt.name)
		}
		var se *SchemaError
		if errors.As(err, &se) {
			t.Errorf("%s: a SchemaError for a corrupt file: %v", tt.name, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not say %q", tt.name, err, tt.want)
		}
	}
}

func TestDecodeRefusesNewerSchema(t *testing.T) {
	for _, s := range []string{"stspilot.journal/v4", "stspilot.journal/v10"} {
		_, err := Decode([]byte(`{"schema":"` + s + `","domain":"example.com","whatever":[1]}`))
		var se *SchemaError
		if !errors.As(err, &se) || se.Found != s {
			t.Fatalf("%s: %v, want a *SchemaError", s, err)
		}
		if !strings.Contains(err.Error(), "upgrade stspilot") || !strings.Contains(err.Error(), "left untouched") {
			t.Errorf("%s: %q does not say to upgrade", s, err)
		}
	}
}

// lowerMaxSize sets the journal cap to n for the rest of the test, so an
// input over the cap is small (the production cap is MaxSize).
func lowerMaxSize(t *testing.T, n int64) {
	t.Helper()
	old := maxSize
	maxSize = n
	t.Cleanup(func() { maxSize = old })
}

func TestDecodeSizeCap(t *testing.T) {
	if maxSize != MaxSize || MaxSize != 8<<20 {
		t.Fatalf("the cap in force is %d, MaxSize %d: want both 8 MiB", maxSize, MaxSize)
	}
	lowerMaxSize(t, 64<<10)
	big := bytes.Repeat([]byte(" "), int(maxSize)+1)
	if _, err := Decode(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Decode of %d bytes: %v", len(big), err)
	}
	// Encode refuses to write what Decode would refuse to read.
	j, _ := New("example.com")
	huge := strings.Repeat("x", 8<<10)
	for i := 0; i < 9; i++ {
		j.Append(Entry{Kind: KindPolicyWrite, Name: "https://mta-sts.example.com/", PolicyText: huge}, t0)
	}
	if _, err := Encode(j); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("Encode of a journal 9/8 of the cap: %v", err)
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	j := full(t)
	j.Entries[1].ID = 1
	if _, err := Encode(j); err == nil {
		t.Fatal("encoded a journal with a repeated entry id")
	}
}

// Secrets have no way into a journal: no field of any type reachable
// from Journal (or the lock file's Holder) is named like a secret, and
// none is a map, which could carry provider settings as free-form pairs.
func TestNoFieldForSecrets(t *testing.T) {
	secretish := regexp.MustCompile(`(?i)secret|token|passw|credential|key|auth|setting|env`)
	seen := map[reflect.Type]bool{}
	var walk func(path string, ty reflect.Type)
	walk = func(path string, ty reflect.Type) {
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(path+"[]", ty.Elem())
			return
		case reflect.Map, reflect.Interface:
			t.Errorf("%s is a %s: free-form data could carry secrets", path, ty.Kind())
			return
		case reflect.Struct:
		default:
			return
		}
		if seen[ty] || ty == reflect.TypeFor[time.Time]() {
			return
		}
		seen[ty] = true
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			name := f.Name + " " + f.Tag.Get("json")
			if secretish.MatchString(name) {
				t.Errorf("%s.%s (%s) is named like a secret", path, f.Name, f.Tag.Get("json"))
			}
			walk(path+"."+f.Name, f.Type)
		}
	}
	walk("Journal", reflect.TypeFor[Journal]())
	walk("Holder", reflect.TypeFor[Holder]())

	// And the marshalled document has no such key either.
	b, err := json.Marshal(full(t))
	if err != nil {
		t.Fatal(err)
	}
	keys := regexp.MustCompile(`"([a-z_]+)":`).FindAllSubmatch(b, -1)
	if len(keys) < 30 {
		t.Fatalf("only %d keys found in %s", len(keys), b)
	}
	for _, k := range keys {
		if secretish.Match(k[1]) {
			t.Errorf("key %q in the journal", k[1])
		}
	}
}

func TestDefaultCommandTakesNoFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"/usr/local/bin/stspilot", "promote", "--token=abc", "example.com"}, "stspilot promote"},
		{[]string{"/usr/local/bin/stspilot", "--credentials=/x", "promote"}, "stspilot"},
		{[]string{"./stspilot"}, "stspilot"},
		{nil, "stspilot"},
		{[]string{"stspilot", "roll\x1b[31mout"}, "stspilot roll[31mout"},
	} {
		if got := defaultCommand(tt.args); got != tt.want {
			t.Errorf("defaultCommand(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// The example in docs/journal.md is a valid journal, byte for byte as
// Encode writes it, with a pending entry and an intent as the text says.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/journal.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) != 2 {
		t.Fatalf("%d json blocks in docs/journal.md, want the journal and the lock file", len(blocks))
	}
	j, err := Decode(blocks[0][1])
	if err != nil {
		t.Fatalf("the documented example does not decode: %v", err)
	}
	b, err := Encode(j)
	if err != nil || !bytes.Equal(b, blocks[0][1]) {
		t.Fatalf("the documented example is not in the written form (%v):\n%s", err, b)
	}
	if p := j.Pending(); len(p) != 1 || p[0].ID != 5 || j.Intent == nil || j.Intent.Workflow != "promote" {
		t.Fatalf("the example is not the killed promote the text describes")
	}
	for _, p := range []*Policy{j.Policy, j.Intent.Target} {
		if rec, match := mtasts.VerifyID(p.ID, []byte(p.Text)); !rec || !match {
			t.Errorf("example id %q does not follow docs/design.md's id scheme for its policy text", p.ID)
		}
	}
	var h Holder
	dec := json.NewDecoder(bytes.NewReader(blocks[1][1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || h.PID == 0 || h.Since.IsZero() {
		t.Fatalf("the documented lock file: %+v, %v", h, err)
	}
}

// FuzzDecode: any bytes either decode into a valid journal that encodes
// and decodes back to itself, or give an error; never a panic.
func FuzzDecode(f *testing.F) {
	good, err := Encode(full(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Add([]byte(`{"schema":"stspilot.journal/v1","domain":"example.com","stage":"","entries":[]}`))
	f.Add([]byte(`{"schema":"stspilot.journal/v2"}`))
	f.Add([]byte(`{"schema":"stspilot.journal/v1","domain":"example.com","entries":null}`))
	f.Add([]byte("\x00\x01\x02"))
	f.Add([]byte(`{"schema":"stspilot.journal/v1","schema":"stspilot.journal/v9"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := Decode(data)
		if err != nil {
			if j != nil {
				t.Fatal("a journal with an error")
			}
			return
		}
		b, err := Encode(j)
		if err != nil {
			t.Fatalf("decoded journal does not encode: %v", err)
		}
		j2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded journal does not decode: %v\n%s", err, b)
		}
		b2, err := Encode(j2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("encoding is not stable: %v\n%s\n---\n%s", err, b, b2)
		}
	})
}

// Issue 14, item 5: a journal's publish field was run as a command. A
// journal keeps only "exec" of an exec publisher: a command is never
// written, and one found in a journal (as stspilot wrote them before, or
// as a hand edit or a merged pull request put it there) is dropped as it
// is read, whatever reads it.
func TestNoCommandInAJournal(t *testing.T) {
	for spec, want := range map[string]string{
		"exec:curl -T - https://cdn.example/$TOKEN": "exec",
		" exec:x":             "exec",
		"exec":                "exec",
		"webroot:/srv/www":    "webroot:/srv/www",
		"webroot:/srv/exec:x": "webroot:/srv/exec:x",
		"serve":               "serve",
		"manual":              "manual",
		"":                    "",
	} {
		if got := KeptPublish(spec); got != want {
			t.Errorf("KeptPublish(%q) = %q, want %q", spec, got, want)
		}
	}

	j := full(t)
	j.Publish = "exec:touch /tmp/stspilot-pwned; upload --token s3cr3t"
	b, err := Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("touch")) || bytes.Contains(b, []byte("s3cr3t")) || !bytes.Contains(b, []byte(`"publish": "exec",`)) {
		t.Errorf("Encode wrote the command:\n%s", b)
	}

	// A journal of today, with the command in it, reads safely.
	edited := bytes.Replace(b, []byte(`"publish": "exec",`), []byte(`"publish": "exec:touch /tmp/stspilot-pwned",`), 1)
	got, err := Decode(edited)
	if err != nil || got.Publish != "exec" {
		t.Fatalf("Decode of a journal with an exec command: publish %q, %v; want %q", got.Publish, err, "exec")
	}
	// A v1 journal, as stspilot wrote them with the command, too.
	v1 := []byte(`{"schema":"stspilot.journal/v1","domain":"example.com","stage":"","publish":"exec:touch /tmp/stspilot-pwned","entries":[]}`)
	if got, err := Decode(v1); err != nil || got.Publish != "exec" {
		t.Fatalf("Decode of a v1 journal with an exec command: %v, %v; want publish %q", got, err, "exec")
	}
	s := openStore(t)
	path, err := s.Path("example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Peek("example.com"); err != nil || p.Publish != "exec" {
		t.Errorf("Peek: %v, %v", p, err)
	}
	h := lock(t, s, "example.com")
	l, err := h.Load()
	if err != nil || l.Publish != "exec" {
		t.Fatalf("Load: %v, %v", l, err)
	}
	if err := h.Save(l); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("touch")) {
		t.Errorf("the command is still in the saved journal")
	}
}

// TestMigrateV1: a stspilot.journal/v1 document is read as the current
// version with its ledger rebuilt: one policy per id every name server
// answered, in order, each replaced when the next was published, with the
// TTL its record was replaced with; the live policy last and unreplaced.
func TestMigrateV1(t *testing.T) {
	testing1 := policyText
	enforce := strings.Replace(policyText, "testing", "enforce", 1)
	j, err := New("example.com")
	if err != nil {
		t.Fatal(err)
	}
	add := func(e Entry, at time.Time) {
		id := j.Append(e, at)
		if err := j.Finish(id, Done, at.Add(time.Second), ""); err != nil {
			t.Fatal(err)
		}
	}
	url := "https://mta-sts.example.com/.well-known/mta-sts.txt"
	add(Entry{Kind: KindPolicyWrite, Name: url, After: testing1, PolicyText: testing1, PolicyID: "id1", MaxAge: 86400}, t0)
	add(Entry{Kind: KindTXTSet, Name: "_mta-sts.example.com", After: "v=STSv1; id=id1;", PolicyID: "id1", MaxAge: 86400}, t0.Add(time.Minute))
	add(Entry{Kind: KindPublished, Name: "_mta-sts.example.com", After: "v=STSv1; id=id1;", PolicyID: "id1", MaxAge: 86400, Changed: true}, t0.Add(2*time.Minute))
	t1 := t0.Add(15 * 24 * time.Hour)
	add(Entry{Kind: KindPolicyWrite, Name: url, Before: testing1, After: enforce, PolicyText: enforce, PolicyID: "id2", MaxAge: 86400}, t1)
	add(Entry{Kind: KindTXTSet, Name: "_mta-sts.example.com", Before: "v=STSv1; id=id1;", After: "v=STSv1; id=id2;", PolicyID: "id2", MaxAge: 86400, TTL: 600}, t1.Add(time.Minute))
	add(Entry{Kind: KindPublished, Name: "_mta-sts.example.com", After: "v=STSv1; id=id2;", PolicyID: "id2", MaxAge: 86400, Changed: true}, t1.Add(2*time.Minute))
	j.Policy = &Policy{Text: enforce, ID: "id2", PolicyTerms: PolicyTerms{Mode: "enforce", MaxAge: 86400, MX: []string{"mx1.example.com"}}, PublishedAt: t1.Add(2*time.Minute + time.Second)}
	b, err := Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	v1 := bytes.Replace(b, []byte(Schema), []byte(SchemaV1), 1)
	got, err := Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != Schema || len(got.Ledger) != 2 {
		t.Fatalf("migrated: schema %s, ledger %+v", got.Schema, got.Ledger)
	}
	l0, l1 := got.Ledger[0], got.Ledger[1]
	if l0.ID != "id1" || l0.Mode != "testing" || l0.Hash != PolicyHash(testing1) || !slices.Equal(l0.MX, []string{"mx1.example.com"}) || !l0.PublishedAt.Equal(t0.Add(2*time.Minute+time.Second)) || !l0.ReplacedAt.Equal(l1.PublishedAt) || l0.TXTTTL != 600 {
		t.Errorf("ledger[0] %+v", l0)
	}
	if l1.ID != "id2" || l1.Mode != "enforce" || l1.Replaced() || l1.Hash != PolicyHash(enforce) {
		t.Errorf("ledger[1] %+v", l1)
	}
	// A v1 document never has a ledger.
	bad := bytes.Replace(v1, []byte(`"entries"`), []byte(`"ledger": [], "entries"`), 1)
	if _, err := Decode(bad); err == nil {
		t.Error("a v1 document with a ledger was accepted")
	}
}

// An unknown stage is read as any string and refused by Validate, after
// everything the decoder refuses: the stage's type (checks.Stage) does not
// refuse it while decoding, so the error is Validate's, with its clip.
func TestDecodeUnknownStage(t *testing.T) {
	good, err := Encode(full(t))
	if err != nil {
		t.Fatal(err)
	}
	set := func(to string) []byte {
		from := []byte(`"stage": "testing"`)
		if !bytes.Contains(good, from) {
			t.Fatalf("fixture lacks %q", from)
		}
		return bytes.Replace(good, from, []byte(`"stage": `+to), 1)
	}
	long := strings.Repeat("x", 100)
	for _, tt := range []struct {
		data []byte
		want string
	}{
		{set(`"party"`), `unknown stage "party"`},
		{set(`"` + long + `"`), `unknown stage "` + long[:80] + `..."`},
		{set(`"party", "token": "x"`), `invalid stspilot.journal/v3 document: json: unknown field "token"`},
	} {
		if _, err := Decode(tt.data); err == nil || err.Error() != tt.want {
			t.Errorf("error %v, want %s", err, tt.want)
		}
	}
}
