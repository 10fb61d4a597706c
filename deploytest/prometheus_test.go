package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// promtool returns the path of promtool (Debian's prometheus package), or
// skips the test when it is missing, except under CI=true where a missing
// tool must not pass as a valid config.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed (apt-get install prometheus); CI must check the Prometheus files")
		}
		t.Skip("promtool is not installed (apt-get install prometheus): the Prometheus config and rules are not checked")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = filepath.Join(root, "deploy", "prometheus")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	t.Logf("promtool %v:\n%s", args, out)
}

// The scrape config, with the rule file it names (relative to it, as
// both are mounted side by side in the container).
func TestPrometheusConfig(t *testing.T) {
	runPromtool(t, "check", "config", "prometheus.yml")
}

func TestPrometheusRules(t *testing.T) {
	runPromtool(t, "check", "rules", "alerts.yml")
}

// The alerts fire on the situations they describe, and not on a healthy
// system (promtool's rule unit tests over synthetic series).
func TestPrometheusAlertsFire(t *testing.T) {
	runPromtool(t, "test", "rules", "alerts_test.yml")
}
