package lockfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// duplicateKey returns the first key that appears twice in one JSON object of data (with
// the path of that object), or "" when there is none. encoding/json keeps the last of
// duplicate keys silently: in a lockfile that would drop a recorded id without a word, so a
// lockfile with one is corrupt. data must be valid JSON (checked before).
func duplicateKey(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(path string, depth int) (string, error)
	walk = func(path string, depth int) (string, error) {
		if depth > 64 {
			return "", fmt.Errorf("nested deeper than 64 levels")
		}
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return "", err
				}
				k, _ := kt.(string)
				if seen[k] {
					return fmt.Sprintf("%s: key %s appears twice", pathOr(path), strconv.Quote(k)), nil
				}
				seen[k] = true
				if dup, err := walk(path+"."+k, depth+1); dup != "" || err != nil {
					return dup, err
				}
			}
			_, err = dec.Token() // }
			return "", err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if dup, err := walk(fmt.Sprintf("%s[%d]", path, i), depth+1); dup != "" || err != nil {
					return dup, err
				}
			}
			_, err = dec.Token() // ]
			return "", err
		}
		return "", nil
	}
	return walk("", 0)
}

func pathOr(path string) string {
	if path == "" {
		return "the top-level object"
	}
	return path[1:]
}
