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
	defaultEndpoint   = flowservice.DefaultEndpoint
	emulatorWord      = "emulator"
	emulatorStateFile = ".flowsync-emulator.json"
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

// readLock loads the lockfile (a new, empty one when absent) and folds in a leftover journal
// in memory. It writes nothing; folded reports whether the journal changed anything.
func readLock(path string, want lockfile.Target) (f *lockfile.File, folded bool, err error) {
	if dir := filepath.Dir(path); dir != "" {
		if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
			return nil, false, withHints(ExitError, fmt.Errorf("lockfile %s: directory %s does not exist", path, dir),
				"create the directory, or point --lockfile somewhere else")
		}
	}
	f, err = lockfile.Load(path, want)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = lockfile.New(want)
	}
	if err != nil {
		return nil, false, lockErr(err)
	}
	folded, err = lockfile.Fold(f, path)
	if err != nil {
		return nil, false, lockErr(fmt.Errorf("journal of %s: %w", path, err))
	}
	return f, folded, nil
}

// desired resolves the manifest's connections. With noSecrets, references are not read and
// their values are marked unknown.
func resolveDesired(m *manifest.Manifest, env func(string) (string, bool), noSecrets bool) ([]reconcile.Desired, error) {
	out := make([]reconcile.Desired, 0, len(m.Connections))
	var errs []string
	for _, c := range m.Connections {
		d := reconcile.Desired{
			Name:        c.Name,
			Description: c.Description,
			Spec:        c.ConnectionSpec,
			SpecName:    c.SpecName,
			Params:      make(map[string]reconcile.Param, len(c.Params)),
		}
		var values map[string]string
		if !noSecrets {
			var err error
			values, err = m.Resolve(c, env)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
		}
		for k, v := range c.Params {
			p := reconcile.Param{Sensitive: v.Sensitive(), Known: true}
			switch {
			case noSecrets && v.Sensitive():
				p.Known = false
			case noSecrets:
				p.Value = v.Literal
			default:
				p.Value = values[k]
			}
			d.Params[k] = p
		}
		out = append(out, d)
	}
	if len(errs) > 0 {
		return nil, withHints(ExitError, fmt.Errorf("cannot read secret references:\n%s", strings.Join(errs, "\n")),
			"set the variables or create the files; or use plan --no-secrets, which does not show secret changes")
	}
	return out, nil
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
		UserAgent:   "flowsync/" + versionString(),
	}
	s := &service{}
	if g.endpoint == emulatorWord {
		state := filepath.Join(filepath.Dir(lockPath), emulatorStateFile)
		emu, err := emulator.Start(emulator.Options{StatePath: state}, "127.0.0.1:0")
		if err != nil {
			return nil, withHints(ExitError, fmt.Errorf("start the in-process emulator: %w", err))
		}
		s.emu = emu
		cfg.Endpoint = emu.Endpoint
		cfg.APIKey = "flowsync-emulator"
		cfg.Tokens = flowservice.StaticToken("flowsync-emulator")
	} else {
		cfg.Endpoint = g.endpoint
		if err := credentials(g, &cfg); err != nil {
			return nil, err
		}
	}
	c, err := flowservice.New(cfg)
	if err != nil {
		_ = s.Close()
		return nil, withHints(ExitError, err, "use an https:// endpoint, or http:// only on a loopback address")
	}
	s.client = c
	if _, err := cfg.Tokens.Token(ctx); err != nil {
		_ = s.Close()
		return nil, withHints(ExitError, fmt.Errorf("sign in to Adobe IMS: %w", err),
			"check FLOWSYNC_CLIENT_ID, FLOWSYNC_CLIENT_SECRET, FLOWSYNC_SCOPES and FLOWSYNC_IMS_URL")
	}
	return s, nil
}

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
		ims := flowservice.IMSConfig{URL: flowservice.DefaultIMSURL, ClientID: id, ClientSecret: secret, Scopes: flowservice.DefaultScopes, Logger: g.log}
		if v, ok := g.env("FLOWSYNC_IMS_URL"); ok && v != "" {
			ims.URL = v
		}
		if v, ok := g.env("FLOWSYNC_SCOPES"); ok && v != "" {
			ims.Scopes = v
		}
		cfg.Tokens = flowservice.NewIMSTokenSource(ims)
	case id != "" || secret != "":
		return withHints(ExitError, errors.New("incomplete Adobe credentials: FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET must both be set"),
			"set both, or set FLOWSYNC_ACCESS_TOKEN instead")
	default:
		return withHints(ExitError, errors.New("no Adobe credentials: this command talks to Flow Service"),
			"set FLOWSYNC_ACCESS_TOKEN (and FLOWSYNC_API_KEY), or FLOWSYNC_CLIENT_ID and FLOWSYNC_CLIENT_SECRET for OAuth server-to-server",
			"or try it without an account: --endpoint emulator")
	}
	if apiKey == "" {
		return withHints(ExitError, errors.New("no API key: FLOWSYNC_API_KEY is not set"),
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

// serviceErr adds the next step to a failure of the service.
func serviceErr(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	var fe *flowservice.Error
	var re *flowservice.RedirectError
	var wt *flowservice.WaitTooLongError
	switch {
	case errors.As(err, &re):
		return withHints(ExitError, err, "nothing was sent to "+re.To+"; if that address is the real service, set --endpoint (or FLOWSYNC_IMS_URL) to it")
	case errors.As(err, &wt):
		return withHints(ExitError, err, "the service is throttling this client: try again later")
	case flowservice.IsAuth(err):
		return withHints(ExitError, err, "check FLOWSYNC_ACCESS_TOKEN or FLOWSYNC_CLIENT_ID/FLOWSYNC_CLIENT_SECRET, FLOWSYNC_API_KEY, and the product profile's permissions for this sandbox")
	case errors.As(err, &fe) && fe.Status >= 500:
		return withHints(ExitError, err, "the service is failing: try again later")
	case errors.Is(err, context.Canceled):
		return withHints(ExitInterrupted, err)
	}
	return withHints(ExitError, err, "check --endpoint and your network; nothing was changed")
}

func versionString() string {
	if Version != "" {
		return Version
	}
	return "dev"
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
	target := lockTarget(m)
	if _, _, err := readLock(lockPath, target); err != nil {
		return nil, err
	}
	svc, err := connect(ctx, g, m, lockPath, concurrency, maxRPS)
	if err != nil {
		return nil, err
	}
	w := &writer{svc: svc, path: lockPath}
	if w.runLock, err = lockfile.Acquire(lockPath); err != nil {
		w.Close()
		return nil, lockErr(err)
	}
	lock, folded, err := readLock(lockPath, target)
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
			return nil, withHints(ExitError, err, "remove the journal by hand once the lockfile is safe")
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
