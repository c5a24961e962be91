package builtins

import (
	"os"
	"strings"
)

func isDir(p string) bool  { st, err := os.Stat(p); return err == nil && st.IsDir() }
func isFile(p string) bool { st, err := os.Stat(p); return err == nil && !st.IsDir() }

func replaceAll(s, old, new string) string { return strings.ReplaceAll(s, old, new) }
