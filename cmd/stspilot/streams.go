package main

import (
	"encoding/json"
	"io"
	"os"
	"strings"

	"github.com/charmbracelet/x/term"
)

// defaultWidth is the wrap width when the terminal's is unknown (a pipe, a
// file, a CI log).
const defaultWidth = 100

// envNoPrompt turns prompting off even on a terminal (like gh's
// GH_PROMPT_DISABLED); any non-empty value counts.
const envNoPrompt = "STSPILOT_NO_PROMPT"

// IOStreams is where a command reads and writes, and what it knows about the
// terminal behind each stream. Commands never touch os.Stdin/os.Stdout
// directly, so tests hand in buffers and set the TTY answers they need.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	noColor                        bool // NO_COLOR or TERM=dumb
	neverPrompt                    bool // STSPILOT_NO_PROMPT or --json
	width                          int  // terminal columns of stdout, 0 when unknown
}

// newIOStreams wires the given streams and asks the operating system whether
// each is a terminal. getenv is os.Getenv outside tests.
func newIOStreams(in io.Reader, out, errOut io.Writer, getenv func(string) string) *IOStreams {
	s := &IOStreams{
		In: in, Out: out, ErrOut: errOut,
		stdinTTY:    isTerminal(in),
		stdoutTTY:   isTerminal(out),
		stderrTTY:   isTerminal(errOut),
		noColor:     getenv("NO_COLOR") != "" || getenv("TERM") == "dumb",
		neverPrompt: getenv(envNoPrompt) != "",
	}
	if f, ok := out.(*os.File); ok && s.stdoutTTY {
		if w, _, err := term.GetSize(f.Fd()); err == nil && w > 0 {
			s.width = w
		}
	}
	return s
}

// testStreams returns streams over in-memory buffers: no TTYs, no colour,
// no prompting. Tests flip what they need with the setters.
func testStreams(in string) (s *IOStreams, out, errOut *strings.Builder) {
	out, errOut = &strings.Builder{}, &strings.Builder{}
	return &IOStreams{In: strings.NewReader(in), Out: out, ErrOut: errOut}, out, errOut
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && f != nil && term.IsTerminal(f.Fd())
}

// IsStdinTTY reports whether stdin is a terminal; IsStdoutTTY and
// IsStderrTTY the same of theirs. The setters override the answer (tests,
// or a forced mode).
func (s *IOStreams) IsStdinTTY() bool      { return s.stdinTTY }
func (s *IOStreams) IsStdoutTTY() bool     { return s.stdoutTTY }
func (s *IOStreams) IsStderrTTY() bool     { return s.stderrTTY }
func (s *IOStreams) SetStdinTTY(v bool)    { s.stdinTTY = v }
func (s *IOStreams) SetStdoutTTY(v bool)   { s.stdoutTTY = v }
func (s *IOStreams) SetStderrTTY(v bool)   { s.stderrTTY = v }
func (s *IOStreams) SetNoColor(v bool)     { s.noColor = v }
func (s *IOStreams) SetNeverPrompt(v bool) { s.neverPrompt = v }
func (s *IOStreams) SetWidth(columns int)  { s.width = columns }

// ColorEnabled reports whether stdout gets colour: only on a terminal, and
// never when NO_COLOR is set (https://no-color.org) or TERM is dumb.
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

// CanPrompt reports whether the command may ask the user a question: only
// when both stdin and stdout are terminals, and neither --json nor
// STSPILOT_NO_PROMPT turned prompting off. A command that would need to ask
// and cannot must fail with a usage error naming the flag (--yes) instead.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY && !s.neverPrompt }

// Width is the column count human output wraps to: the terminal's when
// stdout is one and its size is known, else defaultWidth.
func (s *IOStreams) Width() int {
	if s.width > 0 {
		return s.width
	}
	return defaultWidth
}

// WriteJSON writes v to Out as one line of JSON, with <, > and & left as
// they are: how every --json document of stspilot is written (docs/json.md).
func (s *IOStreams) WriteJSON(v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
