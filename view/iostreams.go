package view

import (
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"
)

// IO is the process's standard streams and environment, as the commands see them. Tests build
// one from buffers; Std returns the real one. Views decide colour and progress from it, never
// from the environment directly.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// InTTY, OutTTY and ErrTTY report whether the stream is a terminal.
	InTTY, OutTTY, ErrTTY bool
	// Color enables ANSI colour on Out (Std: Out is a terminal, NO_COLOR unset, TERM not "dumb").
	Color bool
	// Env looks up an environment variable (os.LookupEnv in production).
	Env func(string) (string, bool)
	// Now is the machine's clock (nil: time.Now). flowsync compares times with the service's
	// clock, learned from its answers, so a wrong clock here changes nothing; tests set one.
	Now func() time.Time
	// Log, when set (--log-format json), takes the plain progress lines as structured records
	// on stderr, for schedulers.
	Log *slog.Logger
}

// Std returns the process's streams, detecting terminals on the real file descriptors.
func Std() IO {
	s := IO{
		In:     os.Stdin,
		Out:    os.Stdout,
		Err:    os.Stderr,
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		Env:    os.LookupEnv,
	}
	s.Color = ColorEnabled(s.OutTTY, s.Env)
	return s
}

// ColorEnabled reports whether colour should be used on a stream. NO_COLOR set (any value,
// even empty: https://no-color.org) disables it, whatever else is set. FORCE_COLOR or
// CLICOLOR_FORCE set to anything but "" or "0" enables it even when the stream is not a
// terminal (CI logs such as GitHub Actions render ANSI colour). Otherwise: only on a terminal
// whose TERM is not "dumb".
func ColorEnabled(tty bool, env func(string) (string, bool)) bool {
	if env == nil {
		return tty
	}
	if _, ok := env("NO_COLOR"); ok {
		return false
	}
	for _, name := range []string{"FORCE_COLOR", "CLICOLOR_FORCE"} {
		if v, ok := env(name); ok && v != "" && v != "0" {
			return true
		}
	}
	if !tty {
		return false
	}
	if t, ok := env("TERM"); ok && t == "dumb" {
		return false
	}
	return true
}

// palette colours text with ANSI SGR codes when on, and returns it unchanged when off.
type palette struct{ on bool }

const (
	sgrReset   = "\x1b[0m"
	sgrBold    = "\x1b[1m"
	sgrRed     = "\x1b[31m"
	sgrGreen   = "\x1b[32m"
	sgrYellow  = "\x1b[33m"
	sgrMagenta = "\x1b[35m"
	sgrCyan    = "\x1b[36m"
	sgrDim     = "\x1b[2m"
)

func (p palette) paint(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return code + s + sgrReset
}

func (p palette) red(s string) string     { return p.paint(sgrRed, s) }
func (p palette) green(s string) string   { return p.paint(sgrGreen, s) }
func (p palette) yellow(s string) string  { return p.paint(sgrYellow, s) }
func (p palette) magenta(s string) string { return p.paint(sgrMagenta, s) }
func (p palette) cyan(s string) string    { return p.paint(sgrCyan, s) }
func (p palette) bold(s string) string    { return p.paint(sgrBold, s) }
func (p palette) dim(s string) string     { return p.paint(sgrDim, s) }
