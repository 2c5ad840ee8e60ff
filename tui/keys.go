package tui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key of the wizard, one place (style practice 18). The
// root enables the keys that apply to the screen shown before each render.
type keyMap struct {
	Next, Rollout, Promote, Teardown key.Binding
	Recheck, Findings, Rollback      key.Binding
	Enter, Back, Override, Yes, No   key.Binding
	Up, Down, PageUp, PageDown       key.Binding
	Home, End                        key.Binding
	Breaks, Skip, MX                 key.Binding
	Help, Quit                       key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Next:     bind("next step", "n"),
		Rollout:  bind("rollout", "o"),
		Promote:  bind("promote", "p"),
		Teardown: bind("teardown", "t"),
		Recheck:  bind("check", "c"),
		Findings: bind("findings", "f"),
		Rollback: bindAs("!", "ROLLBACK", "ctrl+r", "!"),
		Enter:    bind("continue", "enter"),
		Back:     bind("back", "esc"),
		Override: bind("override", "O"),
		Yes:      bind("yes", "y"),
		No:       bind("no", "n", "esc"),
		Up:       bindAs("↑/k", "up", "up", "k"),
		Down:     bindAs("↓/j", "down", "down", "j"),
		PageUp:   bind("page up", "pgup"),
		PageDown: bindAs("space", "page down", "pgdown", " "),
		Home:     bindAs("home/g", "top", "home", "g"),
		End:      bindAs("end/G", "bottom", "end", "G"),
		Breaks:   bind("inject failure", "x"),
		Skip:     bind("skip time", "s"),
		MX:       bind("mx migration", "m"),
		Help:     bind("help", "?"),
		Quit:     bind("quit", "q", "ctrl+c"),
	}
}

// bind is a binding of keys that help shows as its first key.
func bind(desc string, keys ...string) key.Binding {
	return bindAs(keys[0], desc, keys...)
}

// bindAs is a binding of keys that help shows as shown.
func bindAs(shown, desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(shown, desc))
}

func (k *keyMap) all() []*key.Binding {
	return []*key.Binding{
		&k.Next, &k.Rollout, &k.Promote, &k.Teardown, &k.Recheck, &k.Findings, &k.Rollback,
		&k.Enter, &k.Back, &k.Override, &k.Yes, &k.No, &k.Up, &k.Down, &k.PageUp, &k.PageDown, &k.Home, &k.End, &k.Breaks, &k.Skip, &k.MX, &k.Help, &k.Quit,
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
		{k.Recheck, k.Findings, k.Up, k.Down, k.PageDown, k.PageUp, k.Home, k.End},
		{k.Enter, k.Back, k.Override, k.Yes, k.No},
		{k.Breaks, k.Skip, k.Rollback, k.Help, k.Quit},
	}
}

// workflowBinding is the key that plans wf on the dashboard and the
// findings screen ("!" rolls back from anywhere); nil for an unknown name.
func (k *keyMap) workflowBinding(wf string) *key.Binding {
	switch wf {
	case "rollout":
		return &k.Rollout
	case "promote":
		return &k.Promote
	case "teardown":
		return &k.Teardown
	case "rollback":
		return &k.Rollback
	}
	return nil
}

// workflowKey is the key workflowBinding shows for wf; "" for an unknown
// name.
func (k *keyMap) workflowKey(wf string) string {
	if b := k.workflowBinding(wf); b != nil {
		return b.Help().Key
	}
	return ""
}
