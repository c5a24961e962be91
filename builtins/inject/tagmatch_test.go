package inject

import "testing"

// An image whose ref carries the tag wins over one matching every tag of the repository,
// whichever was declared first.
func TestMatchPrefersExactTag(t *testing.T) {
	inj, err := New([]Image{
		{Ref: "example/app", FullRef: "example/app:kiln-any"},
		{Ref: "example/app:latest", MatchTag: "latest", FullRef: "example/app:kiln-latest"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]int{
		"example/app:latest":           1,
		"docker.io/example/app:latest": 1,
		"example/app:stable":           0,
		"example/app":                  0,
		"example/other:latest":         -1,
	} {
		if got := inj.Match(ref); got != want {
			t.Errorf("Match(%q) = %d, want %d", ref, got, want)
		}
	}
}
