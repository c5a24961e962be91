package builtins

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/kiln-dev/kiln/runtime/plan"
)

// formatPortForward writes pf in the string form parsePortForwardString reads.
func formatPortForward(pf plan.PortForward) string {
	if pf.ContainerPort == 0 && pf.Host == "" {
		return strconv.Itoa(pf.LocalPort) // the container port is resolved against the pod
	}
	s := strconv.Itoa(pf.LocalPort) + ":" + strconv.Itoa(pf.ContainerPort)
	if pf.Host != "" {
		s = pf.Host + ":" + s
	}
	return s
}

// normalSpec is an accepted spec as formatPortForward writes it: its numbers in decimal, an
// empty host dropped.
func normalSpec(spec string) string {
	parts := strings.Split(spec, ":")
	host := ""
	if len(parts) == 3 {
		host, parts = parts[0], parts[1:]
	}
	for i, p := range parts {
		n, _ := strconv.Atoi(p)
		parts[i] = strconv.Itoa(n)
	}
	if host != "" {
		parts = append([]string{host}, parts...)
	}
	return strings.Join(parts, ":")
}

func inPortRange(n int64) bool { return n >= 1 && n <= 65535 }

// FuzzPortForwards feeds port_forwards= its forms: a spec string ("8000", "8000:80",
// "host:8000:80"), a port number, port_forward(n, m), and lists of them. An accepted value
// holds ports in range and a host without ':', the ports and host of the spec, and written
// back as a string it re-parses to the same forward; a list is accepted exactly when each item is, as their concatenation;
// an error names the spec it rejects.
func FuzzPortForwards(f *testing.F) {
	for _, s := range []string{
		"8000", "8000:80", "localhost:8000:80", "0.0.0.0:3000:3000", "127.0.0.1:5432:5432", ":8080:80",
		"65535:1", "1", "0", "65536", "-1", "+80", "0080", "a:b", "8000:80:90:100", "[::1]:8000:80",
		"", " 80", "8000:", ":80", "::", "9999999999999999999", "web:http", "8000:80\n",
	} {
		f.Add(s, int64(8000), int64(80), uint8(0))
	}
	f.Add("8000:80", int64(0), int64(0), uint8(1))
	f.Add("host:1:2", int64(65536), int64(-5), uint8(2))
	f.Add("3000", int64(1)<<40, int64(3000), uint8(3))
	f.Fuzz(func(t *testing.T, spec string, n, m int64, shape uint8) {
		thread := &starlark.Thread{Name: "fuzz"}

		// The string form.
		pf, err := parsePortForwardString(spec)
		specOK := err == nil
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(spec)) {
				t.Fatalf("parse %q: error %q does not name the spec", spec, err)
			}
		} else {
			if !inPortRange(int64(pf.LocalPort)) || pf.ContainerPort != 0 && !inPortRange(int64(pf.ContainerPort)) || strings.Contains(pf.Host, ":") {
				t.Fatalf("parse %q: accepted %+v", spec, pf)
			}
			canon := formatPortForward(pf)
			if want := normalSpec(spec); canon != want {
				t.Fatalf("parse %q = %+v, written %q; want %q", spec, pf, canon, want)
			}
			again, err := parsePortForwardString(canon)
			if err != nil || again != pf {
				t.Fatalf("parse %q = %+v, but its form %q re-parses to %+v, %v", spec, pf, canon, again, err)
			}
			if pf.Host == "" && pf.ContainerPort == 0 {
				// "8000" and 8000 are the same forward.
				byInt, err := parsePortForwards(starlark.MakeInt(pf.LocalPort), 0)
				if err != nil || !reflect.DeepEqual(byInt, []plan.PortForward{pf}) {
					t.Fatalf("parse %q = %+v, but the port as a number gives %+v, %v", spec, pf, byInt, err)
				}
			}
		}
		if got, err := parsePortForwards(starlark.String(spec), 0); (err == nil) != specOK || specOK && !reflect.DeepEqual(got, []plan.PortForward{pf}) {
			t.Fatalf("port_forwards = %q: %+v, %v; the spec parses to %+v", spec, got, err, pf)
		}

		// A port number.
		want := []plan.PortForward{{LocalPort: int(n)}} // the container port is resolved against the pod
		got, err := parsePortForwards(starlark.MakeInt64(n), 0)
		if inPortRange(n) != (err == nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("port_forwards = %d: %+v, %v", n, got, err)
		}

		// port_forward(n, m): m = 0 leaves the container port to be resolved against the pod.
		pfv, err := starlark.Call(thread, starlark.NewBuiltin("port_forward", portForward),
			starlark.Tuple{starlark.MakeInt64(n)}, []starlark.Tuple{{starlark.String("container_port"), starlark.MakeInt64(m)}})
		builtinOK := inPortRange(n) && (m == 0 || inPortRange(m))
		if builtinOK != (err == nil) {
			t.Fatalf("port_forward(%d, container_port=%d): %v", n, m, err)
		}
		var fromBuiltin []plan.PortForward
		if err == nil {
			fromBuiltin, err = parsePortForwards(pfv, 0)
			wantC := m
			if err != nil || len(fromBuiltin) != 1 || int64(fromBuiltin[0].LocalPort) != n || int64(fromBuiltin[0].ContainerPort) != wantC {
				t.Fatalf("port_forward(%d, %d) reads back as %+v, %v", n, m, fromBuiltin, err)
			}
		}

		// Lists of them, nested as shape says: accepted when every item is, in order.
		items := []starlark.Value{starlark.String(spec), starlark.MakeInt64(n)}
		if pfv != nil {
			items = append(items, pfv)
		}
		var value starlark.Value
		switch shape % 4 {
		case 0:
			value = starlark.NewList(items)
		case 1:
			value = starlark.Tuple(items)
		case 2:
			value = starlark.NewList([]starlark.Value{starlark.NewList(items[:1]), starlark.Tuple(items[1:])})
		case 3:
			l := starlark.NewList(items)
			_ = l.Append(l) // a list that contains itself: an error, not a stack overflow
			value = l
		}
		listOK := specOK && inPortRange(n) && shape%4 != 3
		got, err = parsePortForwards(value, 0)
		if listOK != (err == nil) {
			t.Fatalf("port_forwards = %s: %+v, %v", value, got, err)
		}
		if err == nil {
			want := append(append([]plan.PortForward{pf}, plan.PortForward{LocalPort: int(n)}), fromBuiltin...)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("port_forwards = %s: %+v, want %+v", value, got, want)
			}
		}
	})
}
