package lockfile

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets call load and fold, which are Load and Fold once the file is read: file
// I/O would slow fuzzing a hundredfold.

// FuzzLoad: Load never panics, and a lockfile it accepts re-marshals to bytes that load back
// to the same File and marshal to the same bytes (it never accepts what it would mis-write).
func FuzzLoad(f *testing.F) {
	sample, err := sampleFile().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	empty, _ := (&File{Version: Version, Target: testTarget, Salt: testSalt}).Marshal()
	f.Add(sample)
	f.Add(empty)
	f.Add(bytes.Replace(sample, []byte(`"version": 1`), []byte(`"version": 2`), 1))
	f.Add([]byte(`{"version":1,"serial":3,"target":{"orgId":"5C1328435BF324E90A49402A@AdobeOrg","sandbox":"prod"},"salt":"` + testSalt + `","connections":{"a":{"id":"x","connectionSpec":{"id":"","version":""},"createdAt":"2026-01-01T00:00:00.123456789+05:00","updatedAt":"0001-01-01T00:00:00Z"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := load("m.lock.json", data, testTarget)
		if err != nil {
			return
		}
		b1, err := got.Marshal()
		if err != nil {
			t.Fatalf("accepted a lockfile it cannot marshal: %v", err)
		}
		again, err := load("again.lock.json", b1, testTarget)
		if err != nil {
			t.Fatalf("re-marshalled lockfile refused: %v\n%s", err, b1)
		}
		if d := cmp.Diff(got, again); d != "" {
			t.Fatalf("re-loaded lockfile differs (-first +second):\n%s", d)
		}
		b2, err := again.Marshal()
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("marshal not stable: %v\n%s\n%s", err, b1, b2)
		}
	})
}

// FuzzJournal: Fold never panics, and a journal it accepts leaves a File that marshals and
// loads back unchanged.
func FuzzJournal(f *testing.F) {
	// With wrap set, each input line is a record payload given a valid checksum, so that the
	// fuzzer reaches the checks behind the CRC.
	f.Add(journalBytes(f, 3), false)
	f.Add(journalBytes(f, 0), false)
	good := journalBytes(f, 2)
	f.Add(good[:len(good)-7], false)
	f.Add([]byte(`{"seq":1,"type":"header","name":"","target":{"orgId":"5C1328435BF324E90A49402A@AdobeOrg","sandbox":"prod"},"salt":"`+testSalt+`"}
{"seq":2,"type":"begin","name":"a","op":"create","at":"2026-01-01T00:00:00Z"}
{"seq":3,"type":"commit","name":"a","entry":{"id":"x","pending":"create","connectionSpec":{"id":"","version":""},"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00.5+01:00"}}
{"seq":4,"type":"begin","name":"b","op":"create","entry":{"description":"d","pendingAt":"2020-01-01T00:00:00Z","connectionSpec":{"id":"s","version":"1.0"},"createdAt":"0001-01-01T00:00:00Z","updatedAt":"0001-01-01T00:00:00Z"}}
{"seq":5,"type":"begin","name":"acme-eu","op":"create"}
{"seq":6,"type":"commit","name":"acme-us"}
`), true)
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		if wrap {
			var w []byte
			for l := range bytes.Lines(data) {
				rec := bytes.TrimSuffix(l, []byte("\n"))
				w = fmt.Appendf(w, `{"crc":"%08x","rec":%s}`, crc32.Checksum(rec, castagnoli), rec)
				if len(rec) < len(l) {
					w = append(w, '\n')
				}
			}
			data = w
		}
		lf := sampleFile()
		if _, err := fold(lf, "m.lock.json.journal", data); err != nil {
			return
		}
		b, err := lf.Marshal()
		if err != nil {
			t.Fatalf("folded journal gives a lockfile that does not marshal: %v", err)
		}
		back, err := load("m.lock.json", b, testTarget)
		if err != nil {
			t.Fatalf("folded journal gives a lockfile that does not load: %v\n%s", err, b)
		}
		if d := cmp.Diff(lf, back); d != "" {
			t.Fatalf("saved fold differs (-folded +loaded):\n%s", d)
		}
	})
}
