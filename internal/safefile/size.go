package safefile

import (
	"fmt"
	"strconv"
	"strings"
)

var units = []struct {
	shift uint
	names []string
}{{30, []string{"GiB", "Gi", "G"}}, {20, []string{"MiB", "Mi", "M"}}, {10, []string{"KiB", "Ki", "K"}}, {0, []string{"B", ""}}}

// FormatSize prints a byte count the way limits are written: "64 MiB", "512 KiB", "100 B".
func FormatSize(n int64) string {
	for _, u := range units {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.names[0])
		}
	}
	return fmt.Sprintf("%d B", n)
}

// ParseSize reads a byte count: a whole number with an optional binary unit, "67108864",
// "64MiB", "64Mi", "64M", "512 KiB" (K, M and G are 1024-based, as in the limits' docs).
func ParseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	for _, u := range units {
		for _, name := range u.names {
			num, ok := strings.CutSuffix(text, name)
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n <= 0 || n > (1<<62)>>u.shift {
				break
			}
			return n << u.shift, nil
		}
	}
	return 0, fmt.Errorf("%q is not a size like 64MiB or 67108864", s)
}
