package tui

import "github.com/charmbracelet/lipgloss"

// Styles are built once (style practice 16). Colour is decoration only:
// every state also has a mark or a word, so NO_COLOR loses nothing.
type Styles struct {
	Title, Subtle, Bold, OK, Warn, Err, Code, Key, Box, Danger lipgloss.Style
}

func newStyles() Styles {
	return Styles{
		Title:  lipgloss.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "#1f4e9e", Dark: "#7aa2f7"}),
		Subtle: lipgloss.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#777777", Dark: "#888888"}),
		Bold:   lipgloss.NewStyle().Bold(true),
		OK:     lipgloss.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#1a7f37", Dark: "#9ece6a"}),
		Warn:   lipgloss.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#9a6700", Dark: "#e0af68"}),
		Err:    lipgloss.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#cf222e", Dark: "#f7768e"}),
		Code:   lipgloss.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#8250df", Dark: "#bb9af7"}),
		Key:    lipgloss.NewStyle().Bold(true),
		Box:    lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1),
		Danger: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "#cf222e", Dark: "#f7768e"}),
	}
}
