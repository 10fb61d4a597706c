package deploytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// buildStatic builds cmd/backchannel as the Dockerfile does (CGO_ENABLED=0),
// once per test binary run: the static-binary check and the metrics check
// use the same build.
var buildStatic = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "backchannel-deploytest-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "backchannel")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/backchannel")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

func staticBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildStatic()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
