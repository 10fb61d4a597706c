package deploytest

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Dockerfile's build stage and runtime stage, read as text: no
// container engine runs here, so what can be checked is what the file
// says and that the build command it runs gives a static binary.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM %v", froms)
	}
	if final := froms[len(froms)-1][1]; !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final stage is %s; want distroless static or scratch", final)
	}
	for _, want := range []string{
		"CGO_ENABLED=0",
		"USER 65532:65532",
		`HEALTHCHECK`,
		`"healthcheck", "http://127.0.0.1:8080/healthz"`,
		`ENTRYPOINT ["/usr/local/bin/backchannel"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %s", want)
		}
	}
	if regexp.MustCompile(`(?m)^USER\s+(root|0)\b`).MatchString(df) {
		t.Error("the image runs as root")
	}
}

// The build the Dockerfile runs gives a static binary: no ELF interpreter
// and no shared libraries, so distroless/static (no libc) can run it.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	f, err := elf.Open(staticBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
}

// .dockerignore leaves out nothing the binary is built from: every
// package cmd/backchannel depends on in this module, with its embedded
// files, is in the build context.
func TestDockerignoreKeepsSources(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	list := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .EmbedFiles}} {{$.Dir}}/{{.}}{{end}}{{end}}{{end}}`, "./cmd/backchannel")
	list.Dir = root // the main module: deploytest is a module of its own
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(abs, path)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		for _, p := range patterns {
			if ignored(p, rel) {
				t.Errorf(".dockerignore pattern %q leaves out %s, which the binary is built from", p, rel)
			}
		}
	}
	for _, need := range []string{"go.mod", "go.sum"} {
		for _, p := range patterns {
			if ignored(p, need) {
				t.Errorf(".dockerignore leaves out %s", need)
			}
		}
	}
}

// ignored reports whether a .dockerignore pattern excludes rel or one of
// its parent directories (enough for the plain patterns the file uses).
func ignored(pattern, rel string) bool {
	pattern = strings.TrimPrefix(pattern, "/")
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		if ok, _ := filepath.Match(pattern, prefix); ok {
			return true
		}
		if sub, found := strings.CutPrefix(pattern, "**/"); found {
			if ok, _ := filepath.Match(sub, parts[i]); ok {
				return true
			}
		}
	}
	return false
}
