package moderation

import (
	"bufio"
	"embed"
	"io/fs"
	"strings"
	"sync"
)

// profanityFiles is the default multilingual profanity list, one file per
// language; profanity/README.md says where it comes from and what it leaves
// out on purpose.
//
//go:embed profanity/*.txt
var profanityFiles embed.FS

// profanity is the compiled default list, built once on first use.
var profanity = sync.OnceValue(func() *matcher { return newMatcher(ProfanityList()) })

// ProfanityList returns every word and phrase of the default profanity list,
// in every language, as written in the files.
func ProfanityList() []string {
	var out []string
	files, _ := fs.Glob(profanityFiles, "profanity/*.txt")
	for _, name := range files {
		b, err := profanityFiles.ReadFile(name)
		if err != nil {
			panic("moderation: embedded profanity list unreadable: " + err.Error()) // cannot happen: embedded at build time
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			out = append(out, line)
		}
	}
	return out
}
