package lockfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
	"time"
)

func checkRecordEncoding(t *testing.T, r *record) {
	t.Helper()
	want, werr := json.Marshal(r)
	got, gerr := appendRecordJSON([]byte("prefix"), r)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("errors differ: Marshal %v, appendRecordJSON %v", werr, gerr)
	}
	if werr != nil {
		return
	}
	if !bytes.Equal(got[len("prefix"):], want) {
		t.Fatalf("encoding differs:\n got %s\nwant %s", got[len("prefix"):], want)
	}
	line, err := appendRecord(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	wantLine := fmt.Appendf(nil, `{"crc":"%08x","rec":%s}`+"\n", crc32.Checksum(want, castagnoli), want)
	if !bytes.Equal(line, wantLine) {
		t.Fatalf("line differs:\n got %s\nwant %s", line, wantLine)
	}
}

// The hand-written record encoder writes exactly the bytes of json.Marshal (the journal's
// format is those bytes and their CRC).
func TestRecordEncodingMatchesJSON(t *testing.T) {
	strs := []string{"", "a", "acme-eu", `"quoted"`, `back\slash`, "<html>&amp;", "tab\tnew\nline\r\b\f\x00\x1f",
		"ünïcödé", "\u2028\u2029", "bad \xff utf8", "emoji 🙂", "\x7f", `"1700d77b-0000-0200-0000-5e3b41a10000"`}
	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return strs[rnd.IntN(len(strs))] }
	checkRecordEncoding(t, &record{Seq: 1, Type: recBegin, Name: "x", Op: "create"})
	checkRecordEncoding(t, &record{Seq: 1, Type: recHeader, At: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Target: &Target{OrgID: "o<&>", Sandbox: "prod"}, Salt: "abc"})
	checkRecordEncoding(t, &record{Seq: 2, Type: recBegin, Name: "x", Op: "create", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Entry: &Entry{Description: "d", Pending: PendingCreate, PendingAt: time.Date(2026, 1, 2, 3, 4, 5, 7e6, time.UTC)}})
	checkRecordEncoding(t, &record{Seq: 18446744073709551615, Type: recCommit, Name: "x"})
	checkRecordEncoding(t, &record{Seq: 3, Type: recCommit, Name: "x", Entry: &Entry{}})
	checkRecordEncoding(t, &record{Seq: 3, Type: recCommit, Name: "x", Entry: &Entry{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}})
	checkRecordEncoding(t, &record{Seq: 3, Type: recCommit, Name: "x", Entry: entry("abc")})
	for i := range 3000 {
		e := &Entry{ID: pick(), ETag: pick(), Pending: pick(), Description: pick(), SpecName: pick(),
			ConnectionSpec: Spec{ID: pick(), Version: pick()},
			CreatedAt:      time.Unix(rnd.Int64N(1<<36), rnd.Int64N(1e9)).UTC().Truncate(time.Duration(rnd.IntN(2)) * time.Millisecond),
			UpdatedAt:      time.Unix(rnd.Int64N(1<<36), 0).In(time.FixedZone("X", 3600)),
		}
		if rnd.IntN(3) > 0 {
			e.Params = map[string]string{}
			for range rnd.IntN(12) {
				e.Params[pick()] = pick()
			}
		}
		if rnd.IntN(3) > 0 {
			e.SecretDigests = map[string]string{pick(): pick()}
		}
		for range rnd.IntN(3) {
			e.Retired = append(e.Retired, pick())
		}
		if rnd.IntN(2) == 0 {
			e.Promotion = pick()
		}
		r := &record{Seq: uint64(i), Type: pick(), Name: pick(), Op: pick(), ID: pick()}
		if rnd.IntN(2) == 0 {
			r.Entry = e
		}
		checkRecordEncoding(t, r)
	}
}

func FuzzRecordEncoding(f *testing.F) {
	f.Add(uint64(1), "begin", "acme-eu", "create", "", "", "<a>&\"b\"", "k", "v", int64(0))
	f.Fuzz(func(t *testing.T, seq uint64, typ, name, op, id, etag, desc, k, v string, ms int64) {
		checkRecordEncoding(t, &record{Seq: seq, Type: typ, Name: name, Op: op, ID: id})
		checkRecordEncoding(t, &record{Seq: seq, Type: typ, Name: name, Entry: &Entry{
			ID: id, ETag: etag, Description: desc, Params: map[string]string{k: v, v: k}, SecretDigests: map[string]string{k: etag},
			Retired: []string{k, v}, Promotion: desc, CreatedAt: time.UnixMilli(ms).UTC(), UpdatedAt: time.UnixMilli(ms / 3),
		}})
	})
}
