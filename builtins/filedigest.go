package builtins

import (
	"crypto/sha256"
	"io"

	"github.com/kiln-dev/kiln/internal/safefile"
)

// fileDigest is the SHA-256 of a regular file's bytes, streamed rather than held in memory: a
// custom_build dep may be a large binary. A FIFO or device is refused instead of read forever.
func fileDigest(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, _, err := safefile.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}
