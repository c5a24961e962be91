// Package safefile opens and reads the files a project names (Kilnfiles, manifests, values
// files, Dockerfiles) without trusting them: only regular files, never blocking on a FIFO, and
// never reading more than a limit into memory.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// DefaultMaxSize is the largest file ReadFile reads when given no limit: far above any real
// manifest, chart values file or Kilnfile, far below what would exhaust memory.
const DefaultMaxSize int64 = 64 << 20

// NotRegularError is the error for a path that is a FIFO, device, socket or directory.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("file %s is %s, not a regular file; kiln reads only regular files", e.Path, Describe(e.Mode))
}

// TooLargeError is the error for a file larger than the limit.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("file %s is larger than %s, the limit on a file kiln reads; set KILN_MAX_FILE_SIZE to raise it", e.Path, FormatSize(e.Limit))
}

// Describe names a file type for messages: "a named pipe (FIFO)", "a character device", ...
func Describe(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file"
}

// Open opens path for reading if it is a regular file (symbolic links followed). It checks
// twice: a stat before opening, so that a device is never even opened (opening one can have
// effects), and an fstat of what was opened, with O_NONBLOCK so that a FIFO swapped in between
// cannot block the open.
func Open(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	return f, st, nil
}

// ReadFile reads the regular file at path, failing with a TooLargeError rather than reading
// more than max bytes (max <= 0 means DefaultMaxSize). The size is checked before reading and
// enforced while reading, since a file can grow, and /proc files report size 0.
func ReadFile(path string, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxSize
	}
	f, st, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > max {
		return nil, &TooLargeError{Path: path, Limit: max}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: unwrapPathError(err)}
	}
	if int64(len(data)) > max {
		return nil, &TooLargeError{Path: path, Limit: max}
	}
	return data, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
