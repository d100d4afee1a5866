package reconcile

import (
	"errors"

	"github.com/flowsync/flowsync/manifest"
)

// Desire turns the manifest's connections into what Plan wants, reading each secret
// reference through env (os.LookupEnv in production) and the manifest's directory. With
// noSecrets, references are not read and their values are unknown. References that cannot be
// read are returned together as manifest.Diagnostics, one per reference and entry.
func Desire(m *manifest.Manifest, env func(string) (string, bool), noSecrets bool) ([]Desired, error) {
	out := make([]Desired, 0, len(m.Connections))
	var problems manifest.Diagnostics
	for _, c := range m.Connections {
		d := Desired{
			Name:        c.Name,
			FormerNames: c.FormerNames,
			Description: c.Description,
			Spec:        c.ConnectionSpec,
			SpecName:    c.SpecName,
			Params:      make(map[string]Param, len(c.Params)),
			Promotion:   c.Promotion,
		}
		var values map[string]string
		if !noSecrets {
			var err error
			values, err = m.Resolve(c, env)
			if err != nil {
				var d manifest.Diagnostics
				if !errors.As(err, &d) {
					return nil, err
				}
				problems = append(problems, d...)
				continue
			}
		}
		for k, v := range c.Params {
			p := Param{Sensitive: v.Sensitive(), Known: true}
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
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}
