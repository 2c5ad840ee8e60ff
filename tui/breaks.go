package tui

import (
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
)

// breaksModel is the demo's failure switchboard: a letter per failure.
type breaksModel struct {
	c     *common
	items []Failure
}

const breakKeys = "abcdefghijklm"

func (b breaksModel) pick(km tea.KeyMsg) (string, bool) {
	s := km.String()
	if len(s) != 1 {
		return "", false
	}
	i := strings.Index(breakKeys, s)
	if i < 0 || i >= len(b.items) {
		return "", false
	}
	return b.items[i].Name, true
}

// on counts the failures injected now.
func (b breaksModel) on() int {
	n := 0
	for _, f := range b.items {
		if f.On {
			n++
		}
	}
	return n
}

func (b *breaksModel) set(name string, on bool) {
	for i := range b.items {
		if b.items[i].Name == name {
			b.items[i].On = on
		}
	}
}

func (b breaksModel) view() string {
	c := b.c
	var s strings.Builder
	s.WriteString(c.st.Bold.Render("Inject a field failure") + c.st.Subtle.Render("  (the key again heals it)") + "\n")
	for i, f := range b.items {
		if i >= len(breakKeys) {
			break
		}
		box := "[ ]"
		if f.On {
			box = c.st.Danger.Render("[x]")
		}
		fmt.Fprintf(&s, "%s %s %d %-20s %s\n", c.st.Key.Render(string(breakKeys[i])), box, f.Number, f.Name, f.Title)
	}
	s.WriteString("\n" + c.st.Subtle.Render("esc, then c checks again and n/p runs the next step: each one is caught.") + "\n")
	return s.String()
}
