package dockerfile

import (
	"crypto/sha256"
	"sort"
	"sync"
)

// parseCache keeps Parse results by content in-process: kiln watch re-evaluates the project
// after every edit, and its Dockerfiles rarely change. Results are shared: callers must not
// modify them. Bounded by entry count.
var parseCache = struct {
	sync.Mutex
	entries map[[32]byte]parseResult
	order   [][32]byte
}{entries: map[[32]byte]parseResult{}}

type parseResult struct {
	info   *Info
	copies []Copy
}

const maxParseCache = 4096

// ParseCached is Parse, answered from the cache for contents and build args parsed before.
// The result must be treated as read-only. Errors are not cached.
func ParseCached(contents []byte, buildArgs map[string]string) (*Info, []Copy, error) {
	h := sha256.New()
	keys := make([]string, 0, len(buildArgs))
	for k := range buildArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Write([]byte(k + "=" + buildArgs[k] + "\x00"))
	}
	h.Write([]byte{1})
	h.Write(contents)
	var key [32]byte
	copy(key[:], h.Sum(nil))
	parseCache.Lock()
	r, ok := parseCache.entries[key]
	parseCache.Unlock()
	if ok {
		return r.info, r.copies, nil
	}
	info, copies, err := Parse(contents, buildArgs)
	if err != nil {
		return nil, nil, err
	}
	parseCache.Lock()
	defer parseCache.Unlock()
	if _, ok := parseCache.entries[key]; !ok {
		parseCache.entries[key] = parseResult{info, copies}
		parseCache.order = append(parseCache.order, key)
		if len(parseCache.order) > maxParseCache {
			delete(parseCache.entries, parseCache.order[0])
			parseCache.order = parseCache.order[1:]
		}
	}
	return info, copies, nil
}
