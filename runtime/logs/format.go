package logs

import (
	"hash/fnv"
	"strings"
	"unicode/utf8"
)

// palette is the colours resources are told apart by: no red (errors) and no black or white
// (one of them is the background).
var palette = []string{"32", "33", "34", "35", "36", "92", "93", "94", "95", "96"}

// Colour is the ANSI SGR code of a resource: the same name always gets the same one.
func Colour(resource string) string {
	h := fnv.New32a()
	h.Write([]byte(resource))
	return palette[h.Sum32()%uint32(len(palette))]
}

// Label is a line's prefix and text as every view shows them: the resource ("kiln" for
// kiln's own notices), with the container when the resource has several, and the text marked
// when it comes from a crashed container.
func Label(l Line) (name, text string) {
	name = l.Resource
	if name == "" {
		name = "kiln"
	}
	if l.ShowContainer && l.Container != "" {
		name += "/" + l.Container
	}
	text = l.Text
	if l.Previous {
		text = "(previous container) " + text
	}
	return name, text
}

// Format renders a line for the terminal as "resource │ text", the resource column padded to
// width and coloured per resource when color is set. It names the container when the
// resource has several, and marks lines of a crashed container and kiln's own notices.
func Format(l Line, width int, color bool) string {
	name, text := Label(l)
	pad := strings.Repeat(" ", max(0, width-utf8.RuneCountInString(name)))
	if !color {
		return name + pad + " │ " + text
	}
	if l.Kiln {
		text = "\x1b[2m" + text + "\x1b[0m"
	}
	return "\x1b[" + Colour(l.Resource) + "m" + name + "\x1b[0m" + pad + " │ " + text
}
