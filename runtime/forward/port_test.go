package forward

import "testing"

func TestContainerPortFor(t *testing.T) {
	for _, c := range []struct {
		local, container int
		declared         []int32
		want             int
	}{
		{8000, 9000, []int32{80}, 9000},
		{8080, 0, []int32{80, 8080}, 8080},
		{8000, 0, []int32{80, 8080}, 80},
		{8000, 0, nil, 8000},
	} {
		if got := ContainerPortFor(c.local, c.container, c.declared); got != c.want {
			t.Errorf("ContainerPortFor(%d, %d, %v) = %d, want %d", c.local, c.container, c.declared, got, c.want)
		}
	}
}
