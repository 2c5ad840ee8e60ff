package tui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key of the wizard, one place (style practice 18). The
// root enables the keys that apply to the screen shown before each render.
type keyMap struct {
	Next, Rollout, Promote, Teardown key.Binding
	Recheck, Findings, Rollback      key.Binding
	Enter, Back, Override, Yes, No   key.Binding
	Up, Down, PageUp, PageDown       key.Binding
	Breaks, Skip, MX                 key.Binding
	Help, Quit                       key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Next:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next step")),
		Rollout:  key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "rollout")),
		Promote:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "promote")),
		Teardown: key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "teardown")),
		Recheck:  key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "check")),
		Findings: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "findings")),
		Rollback: key.NewBinding(key.WithKeys("ctrl+r", "!"), key.WithHelp("!", "ROLLBACK")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Override: key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "override")),
		Yes:      key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:       key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n", "no")),
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", " "), key.WithHelp("space", "page down")),
		Breaks:   key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "inject failure")),
		Skip:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip time")),
		MX:       key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mx migration")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

func (k *keyMap) all() []*key.Binding {
	return []*key.Binding{
		&k.Next, &k.Rollout, &k.Promote, &k.Teardown, &k.Recheck, &k.Findings, &k.Rollback,
		&k.Enter, &k.Back, &k.Override, &k.Yes, &k.No, &k.Up, &k.Down, &k.PageUp, &k.PageDown, &k.Breaks, &k.Skip, &k.MX, &k.Help, &k.Quit,
	}
}

// ShortHelp implements help.KeyMap.
func (k keyMap) ShortHelp() []key.Binding {
	var out []key.Binding
	for _, b := range []key.Binding{k.Yes, k.No, k.Enter, k.Rollback, k.Next, k.Rollout, k.Promote, k.Teardown, k.Override, k.Recheck, k.Findings, k.MX, k.Breaks, k.Skip, k.Back, k.Quit, k.Help} {
		if b.Enabled() {
			out = append(out, b)
		}
	}
	return out
}

// FullHelp implements help.KeyMap.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Next, k.Rollout, k.Promote, k.Teardown, k.MX},
		{k.Recheck, k.Findings, k.Up, k.Down, k.PageDown, k.PageUp},
		{k.Enter, k.Back, k.Override, k.Yes, k.No},
		{k.Breaks, k.Skip, k.Rollback, k.Help, k.Quit},
	}
}

// workflowKey is the key that plans wf on the dashboard and the findings
// screen ("!" rolls back from anywhere); "" for an unknown name.
func workflowKey(wf string) string {
	switch wf {
	case "rollout":
		return "o"
	case "promote":
		return "p"
	case "teardown":
		return "t"
	case "rollback":
		return "!"
	}
	return ""
}
