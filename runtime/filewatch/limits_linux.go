package filewatch

import (
	"bufio"
	"bytes"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// readLimits reads the inotify limits from /proc/sys, and counts the instances and watches
// that the processes of this user hold (from /proc/PID/fdinfo; processes it cannot read are
// left out).
func readLimits() (limits, error) {
	l := limits{usedWatches: -1, usedInstances: -1}
	var err error
	if l.maxWatches, err = readSysctl("/proc/sys/fs/inotify/max_user_watches"); err != nil {
		return l, err
	}
	if l.maxInstances, err = readSysctl("/proc/sys/fs/inotify/max_user_instances"); err != nil {
		return l, err
	}
	l.usedInstances, l.usedWatches, l.holders = inotifyUsage(uint32(os.Getuid()))
	return l, nil
}

func readSysctl(p string) (int, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// inotifyUsage counts the inotify instances and watches of the processes of uid, and lists
// the processes holding watches, most first.
func inotifyUsage(uid uint32) (instances, watches int, holders []holder) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return -1, -1, nil
	}
	for _, pe := range procs {
		pid, err := strconv.Atoi(pe.Name())
		if err != nil {
			continue
		}
		base := "/proc/" + pe.Name()
		var st syscall.Stat_t
		if syscall.Stat(base, &st) != nil || st.Uid != uid {
			continue
		}
		fds, err := os.ReadDir(base + "/fd")
		if err != nil {
			continue
		}
		n := 0
		for _, fd := range fds {
			if target, err := os.Readlink(base + "/fd/" + fd.Name()); err != nil || target != "anon_inode:inotify" {
				continue
			}
			instances++
			info, err := os.ReadFile(base + "/fdinfo/" + fd.Name())
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(bytes.NewReader(info))
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "inotify wd:") {
					n++
				}
			}
		}
		if n > 0 {
			watches += n
			comm, _ := os.ReadFile(base + "/comm")
			holders = append(holders, holder{name: strings.TrimSpace(string(comm)), pid: pid, watches: n})
		}
	}
	sort.Slice(holders, func(i, j int) bool { return holders[i].watches > holders[j].watches })
	return instances, watches, holders
}
