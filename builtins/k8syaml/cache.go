package k8syaml

import (
	"crypto/sha256"
	"sync"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// decodeCache keeps the objects of YAML streams decoded before in this process, by content:
// kiln watch re-evaluates a project after every edit, and most of its manifests have not
// changed. Callers get copies (evaluation injects images into its objects). It is bounded by
// the total size of the streams it holds.
var decodeCache = struct {
	sync.Mutex
	entries map[[32]byte]cachedDecode
	order   [][32]byte // insertion order, for eviction
	bytes   int
}{entries: map[[32]byte]cachedDecode{}}

type cachedDecode struct {
	objs []plan.Object
	size int
}

// maxCachedBytes bounds decodeCache: the streams' total size.
const maxCachedBytes = 32 << 20

// DecodeObjectsCached is DecodeObjects, answered from the cache when source and stream were
// decoded before. Errors are not cached.
func DecodeObjectsCached(source string, stream []byte) ([]plan.Object, error) {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write(stream)
	var key [32]byte
	copy(key[:], h.Sum(nil))
	decodeCache.Lock()
	hit, ok := decodeCache.entries[key]
	decodeCache.Unlock()
	if ok {
		return copyObjects(hit.objs), nil
	}
	objs, err := DecodeObjects(source, stream)
	if err != nil || len(stream) > maxCachedBytes/4 {
		return objs, err
	}
	kept := copyObjects(objs)
	decodeCache.Lock()
	defer decodeCache.Unlock()
	if _, ok := decodeCache.entries[key]; !ok {
		decodeCache.entries[key] = cachedDecode{objs: kept, size: len(stream)}
		decodeCache.order = append(decodeCache.order, key)
		decodeCache.bytes += len(stream)
		for decodeCache.bytes > maxCachedBytes && len(decodeCache.order) > 0 {
			old := decodeCache.order[0]
			decodeCache.order = decodeCache.order[1:]
			decodeCache.bytes -= decodeCache.entries[old].size
			delete(decodeCache.entries, old)
		}
	}
	return objs, nil
}

func copyObjects(objs []plan.Object) []plan.Object {
	out := make([]plan.Object, len(objs))
	for i, o := range objs {
		out[i] = copyValue(map[string]any(o)).(map[string]any)
	}
	return out
}

// copyValue copies decoded YAML: maps and lists anew, scalars as they are.
func copyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = copyValue(x)
		}
		return m
	case plan.Object:
		return copyValue(map[string]any(t))
	case []any:
		l := make([]any, len(t))
		for i, x := range t {
			l[i] = copyValue(x)
		}
		return l
	}
	return v
}
