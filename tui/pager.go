package tui

import (
	"fmt"
	"math"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/tui/textout"
)

// pager is a screen's scroll position over its lines as wrapped to the
// width (the plan, the findings): j/k and the arrows move a line, space
// and pgdn a page, pgup a page back, home and end to either end. The root
// clamps it to the lines when it draws (window).
type pager struct {
	// off is the first line shown; page is how many lines the last frame
	// had room for (window sets both).
	off, page int
}

// scrollKeys are the pager's keys.
func (k *keyMap) scrollKeys() []*key.Binding {
	return []*key.Binding{&k.Up, &k.Down, &k.PageUp, &k.PageDown, &k.Home, &k.End}
}

// scrollKey reports whether km is one of the pager's keys.
func scrollKey(k keyMap, km tea.KeyMsg) bool {
	for _, b := range k.scrollKeys() {
		if key.Matches(km, *b) {
			return true
		}
	}
	return false
}

// enableScroll enables the pager's keys (on a screen with a pager).
func (k *keyMap) enableScroll() {
	for _, b := range k.scrollKeys() {
		b.SetEnabled(true)
	}
}

// scroll moves by a line, a page or to an end as km says.
func (p pager) scroll(k keyMap, km tea.KeyMsg) pager {
	page := max(p.page-1, 1)
	switch {
	case key.Matches(km, k.Down):
		p.off++
	case key.Matches(km, k.Up):
		p.off--
	case key.Matches(km, k.PageDown):
		p.off += page
	case key.Matches(km, k.PageUp):
		p.off -= page
	case key.Matches(km, k.Home):
		p.off = 0
	case key.Matches(km, k.End):
		p.off = math.MaxInt32 // window clamps it to the last page
	}
	p.off = max(p.off, 0)
	return p
}

// window is the part of lines that fits in room lines, from p.off
// (clamped), with a last line that says how to scroll when they do not
// all fit; what names the screen's content ("the plan").
func (p *pager) window(c *common, lines []string, room int, what string) []string {
	if room < 2 || len(lines) <= room {
		p.off, p.page = 0, room
		return lines
	}
	show := room - 1
	p.page = show
	p.off = min(max(p.off, 0), len(lines)-show)
	out := append([]string(nil), lines[p.off:p.off+show]...)
	var hint string
	switch below := len(lines) - p.off - show; {
	case below > 0 && p.off > 0:
		hint = fmt.Sprintf("… %s below, %d above: space/j down, pgup/k up", textout.Plural(below, "more line"), p.off)
	case below > 0:
		hint = "… " + textout.Plural(below, "more line") + " below: space/pgdn or j/↓ scrolls"
	default:
		hint = fmt.Sprintf("(end of %s; pgup or k/↑ scrolls back %s)", what, textout.Plural(p.off, "line"))
	}
	return append(out, c.st.Subtle.Render(hint))
}
