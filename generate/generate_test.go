package generate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/flowapi"
	"github.com/flowsync/flowsync/lockfile"
	"github.com/flowsync/flowsync/manifest"
	"github.com/flowsync/flowsync/s3source"
)

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"s3SecretKey":       "S3_SECRET_KEY",
		"s3SessionToken":    "S3_SESSION_TOKEN",
		"acme-marketing.eu": "ACME_MARKETING_EU",
		"Über Bucket 2026":  "BER_BUCKET_2026",
		"--":                "",
		"ABCDef":            "ABCDEF",
		"a__b":              "A_B",
	} {
		if got := envName(in); got != want {
			t.Errorf("envName(%q) = %q, want %q", in, got, want)
		}
	}
}

func conn(name, spec string, params map[string]string) flowapi.Connection {
	return flowapi.Connection{ID: "id-" + name, Name: name, ETag: `"e-` + name + `"`, Description: "d",
		ConnectionSpec: s3source.ConnectionSpec(), Auth: flowapi.Auth{SpecName: spec, Params: params}}
}

func s3Secret(_, p string) bool { return s3source.Secret(p) }

func s3Required(specName string) []string {
	a, _ := s3source.Auth(specName)
	return a.Required()
}

func TestBuildGenerated(t *testing.T) {
	target := lockfile.Target{OrgID: "5C1328435BF324E90A49402A@AdobeOrg", Sandbox: "prod"}
	conns := []flowapi.Connection{
		// The service may leave a secret out of its answer: a required one is referenced anyway.
		conn("a.b", s3source.AccessKey, map[string]string{"s3AccessKey": "AKIAIOSFODNN7EXAMPLE", "bucketName": "bkt-1"}),
		conn("a-b", s3source.AccessKey, map[string]string{"s3AccessKey": "AKIAIOSFODNN7EXAMPLE", "s3SecretKey": "<redacted>", "bucketName": "bkt-2"}),
		conn("role", s3source.IAMRoleBased, map[string]string{"bucketName": "bkt-3"}),
		conn("oauth", "OAuth", map[string]string{"token": "x"}),
		conn("twice", s3source.IAMRoleBased, map[string]string{"bucketName": "bkt-4"}),
		conn("twice", s3source.IAMRoleBased, map[string]string{"bucketName": "bkt-5"}),
	}
	conns[5].ID = "id-twice-2"
	// Names equal in NFC are one name to flowsync: both are left out, like a duplicate.
	conns = append(conns,
		conn("caf\u00e9", s3source.IAMRoleBased, map[string]string{"bucketName": "bkt-7"}),
		conn("cafe\u0301", s3source.IAMRoleBased, map[string]string{"bucketName": "bkt-8"}))
	conns[len(conns)-1].ID = "id-cafe-nfd"
	old := conn("old", s3source.IAMRoleBased, map[string]string{"bucketName": "bkt-6"})
	old.ConnectionSpec.Version = "0.9"
	conns = append(conns, old)

	gen, err := Build("m.yaml", target, conns, s3Secret, s3Required)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range gen.entries {
		kept = append(kept, e.conn.Name)
	}
	if diff := cmp.Diff([]string{"a-b", "a.b", "role"}, kept); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	var left []string
	for _, l := range gen.LeftOut {
		left = append(left, l.Name+" "+strings.Join(l.IDs, ",")+": "+l.Reason)
	}
	wantLeft := []string{
		"cafe\u0301 id-cafe-nfd,id-caf\u00e9: 2 live connections have names that read the same: the same name once Unicode-normalised (NFC)",
		"oauth id-oauth: flowsync's manifest rules refuse it: ",
		"old id-old: connection spec version \"0.9\": flowsync manages version 1.0 only",
		"twice id-twice,id-twice-2: 2 live connections have this name",
	}
	if len(left) != len(wantLeft) {
		t.Fatalf("left out:\n%s", strings.Join(left, "\n"))
	}
	for i, w := range wantLeft {
		if !strings.HasPrefix(left[i], w) {
			t.Errorf("left out %d: %q, want prefix %q", i, left[i], w)
		}
	}
	// One access key: one variable per secret param, shared.
	if diff := cmp.Diff([]string{"S3_SECRET_KEY"}, gen.EnvVars); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	// The manifest validates and says what the service holds; the lockfile records it all,
	// with secrets present but unknown.
	m, err := manifest.Parse("m.yaml", gen.Manifest)
	if err != nil {
		t.Fatalf("%v\n%s", err, gen.Manifest)
	}
	if len(m.Connections) != 3 || m.Connections[0].Description != "d" || m.Connections[2].SpecName != s3source.IAMRoleBased {
		t.Errorf("manifest %+v", m.Connections)
	}
	if !strings.Contains(string(gen.Manifest), "defaults:\n  description: d\n") {
		t.Errorf("the shared description is not in defaults:\n%s", gen.Manifest)
	}
	if strings.Contains(string(gen.Manifest), "<redacted>") {
		t.Errorf("a masked value became a literal:\n%s", gen.Manifest)
	}
	e := gen.Lock.Connections["a.b"]
	if e == nil || e.ID != "id-a.b" || e.ETag != `"e-a.b"` || e.Params["bucketName"] != "bkt-1" {
		t.Fatalf("lock entry %+v", e)
	}
	if d, ok := e.SecretDigests["s3SecretKey"]; !ok || d != "" {
		t.Errorf("secret digests %v, want s3SecretKey present and unknown", e.SecretDigests)
	}
	if _, ok := e.Params["s3SecretKey"]; ok {
		t.Error("a secret param is recorded in clear")
	}
	if _, err := gen.Lock.Marshal(); err != nil {
		t.Errorf("lockfile does not marshal: %v", err)
	}
	// Deterministic.
	again, _ := Build("m.yaml", target, conns, s3Secret, s3Required)
	if string(again.Manifest) != string(gen.Manifest) {
		t.Error("two generations differ")
	}
}

func TestFactorDefaults(t *testing.T) {
	mk := func(spec, desc string, params map[string]string) *genEntry {
		c := conn("x", spec, params)
		c.Description = desc
		return &genEntry{conn: c, params: params}
	}
	d := factorDefaults([]*genEntry{
		mk("Access Key", "same", map[string]string{"s3AccessKey": "K", "bucketName": "a", "serviceUrl": "u"}),
		mk("Access Key", "same", map[string]string{"s3AccessKey": "K", "bucketName": "b"}),
	})
	if d.description == nil || *d.description != "same" || d.specName != "Access Key" || !cmp.Equal(d.params, map[string]string{"s3AccessKey": "K"}) {
		t.Errorf("same spec: %+v", d)
	}
	d = factorDefaults([]*genEntry{
		mk("Access Key", "", map[string]string{"bucketName": "a"}),
		mk("IAMRole Based", "", map[string]string{"bucketName": "a"}),
	})
	if d.description != nil || d.specName != "" || len(d.params) != 0 {
		t.Errorf("different specs, no description: %+v", d)
	}
	if d := factorDefaults([]*genEntry{mk("Access Key", "one", nil)}); d.description != nil || d.specName != "" {
		t.Errorf("one entry shares nothing: %+v", d)
	}
}

// Secret variables follow the AWS access key: the connections of one key share one variable
// per param (an access key id has one secret key); several keys suffix each key's variables
// with the key id; a connection with secrets and no access key gets its own.
func TestAssignEnvVars(t *testing.T) {
	entry := func(name, key string, refs ...string) *genEntry {
		e := &genEntry{conn: flowapi.Connection{Name: name}, params: map[string]string{}, refs: map[string]string{}}
		if key != "" {
			e.params["s3AccessKey"] = key
		}
		for _, r := range refs {
			e.refs[r] = ""
		}
		return e
	}
	for _, tt := range []struct {
		name    string
		entries []*genEntry
		want    map[string]map[string]string // entry → param → variable
	}{
		{"one key", []*genEntry{
			entry("a", "AKIAONE", "s3SecretKey", "s3SessionToken"),
			entry("b", "AKIAONE", "s3SecretKey"),
			entry("role", ""),
		}, map[string]map[string]string{
			"a":    {"s3SecretKey": "S3_SECRET_KEY", "s3SessionToken": "S3_SESSION_TOKEN"},
			"b":    {"s3SecretKey": "S3_SECRET_KEY"},
			"role": {},
		}},
		{"two keys", []*genEntry{
			entry("a", "AKIAONE", "s3SecretKey"),
			entry("b", "AKIATWO", "s3SecretKey", "s3SessionToken"),
			entry("c", "AKIAONE", "s3SecretKey"),
		}, map[string]map[string]string{
			"a": {"s3SecretKey": "S3_SECRET_KEY_AKIAONE"},
			"b": {"s3SecretKey": "S3_SECRET_KEY_AKIATWO", "s3SessionToken": "S3_SESSION_TOKEN_AKIATWO"},
			"c": {"s3SecretKey": "S3_SECRET_KEY_AKIAONE"},
		}},
		{"no access key", []*genEntry{
			entry("a", "AKIAONE", "s3SecretKey"),
			entry("odd-one", "", "s3SecretKey"),
		}, map[string]map[string]string{
			"a":       {"s3SecretKey": "S3_SECRET_KEY"},
			"odd-one": {"s3SecretKey": "S3_SECRET_KEY_ODD_ONE"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assignEnvVars(tt.entries)
			got := map[string]map[string]string{}
			for _, e := range tt.entries {
				got[e.conn.Name] = e.refs
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("variables (-want +got):\n%s", d)
			}
		})
	}
	// Every entry of one key and one specName: the references move to defaults.
	entries := []*genEntry{entry("a", "AKIAONE", "s3SecretKey"), entry("b", "AKIAONE", "s3SecretKey")}
	for _, e := range entries {
		e.conn.Auth.SpecName = s3source.AccessKey
	}
	assignEnvVars(entries)
	data, err := genManifest(lockfile.Target{OrgID: "5C1328435BF324E90A49402A@AdobeOrg", Sandbox: "prod"}, entries, factorDefaults(entries), "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "      s3SecretKey: {env: S3_SECRET_KEY}\n") || strings.Count(string(data), "S3_SECRET_KEY") != 1 {
		t.Errorf("the shared reference is not in defaults once:\n%s", data)
	}
	if _, err := manifest.Parse("m.yaml", data); err != nil {
		t.Errorf("%v\n%s", err, data)
	}
}
