package dockerfile

import (
	"reflect"
	"testing"
)

// The syncs a Dockerfile implies follow Docker's COPY mapping, for the image's stage only.
func TestInferSyncs(t *testing.T) {
	src := `FROM golang AS build
COPY . /src
RUN go build -o /out/app ./cmd
FROM scratch AS final
WORKDIR /app
COPY --from=build /out/app /app/app
COPY src /app/src
COPY static/ /srv/www/
COPY config.yaml ./config.yaml
COPY a.txt b.txt /etc/app/
COPY *.md /docs/
ADD vendor.tar.gz /vendor
ADD assets /assets
COPY . /all
`
	info, copies, err := Parse([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{"src": true, "static": true, "assets": true, ".": true}
	got := InferSyncs(info, copies, "", func(p string) bool { return dirs[p] })
	want := []Sync{
		{"src", "/app/src"},
		{"static", "/srv/www"},
		{"config.yaml", "/app/config.yaml"},
		{"a.txt", "/etc/app/a.txt"},
		{"b.txt", "/etc/app/b.txt"},
		{"assets", "/assets"},
		{".", "/all"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("InferSyncs =\n%v\nwant\n%v", got, want)
	}
	// target= picks the stage: the build stage's COPY . /src.
	got = InferSyncs(info, copies, "build", func(p string) bool { return dirs[p] })
	if !reflect.DeepEqual(got, []Sync{{".", "/src"}}) {
		t.Errorf("target=build: %v", got)
	}
}
