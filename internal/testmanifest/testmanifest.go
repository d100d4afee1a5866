// Package testmanifest writes generated flowsync manifests of many Amazon S3 entries, for
// tests and benchmarks: the one generator behind `go run ./bench`, the reconcile benchmarks
// and crash test, and the `gen` command of the testscript suite, so that they cannot drift
// apart.
//
// An entry is built from formats that take its number (use %[1]d to repeat it); secrets are
// always references ({env: VAR}), never values in the file.
package testmanifest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Param is one auth param. Value is written as it is: a plain YAML scalar, or a reference
// such as "{env: S3_SECRET_KEY}". In EntryParams, a value holding a % is a format of the
// entry's number.
type Param struct{ Key, Value string }

// Env is the reference to the environment variable name.
func Env(name string) string { return "{env: " + name + "}" }

// Manifest describes a generated manifest. The zero values of the optional fields leave the
// corresponding lines out.
type Manifest struct {
	OrgID, Sandbox string
	From, N        int    // entries numbered From … From+N-1
	Name           string // format of an entry's name, e.g. "name-%d", "bench-%06d"

	Description      string  // defaults.description (optional)
	SpecName         string  // defaults.auth.specName; "" is "Access Key"
	Params           []Param // defaults.auth.params, in this order
	EntryDescription string  // format of an entry's description (optional)
	EntryParams      []Param // each entry's auth.params, in this order; values are formats
	IAM              string  // the name of one entry made "IAMRole Based", with only its bucketName (optional)
}

// Entry is one generated entry, as the manifest states it (before defaults are merged).
type Entry struct {
	Name, Description string
	SpecName          string // "" unless the entry overrides the defaults' specName
	Params            []Param
}

// Entry returns the entry numbered i (From ≤ i < From+N).
func (m *Manifest) Entry(i int) Entry {
	e := Entry{Name: fmt.Sprintf(m.Name, i)}
	iam := m.IAM != "" && e.Name == m.IAM
	if m.EntryDescription != "" {
		e.Description = fmt.Sprintf(m.EntryDescription, i)
	}
	for _, p := range m.EntryParams {
		if iam && p.Key != "bucketName" {
			continue
		}
		v := p.Value
		if strings.Contains(v, "%") {
			v = fmt.Sprintf(v, i)
		}
		e.Params = append(e.Params, Param{p.Key, v})
	}
	if iam {
		e.SpecName = "IAMRole Based"
	}
	return e
}

// Write writes the manifest to w, streamed (a 100,000-entry manifest is never in memory).
func (m *Manifest) Write(w io.Writer) error {
	b := bufio.NewWriterSize(w, 64<<10)
	specName := m.SpecName
	if specName == "" {
		specName = "Access Key"
	}
	fmt.Fprintf(b, "version: 1\ntarget:\n  orgId: %s\n  sandbox: %s\ndefaults:\n", m.OrgID, m.Sandbox)
	if m.Description != "" {
		fmt.Fprintf(b, "  description: %s\n", strconv.Quote(m.Description))
	}
	fmt.Fprintf(b, "  auth:\n    specName: %s\n    params:\n", specName)
	for _, p := range m.Params {
		fmt.Fprintf(b, "      %s: %s\n", p.Key, p.Value)
	}
	b.WriteString("connections:\n")
	for i := m.From; i < m.From+m.N; i++ {
		e := m.Entry(i)
		fmt.Fprintf(b, "  - name: %s\n", e.Name)
		if e.Description != "" {
			fmt.Fprintf(b, "    description: %s\n", e.Description)
		}
		b.WriteString("    auth:\n")
		if e.SpecName != "" {
			fmt.Fprintf(b, "      specName: %s\n", e.SpecName)
		}
		b.WriteString("      params:\n")
		for _, p := range e.Params {
			fmt.Fprintf(b, "        %s: %s\n", p.Key, p.Value)
		}
	}
	return b.Flush()
}

// Bytes is the manifest as a byte slice.
func (m *Manifest) Bytes() []byte {
	var b bytes.Buffer
	_ = m.Write(&b) // a bytes.Buffer does not fail
	return b.Bytes()
}

// WriteFile writes the manifest to the file at path (mode 0644).
func (m *Manifest) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := m.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Bench is the manifest of `go run ./bench` and the reconcile benchmarks: n Access Key entries
// PREFIX-000001 … with their own description, bucket and folder; the access and secret keys
// come from $BENCH_S3_ACCESS_KEY and $BENCH_S3_SECRET_KEY.
func Bench(orgID, sandbox, prefix string, n int) *Manifest {
	return &Manifest{
		OrgID: orgID, Sandbox: sandbox, From: 1, N: n, Name: prefix + "-%06d",
		Description: "Managed by flowsync (benchmark)",
		Params: []Param{
			{Key: "serviceUrl", Value: "https://s3.us-east-1.amazonaws.com/"},
			{Key: "s3AccessKey", Value: Env("BENCH_S3_ACCESS_KEY")},
			{Key: "s3SecretKey", Value: Env("BENCH_S3_SECRET_KEY")},
		},
		EntryDescription: "Events of bucket %06d",
		EntryParams: []Param{
			{Key: "bucketName", Value: prefix + "-bucket-%06d"},
			{Key: "folderPath", Value: "events/%06d"},
		},
	}
}
