package logs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// segment is one spill file of a resource: lines in Seq order, each a record of varints and
// length-prefixed strings (the resource is the file's owner).
type segment struct {
	path        string
	f           *os.File
	w           *bufio.Writer
	size        int64
	first, last uint64 // Seq
	lines       uint64
}

const (
	flagPrevious = 1 << iota
	flagLocal
	flagKiln
	flagShowContainer
)

func createSegment(dir string, n int) (*segment, error) {
	path := filepath.Join(dir, fmt.Sprintf("%08d.spill", n))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &segment{path: path, f: f, w: bufio.NewWriterSize(f, 32<<10)}, nil
}

func (s *segment) append(l Line) (int64, error) {
	var buf [3*binary.MaxVarintLen64 + 1]byte
	n := binary.PutUvarint(buf[:], l.Seq)
	n += binary.PutVarint(buf[n:], l.Time.UnixNano())
	buf[n] = flag(l.Previous, flagPrevious) | flag(l.Local, flagLocal) | flag(l.Kiln, flagKiln) | flag(l.ShowContainer, flagShowContainer)
	n++
	size := int64(n)
	if _, err := s.w.Write(buf[:n]); err != nil {
		return 0, err
	}
	for _, str := range []string{l.Pod, l.Container, l.Text} {
		k := binary.PutUvarint(buf[:], uint64(len(str)))
		if _, err := s.w.Write(buf[:k]); err != nil {
			return 0, err
		}
		if _, err := s.w.WriteString(str); err != nil {
			return 0, err
		}
		size += int64(k + len(str))
	}
	if s.lines == 0 {
		s.first = l.Seq
	}
	s.last, s.size = l.Seq, s.size+size
	s.lines++
	return size, nil
}

func flag(on bool, bit byte) byte {
	if on {
		return bit
	}
	return 0
}

func (s *segment) flush() error { return s.w.Flush() }

func (s *segment) remove() {
	s.f.Close()
	os.Remove(s.path)
}

// readSegment calls f for each line in the first size bytes of a spill file.
func readSegment(path, resource string, size int64, f func(Line)) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	r := bufio.NewReaderSize(io.LimitReader(file, size), 64<<10)
	for {
		l, err := readRecord(r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("spill file %s: %w", path, err)
		}
		l.Resource = resource
		f(l)
	}
}

func readRecord(r *bufio.Reader) (Line, error) {
	var l Line
	seq, err := binary.ReadUvarint(r)
	if err != nil {
		return l, err // io.EOF only here, between records
	}
	nanos, err := binary.ReadVarint(r)
	if err != nil {
		return l, unexpected(err)
	}
	flags, err := r.ReadByte()
	if err != nil {
		return l, unexpected(err)
	}
	var strs [3]string
	for i := range strs {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return l, unexpected(err)
		}
		if n > 1<<30 {
			return l, errors.New("corrupt record")
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return l, unexpected(err)
		}
		strs[i] = string(b)
	}
	l = Line{Seq: seq, Time: time.Unix(0, nanos), Pod: strs[0], Container: strs[1], Text: strs[2],
		Previous: flags&flagPrevious != 0, Local: flags&flagLocal != 0, Kiln: flags&flagKiln != 0,
		ShowContainer: flags&flagShowContainer != 0}
	return l, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
