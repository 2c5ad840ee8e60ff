package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/dnsprovider"
)

// setupModel asks for the domain, the DNS provider and its settings (from
// the registry's metadata; secrets masked), the publisher and the TLS-RPT
// destination.
type setupModel struct {
	c         *common
	providers []dnsprovider.Info
	prov      int
	domain    textinput.Model
	settings  []settingField
	publish   textinput.Model
	rua       textinput.Model
	focus     int // 0 domain, 1 provider, then settings, publish, rua
	problem   string
}

type settingField struct {
	s  dnsprovider.Setting
	in textinput.Model
}

func newInput(placeholder, value string) textinput.Model {
	in := textinput.New()
	in.Placeholder = placeholder
	in.SetValue(value)
	in.CharLimit = 512
	in.Width = 50
	return in
}

// hint is a placeholder that reads as an example, not as a value typed
// (in every colour profile, NO_COLOR included).
func hint(example string) string {
	if example == "" {
		return ""
	}
	return "e.g. " + example
}

// ruaHint follows the domain typed so far.
func ruaHint(domain string) string {
	domain = strings.TrimSpace(domain)
	if domain == "" {
		domain = "example.com"
	}
	return hint("mailto:tlsrpt@" + domain)
}

func newSetup(c *common) setupModel {
	ps := c.opts.Providers
	if ps == nil {
		ps = dnsprovider.Providers(false)
	}
	s := setupModel{
		c: c, providers: ps,
		domain:  newInput(hint("example.com"), c.opts.Domain),
		publish: newInput(hint("webroot:/srv/mta-sts")+" (empty: manual)", ""),
		rua:     newInput(ruaHint(c.opts.Domain), c.opts.RUA),
	}
	for _, in := range []*textinput.Model{&s.domain, &s.publish, &s.rua} {
		in.PlaceholderStyle = c.st.Subtle
	}
	s.pickProvider(0)
	s.domain.Focus()
	return s
}

func (s *setupModel) pickProvider(i int) {
	if len(s.providers) == 0 {
		return
	}
	s.prov = (i + len(s.providers)) % len(s.providers)
	s.settings = nil
	for _, st := range s.providers[s.prov].Settings {
		// The help is a line of its own (never cut to the field's
		// width); the placeholder only shows the default.
		in := newInput("", "")
		if st.Default != "" && !st.Secret {
			in.Placeholder = hint(st.Default) + " (the default)"
		}
		in.PlaceholderStyle = s.c.st.Subtle
		if st.Secret {
			in.EchoMode = textinput.EchoPassword
			in.EchoCharacter = '•'
		}
		s.settings = append(s.settings, settingField{s: st, in: in})
	}
}

func (s setupModel) init() tea.Cmd { return textinput.Blink }

func (s setupModel) fields() int { return 2 + len(s.settings) + 2 }

// input returns the text input of focus index i (nil for the provider row).
func (s *setupModel) input(i int) *textinput.Model {
	switch {
	case i == 0:
		return &s.domain
	case i == 1:
		return nil
	case i < 2+len(s.settings):
		return &s.settings[i-2].in
	case i == 2+len(s.settings):
		return &s.publish
	default:
		return &s.rua
	}
}

func (s *setupModel) move(d int) tea.Cmd {
	if in := s.input(s.focus); in != nil {
		in.Blur()
	}
	s.focus = (s.focus + d + s.fields()) % s.fields()
	if in := s.input(s.focus); in != nil {
		return in.Focus()
	}
	return nil
}

// memSource holds the settings typed into the form, in memory only.
type memSource map[string]string

func (m memSource) Lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m memSource) Where() string                  { return "the wizard's set-up screen" }

func (s setupModel) update(msg tea.Msg) (setupModel, tea.Cmd, Setup, bool) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		var cmd tea.Cmd
		if in := s.input(s.focus); in != nil {
			*in, cmd = in.Update(msg)
		}
		return s, cmd, Setup{}, false
	}
	switch km.String() {
	case "tab", "down":
		return s, s.move(1), Setup{}, false
	case "shift+tab", "up":
		return s, s.move(-1), Setup{}, false
	case "left", "right":
		if s.focus == 1 {
			d := 1
			if km.String() == "left" {
				d = -1
			}
			s.pickProvider(s.prov + d)
			return s, nil, Setup{}, false
		}
	case "enter":
		if s.focus < s.fields()-1 {
			return s, s.move(1), Setup{}, false
		}
		out, problem := s.collect()
		s.problem = problem
		return s, nil, out, problem == ""
	}
	var cmd tea.Cmd
	if in := s.input(s.focus); in != nil {
		*in, cmd = in.Update(msg)
	}
	s.rua.Placeholder = ruaHint(s.domain.Value())
	return s, cmd, Setup{}, false
}

func (s setupModel) collect() (Setup, string) {
	d := strings.TrimSpace(s.domain.Value())
	if d == "" {
		return Setup{}, "the domain is empty"
	}
	if s.c.opts.Open == nil {
		return Setup{}, "this wizard cannot open a provider (no set-up hook)"
	}
	if len(s.providers) == 0 {
		return Setup{}, "no DNS provider is compiled in"
	}
	src := memSource{}
	info := s.providers[s.prov]
	for _, f := range s.settings {
		if v := f.in.Value(); v != "" {
			src[f.s.Env] = v
		} else if f.s.Required && f.s.Default == "" {
			return Setup{}, fmt.Sprintf("%s needs %s (%s)", info.Name, f.s.Env, f.s.Help)
		}
	}
	pub := strings.TrimSpace(s.publish.Value())
	if pub == "" {
		pub = "manual"
	}
	return Setup{Domain: d, Provider: info.Name, Publish: pub, RUA: strings.TrimSpace(s.rua.Value()), Source: src}, ""
}

func (s setupModel) view() string {
	c := s.c
	var b strings.Builder
	b.WriteString(c.st.Bold.Render("Set up") + c.st.Subtle.Render("  tab/↓ next field · ←/→ provider · enter on the last field: open") + "\n\n")
	mark := func(i int) string {
		if s.focus == i {
			return c.st.Key.Render("›") + " "
		}
		return "  "
	}
	fmt.Fprintf(&b, "%s%-14s %s\n", mark(0), "domain", s.domain.View())
	name := "(none)"
	desc := ""
	if len(s.providers) > 0 {
		info := s.providers[s.prov]
		name, desc = info.Name, info.Description
	}
	fmt.Fprintf(&b, "%s%-14s ‹ %s › %s\n", mark(1), "DNS provider", c.st.Bold.Render(name), c.st.Subtle.Render(fmt.Sprintf("%d of %d", s.prov+1, len(s.providers))))
	if desc != "" {
		b.WriteString("                 " + c.st.Subtle.Render(desc) + "\n")
	}
	for i, f := range s.settings {
		label := f.s.Env
		if f.s.Secret {
			label += " (secret)"
		}
		fmt.Fprintf(&b, "%s%-14s %s\n     %s\n", mark(2+i), label, c.st.Subtle.Render(f.s.Help), f.in.View())
	}
	fmt.Fprintf(&b, "%s%-14s %s\n", mark(2+len(s.settings)), "publish", s.publish.View())
	fmt.Fprintf(&b, "%s%-14s %s\n", mark(3+len(s.settings)), "TLS-RPT rua", s.rua.View())
	b.WriteString("\n" + c.st.Subtle.Render("Settings stay in memory; they reach the provider and nothing else.") + "\n")
	if s.problem != "" {
		b.WriteString(c.st.Err.Render("✗ "+s.problem) + "\n")
	}
	return b.String()
}
