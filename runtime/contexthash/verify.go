package contexthash

import (
	"fmt"
	"time"
)

// MtimeSlack allows for the kernel's coarse file timestamps: a write is stamped with the time
// of the last clock tick, which can be a few milliseconds before the write itself.
const MtimeSlack = 50 * time.Millisecond

// ChangedError says that a context no longer holds what an earlier hash saw.
type ChangedError struct {
	// Path is the file that changed (relative to the context), "" when only the digest says so.
	Path string
	// Why is what changed, for the message.
	Why string
}

func (e *ChangedError) Error() string {
	if e.Path == "" {
		return e.Why
	}
	return e.Path + " " + e.Why
}

// Verify checks that the context still holds what a hash computed at since saw: the digest
// must still be want, and no included file may have been modified at or after since. The
// second rule catches an edit that was reverted before the check (A, then B, then A again):
// the digest alone would call that unchanged, although whoever read the files in between — a
// build — may have read B. A mismatch is a *ChangedError. A zero since checks the digest only.
//
// On a filesystem with coarse timestamps (1 s or 2 s: FAT, some network filesystems), an edit
// made just after the hash may carry an older mtime; then only the digest rule applies.
func (c *Cache) Verify(s Spec, want string, since time.Time) error {
	w, err := c.walk(s)
	if err != nil {
		return err
	}
	if !since.IsZero() {
		limit := since.Add(-MtimeSlack).UnixNano()
		for _, e := range w.entries {
			if e.kind == kindFile && e.key.mtime >= limit {
				return &ChangedError{Path: e.rel, Why: fmt.Sprintf("was modified at %s, after the context was hashed", time.Unix(0, e.key.mtime).Format("15:04:05.000"))}
			}
		}
	}
	if got, _ := w.digest(); got != want {
		return &ChangedError{Why: fmt.Sprintf("the context's content changed since it was hashed (%s, now %s)", short(want), short(got))}
	}
	return nil
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
