package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowsync/flowsync/flowservice"
	"github.com/flowsync/flowsync/reconcile"
)

var rules = []AuthSpec{
	{Name: "Access Key", Params: []Param{
		{Name: "s3AccessKey", Required: true},
		{Name: "s3SecretKey", Required: true, Secret: true},
		{Name: "s3SessionToken", Secret: true},
		{Name: "bucketName"},
	}},
	{Name: "IAMRole Based", Params: []Param{{Name: "bucketName", Required: true}}},
}

type prop struct {
	name   string
	secret bool
}

func authSpec(name string, required []string, props ...prop) flowservice.AuthSpec {
	p := map[string]any{}
	for _, pr := range props {
		s := map[string]any{"type": "string"}
		if pr.secret {
			s["format"] = "password"
		}
		p[pr.name] = s
	}
	b, _ := json.Marshal(map[string]any{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": p, "required": required})
	return flowservice.AuthSpec{Name: name, Type: name, Spec: b}
}

func matching() []flowservice.AuthSpec {
	return []flowservice.AuthSpec{
		authSpec("Access Key", []string{"s3AccessKey", "s3SecretKey"},
			prop{"s3AccessKey", false}, prop{"s3SecretKey", true}, prop{"s3SessionToken", true}, prop{"bucketName", false}),
		authSpec("IAMRole Based", []string{"bucketName"}, prop{"bucketName", false}),
	}
}

func kinds(c Comparison) []string {
	var out []string
	for _, d := range c.Differences {
		out = append(out, fmt.Sprintf("%s %s %s %s", d.Kind, d.AuthSpec, d.Param, d.Entry))
	}
	return out
}

func TestCompareSpec(t *testing.T) {
	for _, tc := range []struct {
		name    string
		auth    []flowservice.AuthSpec
		entries []Entry
		want    []string
		other   []string
	}{
		{name: "same", auth: matching()},
		{name: "service requires another param, and entries lack it",
			auth: []flowservice.AuthSpec{
				authSpec("Access Key", []string{"s3AccessKey", "s3SecretKey", "serviceUrl"},
					prop{"s3AccessKey", false}, prop{"s3SecretKey", true}, prop{"s3SessionToken", true}, prop{"bucketName", false}, prop{"serviceUrl", false}),
				matching()[1],
			},
			entries: []Entry{
				{Name: "b", SpecName: "Access Key", Params: []string{"s3AccessKey", "s3SecretKey"}},
				{Name: "a", SpecName: "Access Key", Params: []string{"s3AccessKey", "s3SecretKey", "serviceUrl"}},
				{Name: "c", SpecName: "IAMRole Based", Params: []string{"bucketName"}},
			},
			want: []string{
				"param_unknown_to_flowsync Access Key serviceUrl ",
				"entry_missing_param Access Key serviceUrl b",
			},
		},
		{name: "secret markers both ways, optional on service, param gone",
			auth: []flowservice.AuthSpec{
				authSpec("Access Key", []string{"s3AccessKey"},
					prop{"s3AccessKey", true}, prop{"s3SecretKey", true}, prop{"s3SessionToken", false}),
				matching()[1],
			},
			entries: []Entry{{Name: "x", SpecName: "Access Key", Params: []string{"s3AccessKey", "s3SecretKey", "bucketName"}}},
			want: []string{
				"param_unknown_to_service Access Key bucketName ",
				"secret_on_service Access Key s3AccessKey ",
				"optional_on_service Access Key s3SecretKey ",
				"plain_on_service Access Key s3SessionToken ",
				"entry_unknown_param Access Key bucketName x",
			},
		},
		{name: "auth spec missing, another offered",
			auth:  []flowservice.AuthSpec{matching()[0], authSpec("OAuth", nil)},
			want:  []string{"auth_spec_missing IAMRole Based  "},
			other: []string{"OAuth"},
		},
		{name: "unreadable auth spec",
			auth: []flowservice.AuthSpec{matching()[0], {Name: "IAMRole Based", Spec: json.RawMessage(`"not a schema"`)}},
			want: []string{"auth_spec_unreadable IAMRole Based  "},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := &flowservice.ConnectionSpec{ID: "s3", AuthSpec: tc.auth}
			got := CompareSpec(cs, rules, tc.entries)
			if diff := cmp.Diff(tc.want, kinds(got)); diff != "" {
				t.Errorf("differences (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.other, got.Other); diff != "" {
				t.Errorf("other (-want +got):\n%s", diff)
			}
			for _, d := range got.Differences {
				if d.Message == "" {
					t.Errorf("%s: no message", d.Kind)
				}
			}
			// Deterministic: the same inputs give the same report.
			if again := CompareSpec(cs, rules, tc.entries); !cmp.Equal(got, again) {
				t.Error("two comparisons differ")
			}
		})
	}
	if got := kinds(CompareSpec(nil, rules, nil)); !cmp.Equal(got, []string{"connection_spec_missing   "}) {
		t.Errorf("nil spec: %v", got)
	}
}

// fakeTester answers from a table and records what it was asked.
type fakeTester struct {
	mu       sync.Mutex
	asked    []string
	answers  map[string]error // nil: use results
	results  map[string]bool
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func (f *fakeTester) TestConnection(ctx context.Context, id string) (bool, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(time.Millisecond)
	f.mu.Lock()
	f.asked = append(f.asked, id)
	f.mu.Unlock()
	if err := f.answers[id]; err != nil {
		return false, err
	}
	return f.results[id], nil
}

func TestTest(t *testing.T) {
	var targets []Target
	f := &fakeTester{answers: map[string]error{}, results: map[string]bool{}}
	for i := range 40 {
		id := fmt.Sprintf("id-%02d", i)
		targets = append(targets, Target{Name: fmt.Sprintf("name-%02d", i), ID: id})
		f.results[id] = i%7 != 3
	}
	f.answers["id-05"] = &flowservice.Error{Status: http.StatusNotFound, Message: "gone"}
	f.answers["id-06"] = &flowservice.Error{Status: http.StatusInternalServerError, Message: "boom"}
	got, err := Test(context.Background(), f, targets, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(targets) {
		t.Fatalf("%d results, want %d", len(got), len(targets))
	}
	for i, r := range got {
		if r.ID != targets[i].ID || r.Name != targets[i].Name {
			t.Fatalf("result %d is %s, want %s: results must keep the targets' order", i, r.ID, targets[i].ID)
		}
		want := Healthy
		switch {
		case r.ID == "id-05":
			want = NotFound
		case r.ID == "id-06":
			want = Errored
		case i%7 == 3:
			want = Failing
		}
		if r.Status != want {
			t.Errorf("%s: %s, want %s (%s)", r.ID, r.Status, want, r.Message)
		}
	}
	if m := f.maxSeen.Load(); m > 4 {
		t.Errorf("%d tests at once, limit 4", m)
	}
	if len(f.asked) != len(targets) {
		t.Errorf("%d ids asked, want %d", len(f.asked), len(targets))
	}

	// A 401 stops the run: every other call would fail the same way.
	f2 := &fakeTester{answers: map[string]error{"id-00": &flowservice.Error{Status: http.StatusUnauthorized}}, results: f.results}
	_, err = Test(context.Background(), f2, targets, 1)
	var stopped *StoppedError
	if !errors.As(err, &stopped) || !errors.Is(err, reconcile.ErrAuth) {
		t.Fatalf("401: err = %v, want a *StoppedError", err)
	}
	if len(f2.asked) > 2 {
		t.Errorf("after a 401, %d more tests were sent", len(f2.asked)-1)
	}

	// A cancelled context starts nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f3 := &fakeTester{results: f.results}
	if _, err := Test(ctx, f3, targets, 4); !errors.Is(err, context.Canceled) || len(f3.asked) != 0 {
		t.Errorf("cancelled: err %v, %d asked", err, len(f3.asked))
	}
}
