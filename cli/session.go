package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

const (
	// defaultConcurrency is how many requests a command has in flight at once, unless
	// apply --concurrency says otherwise.
	defaultConcurrency = 8
	defaultEndpoint    = flowservice.DefaultEndpoint
	emulatorWord       = "emulator"
	emulatorStateFile  = ".flowsync-emulator.json"
)

// lockfilePath is --lockfile, or the manifest's path with its extension replaced.
func lockfilePath(flag, manifestPath string) string {
	if flag != "" {
		return flag
	}
	return lockfile.DefaultPath(manifestPath)
}

func lockTarget(m *manifest.Manifest) lockfile.Target {
	return lockfile.Target{OrgID: m.Target.OrgID, Sandbox: m.Target.Sandbox}
}

// readLock loads the lockfile of the manifest m (a new, empty one when absent) and folds in a
// leftover journal in memory. It writes nothing; folded reports whether the journal changed
// anything.
func readLock(path string, m *manifest.Manifest) (f *lockfile.File, folded bool, err error) {
	want := lockTarget(m)
	if dir := filepath.Dir(path); dir != "" {
		if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
			return nil, false, hint(fmt.Errorf("lockfile %s: directory %s does not exist", path, dir),
				"create the directory, or point --lockfile somewhere else")
		}
	}
	f, err = lockfile.Load(path, want)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = lockfile.New(want)
	}
	var fe *lockfile.FormatError
	if errors.As(err, &fe) && !errors.Is(err, lockfile.ErrNewerVersion) && !fe.Journal() && m.Path != "" && m.Path != "-" {
		// A damaged lockfile, with the commands that rebuild it for this manifest, runnable
		// as printed: only connections created with this API key are recorded.
		l := shellQuote(path)
		return nil, false, hint(err, fmt.Sprintf("the file was left untouched: restore it from version control or a backup, "+
			"or move it aside and rebuild it: mv %s %s.aside && flowsync import -f %s --lockfile %s --by-name --mine "+
			"(only connections created with this API key are recorded)", l, l, shellQuote(m.Path), l))
	}
	if err != nil {
		return nil, false, err
	}
	folded, err = lockfile.Fold(f, path)
	if err != nil {
		return nil, false, journalErr(err, m.Path, path)
	}
	return f, folded, nil
}

// journalErr says what to do about a journal that cannot be folded into the lockfile at
// lockPath. Every piece of advice is safe to follow as written: none leads to a connection
// being created twice or to someone else's being touched.
func journalErr(err error, manifestPath, lockPath string) error {
	var me *lockfile.JournalMismatchError
	var fe *lockfile.FormatError
	journal := lockPath + ".journal"
	m, l, j := shellQuote(manifestPath), shellQuote(lockPath), shellQuote(journal)
	switch {
	case errors.As(err, &me) && !me.SameTarget():
		return hint(err,
			fmt.Sprintf("finish that run first: flowsync apply -f MANIFEST_OF_SANDBOX_%s --lockfile %s (the manifest of org %s sandbox %s); it folds the journal into a lockfile of that target",
				me.Journal.Target.Sandbox, l, me.Journal.Target.OrgID, me.Journal.Target.Sandbox),
			fmt.Sprintf("or keep this manifest's state in a lockfile of its own: flowsync apply -f %s --lockfile %s", m, shellQuote(targetLockPath(manifestPath, me.Lockfile.Target))))
	case errors.As(err, &me):
		return hint(err,
			"restore the lockfile this journal belongs to (from version control or a backup) at "+lockPath+", then run apply again to finish that run",
			fmt.Sprintf("without it: mv %s %s.aside && flowsync import -f %s --by-name --mine, which records each entry whose name matches exactly one live connection created with this API key (what that run created; a colleague's is left alone), then flowsync plan -f %s --refresh before applying", j, j, m, m))
	case errors.As(err, &fe):
		return hint(err,
			"restore the journal from a backup, then run apply again to finish that run",
			fmt.Sprintf("without it: mv %s %s.aside && flowsync import -f %s --by-name --mine, which records each entry whose name matches exactly one live connection created with this API key (what that run created; a colleague's is left alone), then flowsync plan -f %s --refresh before applying", j, j, m, m))
	}
	return fmt.Errorf("journal of %s: %w", lockPath, err)
}

// targetLockPath is a lockfile path for the manifest that names its sandbox:
// "envs/m.yaml" → "envs/m.dev.lock.json".
func targetLockPath(manifestPath string, t lockfile.Target) string {
	ext := filepath.Ext(manifestPath)
	return manifestPath[:len(manifestPath)-len(ext)] + "." + t.Sandbox + ".lock.json"
}

// resolveDesired is reconcile.Desire, with the references it cannot read grouped for the
// user and the advice that fits them.
func resolveDesired(m *manifest.Manifest, env func(string) (string, bool), noSecrets bool) ([]reconcile.Desired, error) {
	want, err := reconcile.Desire(m, env, noSecrets)
	var problems manifest.Diagnostics
	if errors.As(err, &problems) {
		return nil, hint(fmt.Errorf("cannot use secret references:\n%s", strings.Join(groupProblems(problems), "\n")), referenceAdvice(m.Path, problems)...)
	}
	return want, err
}

// referenceAdvice is the next step for references that could not be used: a reference that
// could not be read needs its variable or file; a value that breaks a rule needs fixing where
// it is kept (--no-secrets would only hide it).
func referenceAdvice(manifestPath string, problems manifest.Diagnostics) []string {
	var unreadable, invalid bool
	for _, d := range problems {
		unreadable = unreadable || d.Unreadable
		invalid = invalid || !d.Unreadable
	}
	var advice []string
	if unreadable {
		advice = append(advice, "set the variables and create the files named above (regular files of at most 64 KiB); "+
			"to review a plan without any secret: flowsync plan -f "+shellQuote(manifestPath)+" --no-secrets, which does not show secret changes")
	}
	if invalid {
		advice = append(advice, "fix the values the variables or files named above hold: a value read from a reference follows the rules of one written in the manifest")
	}
	return advice
}

// groupProblems says each unreadable reference once: an unset variable that 500 entries use
// (through the defaults, or each on its own line) is one line with the count and the first
// place, not 500 lines. The message names the variable or file, never a value.
func groupProblems(ds manifest.Diagnostics) []string {
	type group struct {
		first manifest.Diagnostic
		n     int
	}
	var order []string
	groups := map[string]*group{}
	for _, d := range ds {
		g, ok := groups[d.Message]
		if !ok {
			g = &group{first: d}
			groups[d.Message] = g
			order = append(order, d.Message)
		}
		g.n++
	}
	lines := make([]string, 0, len(order))
	for _, msg := range order {
		g := groups[msg]
		if g.n == 1 {
			lines = append(lines, g.first.Error())
			continue
		}
		lines = append(lines, fmt.Sprintf("%s:%d:%d: %s: used by %s entries, the first %s",
			g.first.File, g.first.Pos.Line, g.first.Pos.Col, msg, thousands(g.n), g.first.Path))
	}
	return lines
}

// service is a connected client and what must be closed after use.
type service struct {
	client *flowservice.Client
	emu    *emulator.Running // the in-process emulator of --endpoint emulator
}

func (s *service) Close() error {
	if s.emu != nil {
		return s.emu.Close()
	}
	return nil
}

// connect builds the Flow Service client for the manifest's target: the in-process emulator
// for --endpoint emulator (state beside the lockfile), else the configured endpoint with
// credentials from the environment.
//
// The access token is fetched here, once, so that bad credentials stop the command before
// anything is planned or sent.
func connect(ctx context.Context, g *globals, m *manifest.Manifest, lockPath string, concurrency int, maxRPS float64) (*service, error) {
	cfg := flowservice.Config{
		OrgID:       m.Target.OrgID,
		Sandbox:     m.Target.Sandbox,
		Concurrency: concurrency,
		MaxRPS:      maxRPS,
		Logger:      g.log,
		UserAgent:   userAgent(),
		// An answer may echo a value the manifest's references give (check sends none, but a
		// connection holds them): every one that can be read is redacted from what is shown.
		Sensitive: referencedValues(m, g.env),
		Now:       g.io.Now,
	}
	s := &service{}
	if g.endpoint == emulatorWord {
		state := filepath.Join(filepath.Dir(lockPath), emulatorStateFile)
		emu, err := emulator.Start(emulator.Options{StatePath: state}, "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("start the in-process emulator: %w", err)
		}
		s.emu = emu
		cfg.Endpoint = emu.Endpoint
		cfg.APIKey = "flowsync-emulator"
		cfg.Tokens = flowservice.StaticToken("flowsync-emulator")
	} else {
		if err := checkEndpoint(g.endpoint); err != nil {
			return nil, hint(err, "set --endpoint or FLOWSYNC_ENDPOINT to a URL, or leave both unset for "+defaultEndpoint)
		}
		cfg.Endpoint = g.endpoint
		if err := credentials(g, &cfg); err != nil {
			return nil, err
		}
	}
	c, err := flowservice.New(cfg)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	s.client = c
	if _, err := cfg.Tokens.Token(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sign in to Adobe IMS: %w", err)
	}
	return s, nil
}

// userAgent is the User-Agent of every request a run sends, to Flow Service and to Adobe IMS.
func userAgent() string { return "flowsync/" + versionString() }

// credentials reads FLOWSYNC_ACCESS_TOKEN, or FLOWSYNC_CLIENT_ID + FLOWSYNC_CLIENT_SECRET (IMS),
// and FLOWSYNC_API_KEY (default: the client id).
func credentials(g *globals, cfg *flowservice.Config) error {
	token, _ := g.env("FLOWSYNC_ACCESS_TOKEN")
	id, _ := g.env("FLOWSYNC_CLIENT_ID")
	secret, _ := g.env("FLOWSYNC_CLIENT_SECRET")
	apiKey, _ := g.env("FLOWSYNC_API_KEY")
	if apiKey == "" {
		apiKey = id
	}
	switch {
	case token != "":
		cfg.Tokens = flowservice.StaticToken(token)
	case id != "" && secret != "":
		ims := flowservice.IMSConfig{URL: flowservice.DefaultIMSURL, ClientID: id, ClientSecret: secret, Scopes: flowservice.DefaultScopes, Logger: g.log, UserAgent: cfg.UserAgent}
		if v, ok := g.env("FLOWSYNC_IMS_URL"); ok && v != "" {
			ims.URL = v
		}
		if v, ok := g.env("FLOWSYNC_SCOPES"); ok && v != "" {
			ims.Scopes = v
		}
		cfg.Tokens = flowservice.NewIMSTokenSource(ims)
	case id != "" || secret != "":
		return hint(errors.New("incomplete Adobe credentials: FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET must both be set"),
			"set both, or set FLOWSYNC_ACCESS_TOKEN instead")
	default:
		return hint(errors.New("no Adobe credentials: this command talks to Flow Service"),
			"set FLOWSYNC_ACCESS_TOKEN (and FLOWSYNC_API_KEY), or FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET for OAuth server-to-server",
			"or try it without an account: --endpoint emulator")
	}
	if apiKey == "" {
		return hint(errors.New("no API key: FLOWSYNC_API_KEY is not set"),
			"set FLOWSYNC_API_KEY to your Developer Console project's client id")
	}
	cfg.APIKey = apiKey
	return nil
}

// observe reads every live connection of the S3 spec: list pages, not one GET per entry.
func observe(ctx context.Context, c *flowservice.Client) (*reconcile.Observed, error) {
	conns, err := c.List(ctx, flowservice.ListOptions{
		Filters: []string{"connectionSpec.id==" + s3source.SpecID},
		Limit:   100,
	})
	if err != nil {
		return nil, serviceErr("read live connections", err)
	}
	return &reconcile.Observed{Connections: conns}, nil
}

// writer is what a command that changes the lockfile holds: a connected client, the run lock,
// and the lockfile with any journal an interrupted run left folded in and saved.
type writer struct {
	svc     *service
	runLock *lockfile.RunLock
	lock    *lockfile.File
	path    string
}

// openWriter refuses a bad lockfile before it connects or takes the run lock, then takes the
// lock and reads the lockfile again under it.
func openWriter(ctx context.Context, g *globals, m *manifest.Manifest, lockPath string, concurrency int, maxRPS float64) (*writer, error) {
	if _, _, err := readLock(lockPath, m); err != nil {
		return nil, err
	}
	svc, err := connect(ctx, g, m, lockPath, concurrency, maxRPS)
	if err != nil {
		return nil, err
	}
	w := &writer{svc: svc, path: lockPath}
	if w.runLock, err = lockfile.Acquire(lockPath); err != nil {
		w.Close()
		return nil, err
	}
	lock, folded, err := readLock(lockPath, m)
	if err != nil {
		w.Close()
		return nil, err
	}
	w.lock = lock
	if folded {
		// A previous run died: make what its journal recorded part of the lockfile first.
		if err := saveLock(lock, lockPath); err != nil {
			w.Close()
			return nil, err
		}
		if err := lockfile.RemoveJournal(lockPath); err != nil {
			w.Close()
			return nil, hint(err, "remove the journal by hand once the lockfile is safe")
		}
		g.log.Info("recovered an interrupted run from its journal", "lockfile", lockPath)
	}
	return w, nil
}

// Close releases the run lock and the connection.
func (w *writer) Close() {
	if w.runLock != nil {
		_ = w.runLock.Release()
	}
	_ = w.svc.Close()
}

// referencedValues are the values of the manifest's secret references that can be read;
// one that cannot (an unset variable) is skipped here: a command that needs it says so.
func referencedValues(m *manifest.Manifest, env func(string) (string, bool)) []string {
	var out []string
	seen := map[manifest.Ref]bool{}
	for _, c := range m.Connections {
		for k, v := range c.Params {
			if v.Ref == nil || seen[*v.Ref] {
				continue
			}
			seen[*v.Ref] = true
			one := c
			one.Params = map[string]manifest.Value{k: v}
			if vals, err := m.Resolve(one, env); err == nil && vals[k] != "" {
				out = append(out, vals[k])
			}
		}
	}
	return out
}
