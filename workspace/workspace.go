// Package workspace is flowsync's domain session, below cli: it resolves a manifest's secret
// references, reads, locks and folds the lockfile, and connects the Flow Service client or the
// in-process emulator. Whatever a Session or a Service opens, its Close closes: the run lock,
// the emulator, and the client's idle connections.
//
// Invariants: a bad lockfile is refused before anything connects or locks; a journal an
// interrupted run left is folded in and saved before anything else is sent; no secret value
// reaches an error; nothing here prints (cli's views do).
package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/flowsync/flowsync/emulator"
	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/internal/regular"
	"github.com/flowsync/flowsync/internal/shell"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/reconcile"
	"github.com/flowsync/flowsync/s3source"
)

// Defaults, named once.
const (
	// DefaultConcurrency is how many requests a command has in flight at once, unless apply
	// --concurrency says otherwise; check tests as many connections at once.
	DefaultConcurrency = 8
	// EmulatorWord is the --endpoint that runs an in-process emulator.
	EmulatorWord = "emulator"
	// EmulatorStateFile is where the in-process emulator keeps its state, beside the lockfile.
	EmulatorStateFile = ".flowsync-emulator.json"
)

// Config is what a workspace takes from the command line and the environment.
type Config struct {
	Endpoint string // a URL, or EmulatorWord
	// BadEndpoint is why Endpoint is not a URL (nil when it is): reported when a command
	// connects, so that commands that stay offline do not fail over it.
	BadEndpoint error
	Env         func(string) (string, bool) // os.LookupEnv in production
	Log         *slog.Logger
	UserAgent   string
	// SaveLockfile saves a lockfile; nil is (*lockfile.File).Save. Tests replace it to see
	// what a full disk does.
	SaveLockfile func(*lockfile.File, string) error
	// Now is the machine's clock (nil: time.Now). The client corrects it by the service's
	// clock, learned from its answers; tests give a wrong one.
	Now func() time.Time
}

// Limits bound the requests a service sends.
type Limits struct {
	Concurrency int     // requests in flight at once; 0 is DefaultConcurrency
	MaxRPS      float64 // 0: no hard cap
}

func (c *Config) save(f *lockfile.File, path string) error {
	if c.SaveLockfile != nil {
		return c.SaveLockfile(f, path)
	}
	return f.Save(path)
}

// SaveLock saves a lockfile after requests were sent.
func (c *Config) SaveLock(f *lockfile.File, path string) error {
	if err := c.save(f, path); err != nil {
		return SaveErr(err)
	}
	return nil
}

// Saver is the lockfile saver of the Config, for lockfile.Commit.
func (c *Config) Saver() func(*lockfile.File, string) error { return c.save }

// SaveErr is a lockfile that could not be saved after requests were sent. lockfile's error
// already says "save lockfile PATH: …": nothing is added before it.
func SaveErr(err error) error {
	return Hint(err, "the journal beside it still holds this run's progress: fix the problem and run apply again")
}

// LockfilePath is --lockfile, or the manifest's path with its extension replaced.
func LockfilePath(flag, manifestPath string) string {
	if flag != "" {
		return flag
	}
	return lockfile.DefaultPath(manifestPath)
}

// FileArgs names the manifest, its environment and its lockfile in a command printed as
// advice, quoted for a POSIX shell: "-f m.yaml", with "--env ENV" for an environment ("": none)
// and "--lockfile PATH" whenever lockPath is not the default lockfile of the manifest and
// environment (a command without it would read and write another lockfile).
func FileArgs(manifestPath, env, lockPath string) string {
	s := "-f " + shell.Quote(manifestPath)
	def := lockfile.DefaultPath(manifestPath)
	if env != "" {
		s += " --env " + shell.Quote(env)
		def = lockfile.EnvPath(manifestPath, env)
	}
	if lockPath != "" && lockPath != def {
		s += " --lockfile " + shell.Quote(lockPath)
	}
	return s
}

// Target is the lockfile target of a manifest.
func Target(m *manifest.Manifest) lockfile.Target {
	return lockfile.Target{OrgID: m.Target.OrgID, Sandbox: m.Target.Sandbox}
}

// notTheManifest refuses a lockfile path that is the manifest itself (the same file, by any
// path): it would be read as a damaged lockfile, and written over.
func notTheManifest(lockPath string, m *manifest.Manifest) error {
	if m.Path == "" || m.Path == "-" {
		return nil
	}
	ls, lerr := os.Stat(lockPath)
	ms, merr := os.Stat(m.Path)
	if lerr != nil || merr != nil || !os.SameFile(ls, ms) {
		return nil
	}
	return Hint(fmt.Errorf("lockfile %s is the manifest %s itself: nothing was read or written", lockPath, m.Path),
		"point --lockfile at the lockfile (the default is "+shell.Quote(LockfilePath("", m.Path))+" beside the manifest), or drop --lockfile")
}

// ReadLock loads the lockfile of the manifest m (a new, empty one when absent) and folds in a
// leftover journal in memory. It writes nothing; folded reports whether the journal changed
// anything.
func ReadLock(path string, m *manifest.Manifest) (f *lockfile.File, folded bool, err error) {
	if err := notTheManifest(path, m); err != nil {
		return nil, false, err
	}
	want := Target(m)
	if dir := filepath.Dir(path); dir != "" {
		if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
			return nil, false, Hint(fmt.Errorf("lockfile %s: directory %s does not exist", path, dir),
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
		return nil, false, Hint(err, fmt.Sprintf("the file was left untouched: restore it from version control or a backup, "+
			"or move it aside and rebuild it: %s && flowsync import %s --lockfile %s --by-name --mine "+
			"(only connections created with this API key are recorded)", MoveAside(path, "aside"), FileArgs(m.Path, m.Env, ""), shell.Quote(path)))
	}
	if errors.As(err, new(*regular.NotRegularError)) {
		return nil, false, Hint(err, "flowsync reads the lockfile from a regular file only: put the lockfile at that path (restore it from version control or a backup), or point --lockfile at it")
	}
	if err != nil {
		return nil, false, err
	}
	folded, err = lockfile.Fold(f, path)
	if err != nil {
		return nil, false, journalErr(err, m, path)
	}
	return f, folded, nil
}

// journalErr says what to do about a journal that cannot be folded into the lockfile at
// lockPath. Every piece of advice is safe to follow as written: none leads to a connection
// being created twice or to someone else's being touched.
func journalErr(err error, mf *manifest.Manifest, lockPath string) error {
	manifestPath := mf.Path
	var me *lockfile.JournalMismatchError
	var fe *lockfile.FormatError
	var nr *regular.NotRegularError
	l := shell.Quote(lockPath)
	files := FileArgs(manifestPath, mf.Env, lockPath)
	// Without the journal: move it aside (kept, not deleted), record what the interrupted run
	// created in this very lockfile, and look before applying.
	without := fmt.Sprintf("without it: %s && flowsync import %s --by-name --mine, which records each entry whose name matches exactly one live connection created with this API key (what that run created; a colleague's is left alone), then flowsync plan %s --refresh before applying",
		MoveAside(lockfile.JournalPath(lockPath), "aside"), files, files)
	switch {
	case errors.As(err, &me) && !me.SameTarget():
		return Hint(err, otherTargetAdvice(me)...)
	case errors.As(err, &me):
		return Hint(err,
			"restore the lockfile this journal belongs to (from version control or a backup) at "+l+", then run apply again to finish that run", without)
	case errors.As(err, &fe):
		return Hint(err, "restore the journal from a backup, then run apply again to finish that run", without)
	case errors.As(err, &nr):
		return Hint(fmt.Errorf("journal of %s: %w", lockPath, err),
			fmt.Sprintf("flowsync reads the journal from a regular file only, and %s holds no record of a run: move it aside, then run again: %s",
				regular.Kind(nr.Mode), MoveAside(lockfile.JournalPath(lockPath), "aside")))
	}
	return fmt.Errorf("journal of %s: %w", lockPath, err)
}

// otherTargetAdvice is what to do about a journal of another target: move it aside, kept
// under a name no file has yet, so that this manifest's run can go on (nothing in it concerns
// this target, so nothing is created twice), then fold it in where it belongs. That
// lockfile's path is not known here: it is said in words.
func otherTargetAdvice(me *lockfile.JournalMismatchError) []string {
	t := me.Journal.Target
	aside := asidePath(me.Path, "other-"+safeWord(t.Sandbox))
	return []string{
		fmt.Sprintf("it records a run against org %q sandbox %q: move it aside, kept, then run this command again: mv -- %s %s",
			t.OrgID, t.Sandbox, shell.Quote(me.Path), shell.Quote(aside)),
		fmt.Sprintf("to finish that run, with the manifest of org %q sandbox %q: move %s to that manifest's lockfile path followed by .journal "+
			"(when no journal is there), then run flowsync apply with that manifest; it folds the journal into that lockfile",
			t.OrgID, t.Sandbox, shell.Quote(aside)),
	}
}

// MoveAside is the command that moves the file at path aside, kept: to path+"."+tag, or a
// numbered variant of it where no file is now, so that following it replaces nothing (an
// earlier file moved aside included).
func MoveAside(path, tag string) string {
	return "mv -- " + shell.Quote(path) + " " + shell.Quote(asidePath(path, tag))
}

// asidePath is path+"."+tag, or with a number added, a path where no file is now: moving a
// file there replaces nothing.
func asidePath(path, tag string) string {
	p := path + "." + tag
	for n := 2; ; n++ {
		if _, err := os.Lstat(p); err != nil {
			return p
		}
		p = fmt.Sprintf("%s.%s.%d", path, tag, n)
	}
}

// safeWord is s when it is a plain word for a file name (letters, digits, - and _), else
// "target": a journal's sandbox is a claim and must not make a path of its own.
func safeWord(s string) string {
	if s == "" || len(s) > 64 {
		return "target"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "target"
		}
	}
	return s
}

// Service is a connected client and what must be closed after use.
type Service struct {
	Client *flowservice.Client
	emu    *emulator.Running // the in-process emulator of --endpoint emulator
}

// Close closes the client's idle connections, then stops the in-process emulator: a
// connection the client dialled but never used is closed by the client, so the emulator's
// graceful shutdown has nothing to wait for.
func (s *Service) Close() error {
	if s.Client != nil {
		s.Client.Close()
	}
	if s.emu != nil {
		return s.emu.Close()
	}
	return nil
}

// Connect builds the Flow Service client for the manifest's target: the in-process emulator
// for the endpoint EmulatorWord (state beside the lockfile), else the configured endpoint with
// credentials from the environment.
//
// The access token is fetched here, once, so that bad credentials stop the command before
// anything is planned or sent.
func Connect(ctx context.Context, c *Config, m *manifest.Manifest, lockPath string, lim Limits) (*Service, error) {
	if lim.Concurrency == 0 {
		lim.Concurrency = DefaultConcurrency
	}
	cfg := flowservice.Config{
		OrgID:       m.Target.OrgID,
		Sandbox:     m.Target.Sandbox,
		Concurrency: lim.Concurrency,
		MaxRPS:      lim.MaxRPS,
		Logger:      c.Log,
		UserAgent:   c.UserAgent,
		// An answer may echo a value the manifest's references give (check sends none, but a
		// connection holds them): every one that can be read is redacted from what is shown.
		Sensitive: referencedValues(m, c.Env),
		Now:       c.Now,
	}
	s := &Service{}
	if c.Endpoint == EmulatorWord {
		state := filepath.Join(filepath.Dir(lockPath), EmulatorStateFile)
		emu, err := emulator.Start(emulator.Options{StatePath: state}, "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("start the in-process emulator: %w", err)
		}
		s.emu = emu
		cfg.Endpoint = emu.Endpoint
		cfg.APIKey = "flowsync-emulator"
		cfg.Tokens = flowservice.StaticToken("flowsync-emulator")
	} else {
		if c.BadEndpoint != nil {
			return nil, Hint(c.BadEndpoint, "set --endpoint or FLOWSYNC_ENDPOINT to a URL, or leave both unset for "+flowservice.DefaultEndpoint)
		}
		cfg.Endpoint = c.Endpoint
		if err := credentials(c, &cfg); err != nil {
			return nil, err
		}
	}
	client, err := flowservice.New(cfg)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	s.Client = client
	if _, err := cfg.Tokens.Token(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sign in to Adobe IMS: %w", err)
	}
	return s, nil
}

// credentials reads FLOWSYNC_ACCESS_TOKEN, or FLOWSYNC_CLIENT_ID + FLOWSYNC_CLIENT_SECRET (IMS),
// and FLOWSYNC_API_KEY (default: the client id).
func credentials(c *Config, cfg *flowservice.Config) error {
	token, _ := c.Env("FLOWSYNC_ACCESS_TOKEN")
	id, _ := c.Env("FLOWSYNC_CLIENT_ID")
	secret, _ := c.Env("FLOWSYNC_CLIENT_SECRET")
	apiKey, _ := c.Env("FLOWSYNC_API_KEY")
	if apiKey == "" {
		apiKey = id
	}
	switch {
	case token != "":
		cfg.Tokens = flowservice.StaticToken(token)
	case id != "" && secret != "":
		ims := flowservice.IMSConfig{URL: flowservice.DefaultIMSURL, ClientID: id, ClientSecret: secret, Scopes: flowservice.DefaultScopes, Logger: c.Log, UserAgent: cfg.UserAgent}
		if v, ok := c.Env("FLOWSYNC_IMS_URL"); ok && v != "" {
			ims.URL = v
		}
		if v, ok := c.Env("FLOWSYNC_SCOPES"); ok && v != "" {
			ims.Scopes = v
		}
		cfg.Tokens = flowservice.NewIMSTokenSource(ims)
	case id != "" || secret != "":
		return Hint(errors.New("incomplete Adobe credentials: FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET must both be set"),
			"set both, or set FLOWSYNC_ACCESS_TOKEN instead")
	default:
		return Hint(errors.New("no Adobe credentials: this command talks to Flow Service"),
			"set FLOWSYNC_ACCESS_TOKEN (and FLOWSYNC_API_KEY), or FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET for OAuth server-to-server",
			"or try it without an account: --endpoint emulator")
	}
	if apiKey == "" {
		return Hint(errors.New("no API key: FLOWSYNC_API_KEY is not set"),
			"set FLOWSYNC_API_KEY to your Developer Console project's client id")
	}
	cfg.APIKey = apiKey
	return nil
}

// Observe reads every live connection of the S3 spec: list pages, not one GET per entry.
func Observe(ctx context.Context, c *flowservice.Client) (*reconcile.Observed, error) {
	conns, err := c.List(ctx, flowservice.ListOptions{
		Filters: []string{"connectionSpec.id==" + s3source.SpecID},
		Limit:   100,
	})
	if err != nil {
		return nil, ServiceErr("read live connections", err)
	}
	return &reconcile.Observed{Connections: conns}, nil
}

// Impact reads what uses the connections ids (reconcile.LookupImpact): nothing is sent for
// no ids, but the impact is then known to be checked.
func Impact(ctx context.Context, c *flowservice.Client, ids []string) (reconcile.Impact, error) {
	imp, err := reconcile.LookupImpact(ctx, c, ids)
	if err != nil {
		return reconcile.Impact{}, ServiceErr("read what uses the connections to delete or replace", err)
	}
	return imp, nil
}

// Session is what a command that changes the lockfile holds: a connected service, the run
// lock, and the lockfile with any journal an interrupted run left folded in and saved.
type Session struct {
	*Service
	Lock     *lockfile.File
	LockPath string
	runLock  *lockfile.RunLock
	cfg      *Config
}

// Open refuses a bad lockfile before it connects or takes the run lock, then takes the lock
// and reads the lockfile again under it.
func Open(ctx context.Context, c *Config, m *manifest.Manifest, lockPath string, lim Limits) (*Session, error) {
	if _, _, err := ReadLock(lockPath, m); err != nil {
		return nil, err
	}
	svc, err := Connect(ctx, c, m, lockPath, lim)
	if err != nil {
		return nil, err
	}
	s := &Session{Service: svc, LockPath: lockPath, cfg: c}
	if err := s.lockAndFold(c, m); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenOffline is Open for a command that sends nothing (forget): no service, no credentials;
// the same run lock and journal rules. The Session's Service is nil.
func OpenOffline(c *Config, m *manifest.Manifest, lockPath string) (*Session, error) {
	if _, _, err := ReadLock(lockPath, m); err != nil {
		return nil, err
	}
	s := &Session{LockPath: lockPath, cfg: c}
	if err := s.lockAndFold(c, m); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// lockAndFold takes the run lock, reads the lockfile again under it, and saves what a
// leftover journal adds before removing the journal.
func (s *Session) lockAndFold(c *Config, m *manifest.Manifest) error {
	var err error
	if s.runLock, err = lockfile.Acquire(s.LockPath); err != nil {
		return err
	}
	lock, folded, err := ReadLock(s.LockPath, m)
	if err != nil {
		return err
	}
	s.Lock = lock
	if folded {
		// A previous run died: make what its journal recorded part of the lockfile first.
		if err := c.SaveLock(lock, s.LockPath); err != nil {
			return err
		}
		if err := lockfile.RemoveJournal(s.LockPath); err != nil {
			return Hint(err, "remove the journal by hand once the lockfile is safe")
		}
		c.Log.Info("recovered an interrupted run from its journal", "lockfile", s.LockPath)
	}
	return nil
}

// Close releases the run lock and closes the service.
func (s *Session) Close() error {
	if s.runLock != nil {
		_ = s.runLock.Release()
	}
	if s.Service == nil {
		return nil
	}
	return s.Service.Close()
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
